"""DaVinci Resolve native OTIO: clip volume/pan keyframes as `Resolve_OTIO` effects (docs/editors.md, Resolve).

Volume is "Fairlight Clip Volume and Fades" (Type 62, dB, with faderIn/faderOut in frames), pan is
"Fairlight Clip Pan" (Type 72, -100..100, negative = left). `Key Frames` are keyed by the frame
counted from the clip's first frame on the timeline, at the timeline rate. The faderIn/faderOut
parameter objects reuse the volume parameter's shape; only their frame unit is measured.
"""

from __future__ import annotations

import opentimelineio as otio

from soundify_otio.timeline.keyframes import keys_on_frames, value_at
from soundify_otio.timeline.metadata import ClipInfo, clip_info, is_generated

VOLUME = "Fairlight Clip Volume and Fades"
PAN = "Fairlight Clip Pan"


def add_resolve_effects(timeline: otio.schema.Timeline) -> None:
    """Add Resolve volume/pan effects to every soundify clip and Resolve's track keys to every soundify
    track (the input's own tracks are left as they are); re-running replaces them."""
    _namespace(timeline.metadata).setdefault("Resolve OTIO Meta Version", "1.0")
    for track in timeline.tracks:
        if not is_generated(track):
            continue
        widest = 0
        for clip in track.find_clips(shallow_search=True):
            info = clip_info(clip)
            if info is None:
                continue
            channels = min(info.sound.channels, 2)
            widest = max(widest, channels)
            _namespace(clip.metadata)["Channels"] = [
                {"Source Channel ID": c, "Source Track ID": 0} for c in range(channels)
            ]
            _add_effects(clip, info)
        resolve = _namespace(track.metadata)
        resolve["Audio Type"] = "Stereo" if widest >= 2 else "Mono"
        resolve.setdefault("Locked", False)
        resolve.setdefault("SoloOn", False)


def _add_effects(clip: otio.schema.Clip, info: ClipInfo) -> None:
    kept = [e for e in clip.effects if e.metadata.get("Resolve_OTIO", {}).get("Effect Name") not in (VOLUME, PAN)]
    rate = clip.source_range.duration.rate
    frames = round(clip.source_range.duration.value)
    volume = _parameter("volume", info.gain_db, rate, -100.0, 30.0)
    fades = [
        _static("faderIn", round(info.fade_in * rate), frames),
        _static("faderOut", round(info.fade_out * rate), frames),
    ]
    pan = _parameter("pan", [[t, v * 100.0] for t, v in info.pan], rate, -100.0, 100.0)
    clip.effects[:] = [*kept, _effect(VOLUME, "Volume", 62, [volume, *fades]), _effect(PAN, "Pan", 72, [pan])]


def _namespace(metadata: otio.core.AnyDictionary) -> otio.core.AnyDictionary:
    """The live `Resolve_OTIO` dict of a metadata mapping, created when absent."""
    if "Resolve_OTIO" not in metadata:
        metadata["Resolve_OTIO"] = {}
    return metadata["Resolve_OTIO"]


def _effect(effect_name: str, name: str, type_id: int, parameters: list[dict]) -> otio.schema.Effect:
    """One Resolve clip effect."""
    return otio.schema.Effect(
        name="",
        effect_name="Resolve Effect",
        metadata={
            "Resolve_OTIO": {
                "Effect Name": effect_name,
                "Name": name,
                "Type": type_id,
                "Enabled": True,
                "Parameters": parameters,
            }
        },
    )


def _parameter(param_id: str, curve: list[list[float]], rate: float, lo: float, hi: float) -> dict:
    """A keyframed Double parameter; keys at frames from the clip's first timeline frame."""
    key_frames = {
        str(frame): {"Value": min(hi, max(lo, value)), "Variant Type": "Double"}
        for frame, value in keys_on_frames(curve, rate)
    }
    return {
        "Parameter ID": param_id,
        "Parameter Value": min(hi, max(lo, value_at(curve, 0.0))),
        "Default Parameter Value": 0.0,
        "Variant Type": "Double",
        "minValue": lo,
        "maxValue": hi,
        "Key Frames": key_frames,
    }


def _static(param_id: str, value: int, frames: int) -> dict:
    """A static Double parameter (fade length in frames)."""
    return {
        "Parameter ID": param_id,
        "Parameter Value": float(value),
        "Default Parameter Value": 0.0,
        "Variant Type": "Double",
        "minValue": 0.0,
        "maxValue": float(frames),
    }
