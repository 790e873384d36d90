"""The `metadata["soundify"]` contract of docs/metadata.md, read and written in one place.

Writers (writeback, media conforming) build the records here; exporters, render and the CLI read
them here. Our tracks and markers are also recognised by their names (`SFX n`, `AMB`, markers
`SFX: ... | AMB: ...`), because an editor may drop our metadata on a round trip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import opentimelineio as otio

from soundify_otio.errors import TimelineError

NAMESPACE = "soundify"
TRACK_NAME = re.compile(r"(SFX \d+|AMB)")
"""Names of the tracks a run adds (effects lanes, the ambient bed)."""
MARKER_NAME = re.compile(r"SFX: .* \| AMB: .*")
"""Names of the scene markers a run adds."""

Keys = list[list[float]]


@dataclass(frozen=True)
class SoundInfo:
    """The sound file a clip plays."""

    path: str
    sample_rate: int
    channels: int
    duration: float
    original: str | None = None
    """The library file this one was conformed from (None: the library file itself)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "duration": self.duration,
        }
        if self.original is not None:
            out["original"] = self.original
        return out


@dataclass(frozen=True)
class HitInfo:
    """`hit` of a fine-synced clip: the impact's timeline seconds (track time) and the sound's transient
    (seconds from the file's start); the transient is heard on the impact's frame."""

    onset: float
    transient: float

    def as_dict(self) -> dict[str, float]:
        return {"onset": self.onset, "transient": self.transient}


@dataclass(frozen=True)
class ClipInfo:
    """`clip.metadata["soundify"]` of a generated clip."""

    label: str
    kind: str
    score: float
    alternatives: list[list[Any]]
    scene: int
    scene_id: str
    model: str
    weights: str
    pipeline_check: bool
    sound: SoundInfo
    pan: Keys
    """[[t, pan]]: t seconds from the clip's first frame, pan -1 (left) .. 1."""
    gain_db: Keys
    fade_in: float
    fade_out: float
    hit: HitInfo | None = None
    """A fine-synced one-shot: where its visual impact is and where its own transient sits."""

    @property
    def stereo(self) -> bool:
        return self.sound.channels >= 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated": True,
            "label": self.label,
            "kind": self.kind,
            "score": self.score,
            "alternatives": self.alternatives,
            "scene": self.scene,
            "scene_id": self.scene_id,
            "model": self.model,
            "weights": self.weights,
            "pipeline_check": self.pipeline_check,
            "sound": self.sound.as_dict(),
            "keyframes": {"pan": self.pan, "gain_db": self.gain_db},
            "fade_in": self.fade_in,
            "fade_out": self.fade_out,
            **({"hit": self.hit.as_dict()} if self.hit else {}),
        }


def _record(item: otio.core.SerializableObject) -> Any:
    meta = item.metadata.get(NAMESPACE)
    return meta if hasattr(meta, "get") else None


def is_generated(item: otio.core.SerializableObject) -> bool:
    """True for the tracks, clips and markers whose metadata says a soundify run added them."""
    record = _record(item)
    return record is not None and bool(record.get("generated"))


def is_our_marker(marker: otio.schema.Marker) -> bool:
    """A scene marker of ours: by metadata, or by its name where an editor dropped the metadata."""
    return is_generated(marker) or MARKER_NAME.fullmatch(marker.name or "") is not None


def is_our_track(track: otio.schema.Track, timeline: otio.schema.Timeline | None = None) -> bool:
    """A track of ours: by metadata, or where an editor dropped it, by convention: an audio track named
    `SFX n` or `AMB` whose every clip is named after a label our scene markers picked or carries the
    format's own automation (REAPER take envelopes, FCP7 level filters, AAF clip gain); or an audio
    track whose every clip is named after a picked label (xmeml keeps clip names and markers, not
    track names). A user's own "AMB" track of dialog lines is kept."""
    if is_generated(track):
        return True
    if _record(track) is not None or track.kind != otio.schema.TrackKind.Audio or timeline is None:
        return False
    clips = [i for i in track if isinstance(i, (otio.schema.Clip, otio.schema.Stack))]  # AAF reads stereo as Stack
    labels = picked_labels(timeline)
    if TRACK_NAME.fullmatch(track_name(track)):
        if not clips:
            return _record(timeline) is not None or bool(labels)
        return all(c.name in labels or _carries_automation(c) for c in clips)
    return bool(clips) and bool(labels) and all(c.name in labels for c in clips)


