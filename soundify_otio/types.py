"""The small frozen records that flow between the stages (the paper's Figure 3, as data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["effect", "ambient"]
Curve = tuple[tuple[float, float], ...]
"""Keyframes as ((t, value), ...), t in seconds, sorted, linear between keys."""


@dataclass(frozen=True)
class Shot:
    """A stretch of one video clip that is visible on the timeline."""

    index: int
    clip_name: str
    media_path: Path
    media_start: float
    """Seconds into the media file of the shot's first frame."""
    timeline_start: float
    """Seconds in track time (0 = the stack's first frame) where the shot starts."""
    duration: float
    track_index: int = 0


@dataclass(frozen=True)
class SkippedShot:
    """A shot that could not be analysed, and why."""

    clip_name: str
    media: str
    reason: str


@dataclass(frozen=True)
class Scene:
    """A stretch of the timeline showing one continuous shot of the action."""

    index: int
    id: str
    """Stable id: media file name + media time range, so edits elsewhere keep it."""
    shot_index: int
    start: float
    """Timeline seconds (track time)."""
    end: float
    media_path: Path
    media_start: float


@dataclass(frozen=True)
class SoundEntry:
    """One sound file of the library, with what the matcher needs to know of it."""

    path: Path
    label: str
    kind: Kind
    text: str
    """The text CLIP encodes for this sound (label plus category and tag words)."""
    sample_rate: int
    channels: int
    duration: float
    loudness_lufs: float | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    one_shot: bool = False
    """One hit that rings out (a slam, a step, a knock): fine sync puts it on the frames of contact."""
    transient: float | None = None
    """Seconds from the file's start where its hit peaks (what lands on the contact frame)."""
    speech: float = 0.0
    """Share (0..1) of the file in which someone speaks (Silero VAD, when the library was indexed)."""


@dataclass(frozen=True)
class Suggestion:
    """One ranked candidate label for a scene."""

    label: str
    kind: Kind
    score: float


@dataclass(frozen=True)
class Interval:
    """Timeline seconds during which a sound's source is on screen."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeechRegion:
    """Timeline seconds during which someone speaks, and the detector's mean confidence (0..1)."""

    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Placement:
    """One sound put on the timeline: where, which part of the file, and its automation."""

    label: str
    kind: Kind
    sound: SoundEntry
    scene_index: int
    scene_id: str
    start: float
    """Timeline seconds (track time)."""
    end: float
    score: float
    alternatives: tuple[Suggestion, ...]
    pan: Curve
    """Keyframes with t in seconds from the placement's start, pan in -1..1 (-1 = left)."""
    gain_db: Curve
    fade_in: float = 0.5
    fade_out: float = 0.5
    source_start: float = 0.0
    """Seconds into the sound file heard at `start` (a hit whose head is trimmed to fit the scene)."""
    onset: float | None = None
    """A hit (fine sync): timeline seconds of the visual impact its transient lands on; None for a span."""
    once: bool = False
    """A one-shot placed once where no impact was found: one clip, never repeated to fill its span."""


@dataclass(frozen=True)
class Choice:
    """The editor's picks for one scene: any number of effects, one ambient or none."""

    effects: tuple[str, ...]
    ambient: str | None
    loops: frozenset[str] = frozenset()
    """One-shot labels the editor asked to loop over their interval when no impact is found (else placed once)."""
    duck: bool = True
    """False: this scene's sounds do not dip under its dialogue."""
    duck_ambient_db: float | None = None
    """This scene's bed dip under speech (dB); None: the configuration's."""
    duck_effect_db: float | None = None
    """This scene's effect dip under speech (dB); None: the configuration's."""


@dataclass(frozen=True)
class SceneResult:
    """What the classifier proposed for a scene and what was picked."""

    scene: Scene
    effects: tuple[Suggestion, ...]
    ambients: tuple[Suggestion, ...]
    picked_effects: tuple[str, ...]
    picked_ambient: str | None
    intervals: dict[str, tuple[Interval, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """What fine sync could not do as usual, one line each ("red ball bounce: no impact found: placed once")."""
    loops: frozenset[str] = frozenset()
    """Picked one-shot labels the editor asked to loop where no impact is found (Choice.loops)."""
    speech: tuple[SpeechRegion, ...] = ()
    """Where someone speaks in the scene (the timeline's own sound)."""
    ducking: dict[str, float] = field(default_factory=dict)
    """The dip (dB) each kind of sound got under that speech; empty when nothing was ducked."""
    duck_depths: dict[str, float] = field(default_factory=dict)
    """The dip (dB) set per kind for the scene's speech (the editor's or the configuration's), applied or
    not; empty without speech or where ducking is off for the run."""
    duck: bool = True
    """False: the editor switched this scene's ducking off (Choice.duck)."""
    dialogue_lufs: float | None = None
    """The speech's integrated loudness (BS.1770), which the bed's level follows; None without speech."""


@dataclass(frozen=True)
class Annotation:
    """Everything a run found: scenes with their picks, placements, skipped shots."""

    scenes: tuple[SceneResult, ...]
    placements: tuple[Placement, ...]
    skipped_shots: tuple[SkippedShot, ...]
    model: str
    weights: str
    pipeline_check: bool
    timings: dict[str, float] = field(default_factory=dict)
    image_tower: dict[str, Any] = field(default_factory=dict)
    """What ran the image tower: runtime, precision, and for int8 its measured agreement with fp32."""
