"""Scenes inside a shot: cuts at peaks of the grey-histogram distance between neighbouring frames, and
the scenes (with stable ids and their sampled frames) those cuts make.

The timeline's own edit points are boundaries already (each visible clip stretch is a shot); this
finds the cuts inside a clip, such as a flattened export. Each frame's histogram arrives as it is
decoded (the decoder reads it from the luma plane, vision.planes); the detector keeps one histogram
per frame (bins floats), never the frames.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.signal import find_peaks

from soundify_otio.types import Scene, Shot


class HistogramDetector:
    """Streaming detector: push the histograms of consecutive frames, then read the frame offsets where
    scenes start."""

    def __init__(self, threshold: float, bins: int, min_scene_frames: int) -> None:
        self.threshold = threshold
        self.bins = bins
        self.min_scene_frames = max(1, min_scene_frames)
        self._previous: np.ndarray | None = None
        self._distances: list[np.ndarray] = []

    def push(self, hists: np.ndarray) -> None:
        """Add the normalised grey histograms [n, bins] of the next consecutive frames."""
        if not len(hists):
            return
        if self._previous is not None:
            hists_with_previous = np.concatenate([self._previous[None], hists])
        else:
            hists_with_previous = np.concatenate([hists[:1], hists])
        self._distances.append(np.abs(np.diff(hists_with_previous, axis=0)).sum(axis=1))
        self._previous = hists[-1]

    @property
    def distances(self) -> np.ndarray:
        """Per frame: summed absolute histogram difference to the previous frame (0 for the first)."""
        return np.concatenate(self._distances) if self._distances else np.zeros(0)

    def cuts(self) -> list[int]:
        """Frame offsets (from the first pushed frame) where a new scene starts."""
        return cuts_from_distances(self.distances, self.threshold, self.min_scene_frames)


def cuts_from_distances(distances: np.ndarray, threshold: float, min_scene_frames: int) -> list[int]:
    """Peaks of the distance curve above the threshold, at least min_scene_frames apart and from the
    first frame (as PySceneDetect's min_scene_len); a cut just before the end is kept."""
    if distances.size < 2:
        return []
    padded = np.concatenate([[0.0], distances, [0.0]])  # lets a cut on the first or last frame count as a peak
    peaks, _ = find_peaks(padded, height=threshold, distance=max(1, min_scene_frames))
    peaks -= 1
    return [int(p) for p in peaks if p >= min_scene_frames]


def split_shot(
    shot: Shot,
    distances: np.ndarray,
    fps: float,
    sample_times: np.ndarray,
    threshold: float,
    min_scene_frames: int,
    first_index: int,
    taken_ids: set[str],
) -> list[tuple[Scene, np.ndarray, float]]:
    """The shot cut at the peaks of its frames' histogram distances into scenes: each with the indices
    of its sampled frames (`sample_times`, seconds from the shot's start) and its offset in seconds from
    the shot's start. Ids name the media range; a range the edit uses again gets '#2', '#3'... (and is
    added to `taken_ids`)."""
    cuts = cuts_from_distances(distances, threshold, min_scene_frames)
    bounds = [0.0] + [c / fps for c in cuts] + [shot.duration]
    scenes: list[tuple[Scene, np.ndarray, float]] = []
    for a, b in itertools.pairwise(bounds):
        samples = np.flatnonzero((sample_times >= a - 1e-6) & (sample_times < b - 1e-6))
        if samples.size == 0:  # a scene shorter than the sampling step: use its nearest frame
            samples = np.array([int(np.argmin(np.abs(sample_times - a)))])
        media_a, media_b = shot.media_start + a, shot.media_start + b
        scene_id = base_id = f"{shot.media_path.name}@{media_a:.3f}-{media_b:.3f}"
        repeat = 1
        while scene_id in taken_ids:
            repeat += 1
            scene_id = f"{base_id}#{repeat}"
        taken_ids.add(scene_id)
        scene = Scene(
            index=first_index + len(scenes),
            id=scene_id,
            shot_index=shot.index,
            start=shot.timeline_start + a,
            end=shot.timeline_start + b,
            media_path=shot.media_path,
            media_start=media_a,
        )
        scenes.append((scene, samples, a))
    return scenes