def track_name(track: otio.schema.Track) -> str:
    """The track's name; for xmeml read by the stock adapter (which drops it), Premiere's MZ.TrackName."""
    fcp = track.metadata.get("fcp_xml")
    return track.name or (str(fcp.get("@MZ.TrackName", "")) if hasattr(fcp, "get") else "")


def all_markers(timeline: otio.schema.Timeline) -> list[otio.schema.Marker]:
    """The markers of the stack and of every item in it."""
    holders = [timeline.tracks, *timeline.tracks.find_children()]
    return [m for holder in holders for m in getattr(holder, "markers", [])]


def picked_labels(timeline: otio.schema.Timeline, kind: str | None = None) -> set[str]:
    """The labels our scene markers name as picks ("SFX: a, b | AMB: c"), wherever a reader put the
    markers (the stack; FCPXML readers attach them to the storyline clip under them); `kind`
    "effect" or "ambient" for one side only."""
    labels: set[str] = set()
    for marker in all_markers(timeline):
        if not is_our_marker(marker):
            continue
        effects, _, ambient = (marker.name or "").partition(" | AMB: ")
        if kind != "ambient":
            labels.update(e.strip() for e in effects.removeprefix("SFX: ").split(",") if e.strip() != "no effect")
        if kind != "effect" and ambient.strip() != "none":
            labels.add(ambient.strip())
    return labels


AAF_GAIN = "9d2ea894-0968-11d3-8a38-0050040ef7d2"
"""AAF's MonoAudioGain operation, as readers record it: a clip gain (automation) in an AAF."""
AAF_PAN = "9d2ea893-0968-11d3-8a38-0050040ef7d2"
"""AAF's MonoAudioPan operation: a clip pan (automation) in an AAF."""


def _carries_automation(clip: otio.core.Item) -> bool:
    """Whether a clip read from an editor's file carries gain automation in that format's own form."""
    record = _record(clip)
    if record is not None and record.get("keyframes"):
        return True
    for effect in clip.effects:
        fcp = effect.metadata.get("fcp_xml")
        aaf = effect.metadata.get("AAF")
        if hasattr(fcp, "get") and fcp.get("effectid") == "audiolevels":
            return True
        if hasattr(aaf, "get") and str(aaf.get("Operation", {}).get("Identification", "")) == AAF_GAIN:
            return True
    return False


def track_role(track: otio.schema.Track) -> str | None:
    """ "effects" or "ambient" for our tracks (by metadata, else by name), None otherwise."""
    record = _record(track)
    if record is not None and record.get("role"):
        return str(record["role"])
    name = track_name(track)
    return "ambient" if name == "AMB" else "effects" if TRACK_NAME.fullmatch(name) else None


def mark_track(track: otio.schema.Track, role: str) -> None:
    track.metadata[NAMESPACE] = {"generated": True, "role": role}


def mark_marker(marker: otio.schema.Marker, record: dict[str, Any]) -> None:
    marker.metadata[NAMESPACE] = {"generated": True, **record}


