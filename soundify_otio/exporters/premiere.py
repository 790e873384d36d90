"""Adobe Premiere Pro native OTIO (25.6+): clip level/pan keyframes as `PremierePro_OTIO` effects.

Reverse-engineered only (docs/editors.md, Premiere): no Adobe documentation and no real Premiere export was
available, so the layout follows third-party exporters and is unverified against Premiere. Volume is
"Internal Volume Mono"/"Internal Volume Stereo" by the sound's channel count, `Level` =
10^((dB - 15)/20); pan is "PanProcessor" (`Pan` for mono, `Balance` for stereo), 0..1 with 0.5 =
centre (the 0..1 unit of mono `Pan` is assumed equal to `Balance`). Keyframe `Position` is a
RationalTime in source-media time: the clip's source in-point plus the offset.
"""

from __future__ import annotations

import opentimelineio as otio

from soundify_otio.timeline.keyframes import densify_db, keys_on_frames
from soundify_otio.timeline.metadata import is_generated, soundify_clips

MATCH_NAMES = ("Internal Volume Mono", "Internal Volume Stereo", "PanProcessor")


def level_value(db: float) -> float:
    """Premiere's internal Level for a gain in dB (0 dB = 0.17782794)."""
    return 10.0 ** ((db - 15.0) / 20.0)


def add_premiere_effects(timeline: otio.schema.Timeline) -> None:
    """Add Premiere volume/pan effects and a unique LinkID to every soundify clip; idempotent."""
    if "PremierePro_OTIO" not in timeline.metadata:
        timeline.metadata["PremierePro_OTIO"] = {"MetadataVersion": "1.0"}
    next_link = _first_free_link_id(timeline)
    for _track, clip, info in soundify_clips(timeline):
        stereo = info.stereo
        clip.metadata["PremierePro_OTIO"] = {
            "AudioChannels": {
                "ChannelType": "Stereo" if stereo else "Mono",
                "SecondaryAssignments": [{"SecondaryChannelIndex": c} for c in range(2 if stereo else 1)],
            },
            "LinkID": str(next_link),
            "OriginalChannelGroupIndex": 0,
            "SourceClipIndex": 0,
        }
        next_link += 1
        start = clip.source_range.start_time
        level = [(t, level_value(db)) for t, db in densify_db(info.gain_db)]
        pan = [(t, (v + 1.0) / 2.0) for t, v in info.pan]
        kept = [e for e in clip.effects if e.metadata.get("PremierePro_OTIO", {}).get("MatchName") not in MATCH_NAMES]
        volume = _effect(
            "Volume",
            "Internal Volume Stereo" if stereo else "Internal Volume Mono",
            True,
            [
                {"DisplayName": "Mute", "ID": 0, "Keyframes": []},
                {"DisplayName": "Level", "ID": 1, "Keyframes": _keyframes(level, start)},
            ],
        )
        panner = _effect(
            "Panner",
            "PanProcessor",
            False,
            [{"DisplayName": "Balance" if stereo else "Pan", "ID": 0, "Keyframes": _keyframes(pan, start)}],
        )
        clip.effects[:] = [*kept, volume, panner]


def _first_free_link_id(timeline: otio.schema.Timeline) -> int:
    """One more than the largest numeric LinkID of the input's own clips."""
    used = [0]
    for clip in timeline.find_clips():
        if not is_generated(clip):
            link = str(clip.metadata.get("PremierePro_OTIO", {}).get("LinkID", ""))
            if link.isdigit():
                used.append(int(link))
    return max(used) + 1


def _effect(effect_name: str, match_name: str, intrinsic: bool, parameters: list[dict]) -> otio.schema.Effect:
    """One Premiere clip effect."""
    return otio.schema.Effect(
        name="",
        effect_name=effect_name,
        metadata={"PremierePro_OTIO": {"IsIntrinsic": intrinsic, "MatchName": match_name, "Parameters": parameters}},
    )


def _keyframes(curve: list[tuple[float, float]], source_in: otio.opentime.RationalTime) -> list[dict]:
    """Keys at source in-point + offset, on whole frames of the source rate (keys_on_frames' rule)."""
    rate = source_in.rate
    return [
        {"Position": otio.opentime.RationalTime(round(source_in.value) + frame, rate), "Value": value}
        for frame, value in keys_on_frames(curve, rate)
    ]
