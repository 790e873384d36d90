"""Fine sync: a one-shot effect as one clip per visual impact, its hit on the impact's frame.

For each interval where the source is visible: Grad-CAM maps of the source at sampled frames
inside it, MAPS_PER_SECOND of them (from the cached activations), the frame cache's thumbnails of every frame, and
`stages.impacts` finds the impacts. Each becomes a placement that starts `transient` seconds
before the impact (the sound's own hit lands on the frame, not its first sample), its pan and
gain from the map interpolated at that frame, taking turns among the label's one-shot files.
Where the maps have no clear peak, impacts are looked for in the span's dominant moving region.
An interval with no impact gets the one-shot once, at its start (never repeated to fill it), unless the
editor asked to loop that label: then it is returned for the usual spanning placement.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from soundify_otio.config import Config
from soundify_otio.library.sounds import loudness_offset_db
from soundify_otio.pipeline.analysis import AnalysedScene
from soundify_otio.pipeline.frame_cache import gather_rows
from soundify_otio.stages import impacts, mix
from soundify_otio.types import Interval, Placement, SoundEntry

MARGIN_SECONDS = 0.25
"""Frames this far beyond a visible interval's sampled ends are searched too."""
MAPS_PER_SECOND = 2.0
"""Grad-CAM maps per second of a searched span (at most: every sampled frame at the default 2 fps). One a
second, as the mix's keys, found 91 % of the synthetic contacts within a frame against 98 % with two."""
REGION_REACH_SECONDS = 1.0
"""A frame's region is where the source's maps lit within this of it (see impacts.region_weights)."""
HIT_FADE_SECONDS = 0.05
"""Fade at the tail of a hit cut short by the next one."""
NO_IMPACT = "no impact found: placed once"
"""Note on a scene where a one-shot label's interval had no impact (report, review page, marker, record)."""
FLAT_MAP = "the source's region is unclear (flat Grad-CAM map): impacts looked for where the frame moves most"
"""Note on a scene where a label's maps had no clear peak."""


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
    loop: bool = False,
) -> tuple[list[Placement], tuple[Interval, ...], tuple[str, ...]]:
    """Hits for the impacts inside `intervals`; the intervals where none was found and `loop` asks for
    the spanning placement (else the one-shot placed once at each such interval's start); and notes on
    what was not done as usual (NO_IMPACT, FLAT_MAP)."""
    frames, scene = analysed.frames, analysed.scene
    fps = frames.fps
    offset = float(frames.sample_times[analysed.samples[0]] - analysed.times[0])  # scene start, shot seconds
    scene_first = round(offset * fps)
    scene_stop = min(len(frames.thumbnails), scene_first + round((scene.end - scene.start) * fps))
    margin = MARGIN_SECONDS + 1.0 / config.sample_fps
    sample_frames = np.round(frames.sample_times[analysed.samples] * fps).astype(int)
    impact_times: list[tuple[float, float, float]] = []  # (timeline seconds, pan, gain dB)
    fallback: list[Interval] = []
    once: list[tuple[float, float, float]] = []  # an interval with no impact: (its start, pan, gain dB)
    notes: list[str] = []
    for first, stop, members in _spans(intervals, scene.start - offset, margin, fps, scene_first, scene_stop):
        inside = np.flatnonzero((sample_frames >= first) & (sample_frames < stop))
        every = max(1, round(config.sample_fps / MAPS_PER_SECOND))
        inside = np.unique(np.concatenate([inside[::every], inside[-1:]]))
        found: list[tuple[float, float, float]] = []
        cams = np.zeros((0, 1, 1), np.float32)
        thumbnails = np.asarray(frames.thumbnails[first:stop])
        searched = stop - first >= 4 and inside.size > 0 and impacts.moves(thumbnails)
        if not searched:  # nothing to find: one map, for where the sound placed once sits
            inside = inside[:1]
        if inside.size:
            cams = model.gradcam(
                gather_rows(frames.activations, analysed.samples[inside]), np.repeat(text[None], inside.size, axis=0)
            )
        if searched:
            cam_frames = (sample_frames[inside] - first).astype(float)
            reach = REGION_REACH_SECONDS * fps
            if impacts.is_flat(cams):
                region = impacts.moving_region(thumbnails)
                notes.append(f"{label}: {FLAT_MAP}")
            else:
                region = impacts.region_weights(cams, cam_frames, stop - first, reach, thumbnails.shape[1])
            for impact in impacts.detect_impacts(thumbnails, region, fps):
                cam = impacts.interpolate_maps(cams, cam_frames, np.array([float(impact.frame)]))[0]
                pan, gain = mix.pan_and_gain(
                    cam, config.cam_area_threshold, config.gain_max_db, config.gain_floor_db, config.gain_slope_db
                )
                found.append((scene.start + (first + impact.frame) / fps - offset, pan, gain))
        impact_times.extend(found)
        if found:
            continue
        if loop:
            fallback.extend(members)
            continue
        pan, gain = (
            mix.pan_and_gain(
                cams[0], config.cam_area_threshold, config.gain_max_db, config.gain_floor_db, config.gain_slope_db
            )
            if len(cams)
            else (0.0, 0.0)
        )
        once.extend((member.start, pan, gain) for member in members)
    if once:
        notes.append(f"{label}: {NO_IMPACT}")
    hits = _hits(analysed, label, sorted(impact_times), variations, config.reference_lufs)
    placed_once = _placed_once(analysed, label, once, variations, config.reference_lufs)
    return hits + placed_once, tuple(fallback), tuple(dict.fromkeys(notes))


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


def _placed_once(
    analysed: AnalysedScene,
    label: str,
    starts: list[tuple[float, float, float]],
    variations: tuple[SoundEntry, ...],
    reference_lufs: float,
) -> list[Placement]:
    """The one-shot once from each of `starts` (timeline seconds, pan, gain dB), whole or cut at the next
    one or the scene's end: a single clip, never repeated to fill its interval."""
    scene = analysed.scene
    score = next((s.score for s in analysed.effects if s.label == label), 0.0)
    placements = []
    for k, (start, pan, gain) in enumerate(sorted(starts)):
        sound = variations[(scene.index + k) % len(variations)]
        end = min(start + sound.duration, scene.end, *(s for s, _, _ in starts if s > start))
        level = gain + loudness_offset_db(sound, reference_lufs)
        cut = end < start + sound.duration
        placements.append(_clip(analysed, label, score, sound, start, end, pan, level, cut, once=True))
    return placements


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
        level = gain + loudness_offset_db(sound, reference_lufs)
        extra = {"source_start": round(head, 6), "onset": round(onset, 6)}
        hits.append(_clip(analysed, label, score, sound, start, end, pan, level, cut, **extra))
    return hits


def _clip(
    analysed: AnalysedScene,
    label: str,
    score: float,
    sound: SoundEntry,
    start: float,
    end: float,
    pan: float,
    level_db: float,
    cut: bool,
    **extra: Any,
) -> Placement:
    """One one-shot clip from `start` to `end` at a flat pan and level, faded out only where it is `cut`."""
    scene = analysed.scene
    length = round(end - start, 6)
    return Placement(
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
        gain_db=((0.0, level_db), (length, level_db)),
        fade_in=0.0,
        fade_out=min(HIT_FADE_SECONDS, length / 4) if cut else 0.0,
        **extra,
    )