def clip_info(clip: otio.schema.Clip) -> ClipInfo | None:
    """The clip's record, None when it is not a generated clip; TimelineError when malformed."""
    record = _record(clip)
    if record is None or not record.get("generated"):
        return None
    try:
        sound = record["sound"]
        keys = record["keyframes"]
        return ClipInfo(
            label=str(record.get("label", clip.name)),
            kind=str(record.get("kind", "effect")),
            score=float(record.get("score", 0.0)),
            alternatives=[list(a) for a in record.get("alternatives", [])],
            scene=int(record.get("scene", 0)),
            scene_id=str(record.get("scene_id", "")),
            model=str(record.get("model", "")),
            weights=str(record.get("weights", "")),
            pipeline_check=bool(record.get("pipeline_check", False)),
            sound=SoundInfo(
                path=str(sound["path"]),
                sample_rate=int(sound["sample_rate"]),
                channels=int(sound["channels"]),
                duration=float(sound["duration"]),
                original=str(sound["original"]) if sound.get("original") else None,
            ),
            pan=_keys(keys["pan"]),
            gain_db=_keys(keys["gain_db"]),
            fade_in=_fade(record, "fade_in"),
            fade_out=_fade(record, "fade_out"),
            hit=HitInfo(float(record["hit"]["onset"]), float(record["hit"]["transient"])) if "hit" in record else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TimelineError(f"clip {clip.name!r}: malformed soundify metadata ({exc})") from exc


def _keys(raw: Any) -> Keys:
    keys = [[float(t), float(v)] for t, v in raw]
    if not keys:
        raise ValueError("no keyframes")
    return keys


def _fade(record: Any, key: str) -> float:
    """A fade length: a finite number of seconds, 0 or more (ValueError otherwise)."""
    value = float(record.get(key, 0.0) or 0.0)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be a finite number of seconds, 0 or more")
    return value


@dataclass(frozen=True)
class FormatAutomation:
    """Keyframes and fades a reader found in a format's own encoding (REAPER envelopes, FCPXML's
    adjust-volume/-panner), kept under the namespace without "generated": `timeline.recover` decides
    whose clips they are. Times are seconds from the clip's first frame."""

    gain_db: Keys = field(default_factory=list)
    pan: Keys = field(default_factory=list)
    fade_in: float | None = None
    fade_out: float | None = None


def format_automation(clip: otio.schema.Clip) -> FormatAutomation:
    """What a reader left on the clip (empty where it left nothing usable): read leniently, since an
    editor's file, not a run of ours, wrote it."""
    record = _record(clip)
    if record is None:
        return FormatAutomation()
    keys = record.get("keyframes")
    keys = keys if hasattr(keys, "get") else {}
    return FormatAutomation(
        gain_db=_lenient_keys(keys.get("gain_db")),
        pan=_lenient_keys(keys.get("pan")),
        fade_in=_lenient_seconds(record.get("fade_in")),
        fade_out=_lenient_seconds(record.get("fade_out")),
    )


def set_format_automation(clip: otio.schema.Clip, automation: FormatAutomation) -> None:
    """A reader's record of the clip's automation (nothing is written where it found none)."""
    keyframes = {name: keys for name, keys in (("gain_db", automation.gain_db), ("pan", automation.pan)) if keys}
    fades = {name: v for name, v in (("fade_in", automation.fade_in), ("fade_out", automation.fade_out)) if v}
    if keyframes or fades:
        clip.metadata[NAMESPACE] = {"keyframes": keyframes, **fades}


def _lenient_keys(raw: Any) -> Keys:
    try:
        keys = [[float(t), float(v)] for t, v in raw] if raw else []
    except (TypeError, ValueError):
        return []
    return keys if all(math.isfinite(t) and math.isfinite(v) for t, v in keys) else []


def _lenient_seconds(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def set_clip_info(clip: otio.schema.Clip, info: ClipInfo) -> None:
    clip.metadata[NAMESPACE] = info.as_dict()


def set_clip_sound(clip: otio.schema.Clip, sound: SoundInfo) -> None:
    """Point the record at another file holding the same sound (a conformed copy): its `sound` entry
    alone is replaced (re-writing the whole record costs a clip's every key again)."""
    if clip_info(clip) is not None:
        clip.metadata[NAMESPACE]["sound"] = sound.as_dict()


def soundify_clips(timeline: otio.schema.Timeline) -> Iterator[tuple[otio.schema.Track, otio.schema.Clip, ClipInfo]]:
    """(track, clip, record) for every generated clip directly on a top-level track, in track order."""
    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.schema.Clip):
                info = clip_info(item)
                if info is not None:
                    yield track, item, info
