"""DaVinci Resolve native OTIO: clip volume/pan keyframes as `Resolve_OTIO` effects (INTERCHANGE 1).

Volume is "Fairlight Clip Volume and Fades" (Type 62, dB, with faderIn/faderOut in frames), pan is
"Fairlight Clip Pan" (Type 72, -100..100, negative = left). `Key Frames` are keyed by the frame
counted from the clip's first frame on the timeline, at the timeline rate. The faderIn/faderOut
parameter objects reuse the volume parameter's shape; only their frame unit is measured.
"""

from __future__ import annotations

import opentimelineio as otio

from soundify_otio.exporters.keyframes import soundify_clips, value_at

VOLUME = "Fairlight Clip Volume and Fades"
PAN = "Fairlight Clip Pan"


def add_resolve_effects(timeline: otio.schema.Timeline) -> None:
    """Add Resolve volume/pan effects to every soundify clip; re-running replaces them."""
    _namespace(timeline.metadata).setdefault("Resolve OTIO Meta Version", "1.0")
    channels: dict[int, int] = {}
    for track, clip, meta in soundify_clips(timeline):
        count = int(meta["sound"]["channels"])
        channels[id(track)] = max(channels.get(id(track), 0), count)
        _namespace(clip.metadata).setdefault(
            "Channels", [{"Source Channel ID": c, "Source Track ID": 0} for c in range(min(count, 2))]
        )
        kept = [e for e in clip.effects if e.metadata.get("Resolve_OTIO", {}).get("Effect Name") not in (VOLUME, PAN)]
        rate = clip.source_range.duration.rate
        frames = round(clip.source_range.duration.value)
        keys = meta["keyframes"]
        volume = _parameter("volume", keys["gain_db"], rate, -100.0, 30.0)
        fades = [
            _static("faderIn", round(float(meta.get("fade_in", 0.0)) * rate), frames),
            _static("faderOut", round(float(meta.get("fade_out", 0.0)) * rate), frames),
        ]
        pan = _parameter("pan", [[t, v * 100.0] for t, v in keys["pan"]], rate, -100.0, 100.0)
        clip.effects[:] = kept + [_effect(VOLUME, "Volume", 62, [volume, *fades]), _effect(PAN, "Pan", 72, [pan])]
    for track in timeline.tracks:
        if track.kind == otio.schema.TrackKind.Audio:
            resolve = _namespace(track.metadata)
            resolve.setdefault("Audio Type", "Mono" if channels.get(id(track)) == 1 else "Stereo")
            resolve.setdefault("Locked", False)
            resolve.setdefault("SoloOn", False)


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
    key_frames = {}
    for t, value in curve:
        key_frames[str(round(float(t) * rate))] = {"Value": min(hi, max(lo, float(value))), "Variant Type": "Double"}
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
