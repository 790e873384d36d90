"""Fine sync: a one-shot effect as one clip per visual impact, its hit on the impact's frame.

For each interval where the source is visible: Grad-CAM maps of the source at sampled frames
inside it, MAPS_PER_SECOND of them (from the cached activations), the frame cache's thumbnails of every frame, and
`stages.onsets` finds the impacts. Each becomes a placement that starts `transient` seconds
before the impact (the sound's own hit lands on the frame, not its first sample), its pan and
gain from the map interpolated at that frame, taking turns among the label's one-shot files.
An interval with no impact is returned for the usual spanning placement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from soundify_otio.config import Config
from soundify_otio.library.sounds import loudness_offset_db
from soundify_otio.pipeline.frame_cache import gather_rows
from soundify_otio.stages import mix, onsets
from soundify_otio.types import Interval, Placement, SoundEntry

if TYPE_CHECKING:
    from soundify_otio.pipeline.soundify import AnalysedScene

MARGIN_SECONDS = 0.25
"""Frames this far beyond a visible interval's sampled ends are searched too."""
MAPS_PER_SECOND = 2.0
"""Grad-CAM maps per second of a searched span (at most: every sampled frame at the default 2 fps). One a
second, as the mix's keys, found 91 % of the synthetic contacts within a frame against 98 % with two."""
REGION_REACH_SECONDS = 1.0
"""A frame's region is where the source's maps lit within this of it (see onsets.region_weights)."""
HIT_FADE_SECONDS = 0.05
"""Fade at the tail of a hit cut short by the next one."""


class CamModel(Protocol):
    """What fine sync needs of the model: Grad-CAM maps from cached activations."""

    def gradcam(self, activations: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray: ...


def wanted(config: Config, variations: tuple[SoundEntry, ...]) -> bool:
    """Whether a label is placed as hits: fine sync on and the label has one-shot files."""
    return config.fine_sync == "auto" and bool(variations)


def place_hits(
    analysed: AnalysedScene,
    label: str,
    intervals: tuple[Interval, ...],
    text: np.ndarray,
    model: CamModel,
    variations: tuple[SoundEntry, ...],
    config: Config,
) -> tuple[list[Placement], tuple[Interval, ...]]:
    """Hits for the impacts inside `intervals`, and the intervals where none was found."""
    frames, scene = analysed.frames, analysed.scene
    fps = frames.fps
    offset = float(frames.sample_times[analysed.samples[0]] - analysed.times[0])  # scene start, shot seconds
    scene_first = round(offset * fps)
    scene_stop = min(len(frames.thumbnails), scene_first + round((scene.end - scene.start) * fps))
    margin = MARGIN_SECONDS + 1.0 / config.sample_fps
    sample_frames = np.round(frames.sample_times[analysed.samples] * fps).astype(int)
    onset_times: list[tuple[float, float, float]] = []  # (timeline seconds, pan, gain dB)
    fallback: list[Interval] = []
    for first, stop, members in _spans(intervals, scene.start - offset, margin, fps, scene_first, scene_stop):
        inside = np.flatnonzero((sample_frames >= first) & (sample_frames < stop))
        every = max(1, round(config.sample_fps / MAPS_PER_SECOND))
        inside = np.unique(np.concatenate([inside[::every], inside[-1:]]))
        found: list[tuple[float, float, float]] = []
        if stop - first >= 4 and inside.size:
            cams = model.gradcam(
                gather_rows(frames.activations, analysed.samples[inside]), np.repeat(text[None], inside.size, axis=0)
            )
            cam_frames = (sample_frames[inside] - first).astype(float)
            reach = REGION_REACH_SECONDS * fps
            region = onsets.region_weights(cams, cam_frames, stop - first, reach, frames.thumbnails.shape[1])
            luma = np.asarray(frames.thumbnails[first:stop, ..., 0])  # the Y of the Y'CbCr thumbnails
            for onset in onsets.detect_onsets(luma, region, fps):
                cam = onsets.interpolate_maps(cams, cam_frames, np.array([float(onset.frame)]))[0]
                pan, gain = mix.pan_and_gain(
                    cam, config.cam_area_threshold, config.gain_max_db, config.gain_floor_db, config.gain_slope_db
                )
                found.append((scene.start + (first + onset.frame) / fps - offset, pan, gain))
        onset_times.extend(found)
        if not found:
            fallback.extend(members)
    return _hits(analysed, label, sorted(onset_times), variations, config.reference_lufs), tuple(fallback)


def _spans(
    intervals: tuple[Interval, ...], shot_origin: float, margin: float, fps: float, lowest: int, highest: int
) -> list[tuple[int, int, list[Interval]]]:
    """Shot frame ranges [first, stop) searched for impacts: each interval widened by `margin` (sync
    knows visibility only at its sampled frames, and an impact often ends or begins a visible stretch),
    overlapping ones merged, with the intervals each holds."""
    spans: list[tuple[int, int, list[Interval]]] = []
    for interval in intervals:
        first = max(lowest, round((interval.start - shot_origin - margin) * fps))
        stop = min(highest, round((interval.end - shot_origin + margin) * fps))
        if spans and first <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(stop, spans[-1][1]), [*spans[-1][2], interval])
        else:
            spans.append((first, stop, [interval]))
    return spans


def _hits(
    analysed: AnalysedScene,
    label: str,
    found: list[tuple[float, float, float]],
    variations: tuple[SoundEntry, ...],
    reference_lufs: float,
) -> list[Placement]:
    """One placement per impact, the sound's transient on it, cut where the next hit of the label starts."""
    scene = analysed.scene
    score = next((s.score for s in analysed.effects if s.label == label), 0.0)
    sounds = [variations[(scene.index + k) % len(variations)] for k in range(len(found))]
    starts = [
        max(scene.start, onset - (sound.transient or 0.0)) for (onset, _, _), sound in zip(found, sounds, strict=True)
    ]
    hits = []
    for k, ((onset, pan, gain), sound, start) in enumerate(zip(found, sounds, starts, strict=True)):
        head = start - (onset - (sound.transient or 0.0))  # trimmed off a hit that would start before the scene
        end = start + sound.duration - head
        cut = k + 1 < len(starts) and starts[k + 1] < end
        end = starts[k + 1] if cut else end
        length = round(end - start, 6)
        level = gain + loudness_offset_db(sound, reference_lufs)
        hits.append(
            Placement(
                label=label,
                kind="effect",
                sound=sound,
                scene_index=scene.index,
                scene_id=scene.id,
                start=start,
                end=end,
                score=score,
                alternatives=analysed.effects,
                pan=((0.0, pan), (length, pan)),
                gain_db=((0.0, level), (length, level)),
                fade_in=0.0,
                fade_out=min(HIT_FADE_SECONDS, length / 4) if cut else 0.0,
                source_start=round(head, 6),
                onset=round(onset, 6),
            )
        )
    return hits
