"""What the pixel pass over a timeline yields: per scene its sampled frames and ranked candidates, the
shots skipped, and (after listening) the timeline's own sound. Analysed once; placed as often as the
choices change."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from soundify_otio.pipeline.dialogue import Dialogue
from soundify_otio.pipeline.frame_cache import ShotFrames
from soundify_otio.progress import Stopwatch
from soundify_otio.types import Scene, SkippedShot, SpeechRegion, Suggestion


@dataclass
class AnalysedScene:
    """A scene, its sampled frames and its ranked candidates."""

    scene: Scene
    frames: ShotFrames
    samples: np.ndarray
    """Indices into `frames` of the scene's sampled frames."""
    times: np.ndarray
    """Seconds from the scene's start of those frames."""
    effects: tuple[Suggestion, ...]
    ambients: tuple[Suggestion, ...]
    speech: tuple[SpeechRegion, ...] = ()
    """Where someone speaks in the scene (set by `Soundify.listen`)."""
    dialogue_lufs: float | None = None
    """The loudness of that speech (BS.1770), None without enough of it."""


@dataclass
class Analysis:
    """The result of the pixel pass over a timeline: scenes with candidates, shots skipped, and
    (after `Soundify.listen`) the timeline's own sound."""

    scenes: list[AnalysedScene]
    skipped: list[SkippedShot]
    stopwatch: Stopwatch = field(default_factory=Stopwatch)
    dialogue: Dialogue | None = None
