"""Runs Soundify's stages over a timeline's shots, with a progress hook and an on-disk frame cache.

One pass over each shot's frames does all the pixel work: every frame feeds the scene detector,
every sampled frame is CLIP-encoded, and the encoding keeps the Grad-CAM layer's activations so
the mix stage never decodes or re-encodes a frame. `analyse` does that pass (and classification);
`place` turns picks into synchronised, panned placements, so new choices re-use one analysis.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np
import opentimelineio as otio

from soundify_otio.config import Config
from soundify_otio.errors import MediaError, TimelineError
from soundify_otio.library.sounds import loudness_offset_db
from soundify_otio.pipeline import finesync
from soundify_otio.pipeline.analysis import AnalysedScene, Analysis
from soundify_otio.pipeline.dialogue import listen
from soundify_otio.pipeline.frame_cache import FrameCache, ShotFrames, gather_rows
from soundify_otio.pipeline.frame_pass import FramePass, ShotJob
from soundify_otio.progress import ProgressHook, Stopwatch, null_progress
from soundify_otio.stages import classify, duck, mix, sync
from soundify_otio.stages.scenes import split_shot
from soundify_otio.timeline.media import MediaRoots
from soundify_otio.types import (
    Annotation,
    Choice,
    Interval,
    Kind,
    Placement,
    Scene,
    SceneResult,
    Shot,
    SkippedShot,
    SoundEntry,
    SpeechRegion,
    Suggestion,
)
from soundify_otio.vision.decode import VideoInfo, probe_video
from soundify_otio.vision.model import ClipModel

log = logging.getLogger(__name__)


class SoundLibraryLike(Protocol):
    """What the pipeline needs of a sound library (see library.SoundLibrary)."""

    def label_embeddings(self, encoder: ClipModel, kind: Kind) -> tuple[list[str], np.ndarray]: ...

    def choose(
        self,
        label: str,
        kind: Kind,
        duration: float,
        seed: int,
        occasion: int,
        config: Config,
        under_speech: bool = False,
    ) -> SoundEntry: ...

    def one_shots(self, label: str, seed: int) -> tuple[SoundEntry, ...]: ...


class Soundify:
    """The four stages over one model, one library and one configuration."""

    def __init__(
        self,
        model: ClipModel,
        library: SoundLibraryLike,
        config: Config,
        progress: ProgressHook = null_progress,
        cache: FrameCache | Path | None = None,
    ) -> None:
        """`cache`: the frame cache to read and fill, or the folder of one (None: scratch, this run only)."""
        self.model = model
        self.library = library
        self.config = config
        self.progress = progress
        self.cache = cache if isinstance(cache, FrameCache) else FrameCache(cache)
        self._seconds_total, self._seconds_done = 1, 0.0
        self._labels: dict[Kind, tuple[list[str], np.ndarray]] = {}

    def labels(self, kind: Kind) -> tuple[list[str], np.ndarray]:
        """Distinct labels of a kind and their unit text embeddings (encoded once per run)."""
        if kind not in self._labels:
            self._labels[kind] = self.library.label_embeddings(self.model, kind)
        return self._labels[kind]

    # ---- pass 1: pixels -> scenes -> candidates -------------------------------------------------

    def analyse(
        self, shots: list[Shot], skipped: list[SkippedShot] | None = None, allow_empty: bool = False
    ) -> Analysis:
        """Decode each shot once: scenes, CLIP embeddings and Grad-CAM activations; rank candidates.

        A timeline where no shot can be read is an error unless `allow_empty` (media offline on
        purpose: the timeline passes through with nothing added)."""
        analysis = Analysis(scenes=[], skipped=list(skipped or []))
        self._seconds_total = max(1, int(np.ceil(sum(s.duration for s in shots))))
        self._seconds_done = 0.0
        frames_of = self._frames(shots, analysis.stopwatch)
        taken_ids: set[str] = set()
        for shot, frames in zip(shots, frames_of, strict=True):
            if isinstance(frames, MediaError):
                log.debug("skipping shot '%s': %s", shot.clip_name, frames)
                analysis.skipped.append(SkippedShot(shot.clip_name, str(shot.media_path), frames.reason))
                continue
            with analysis.stopwatch.time("scenes"):
                scenes = self._split(shot, frames, len(analysis.scenes), taken_ids)
            with analysis.stopwatch.time("classify"):
                analysis.scenes.extend(self._rank(scene, frames, samples, offset) for scene, samples, offset in scenes)
        self.progress("analyse", self._seconds_total, self._seconds_total)
        if not analysis.scenes and not allow_empty:
            reasons = "; ".join(f"{s.media or s.clip_name}: {s.reason}" for s in analysis.skipped[:5])
            raise TimelineError(f"no shot could be analysed ({reasons or 'no video clips with media'})")
        return analysis

    def listen(
        self,
        analysis: Analysis,
        timeline: otio.schema.Timeline,
        shots: list[Shot],
        base_dir: Path,
        media_roots: MediaRoots = (),
    ) -> None:
        """Hear the timeline's own sound (unless ducking is off): each scene gets its speech regions and
        their loudness, which `place` ducks under and sets the bed's level by."""
        if self.config.duck == "off":
            return
        with analysis.stopwatch.time("dialogue"):
            analysis.dialogue = listen(timeline, shots, base_dir, media_roots, self.cache, self.config)
            for analysed in analysis.scenes:
                analysed.speech = analysis.dialogue.speech_in(analysed.scene.start, analysed.scene.end)
                analysed.dialogue_lufs = analysis.dialogue.loudness(analysed.speech)

    def _report(self, seconds: float) -> None:
        """Progress of the pixel pass, in whole seconds of video."""
        self.progress("analyse", min(self._seconds_total, int(seconds)), self._seconds_total)

    def _frames(self, shots: list[Shot], stopwatch: Stopwatch) -> list[ShotFrames | MediaError]:
        """Each shot's frame analysis: from the cache, else from one pass over all uncached shots
        (one probe and one reader per media file, CLIP batches shared across shots)."""
        frame_pass = FramePass(self.model, self.cache, self.config, stopwatch, self._report)
        infos: dict[Path, VideoInfo | MediaError] = {}
        results: list[ShotFrames | MediaError | ShotJob] = []
        jobs: dict[str, ShotJob] = {}
        for shot in shots:
            if shot.media_path not in infos:
                try:
                    with stopwatch.time("probe"):
                        infos[shot.media_path] = probe_video(shot.media_path)
                except MediaError as exc:
                    infos[shot.media_path] = exc
            info = infos[shot.media_path]
            if isinstance(info, MediaError):
                results.append(info)
                continue
            first = round(shot.media_start * info.fps)
            stop = min(info.frame_count, first + max(1, round(shot.duration * info.fps)))
            if first >= info.frame_count:
                results.append(
                    MediaError(
                        f"the clip starts at frame {first}, past the file's {info.frame_count} frames", shot.media_path
                    )
                )
                continue
            key = self.cache.key(shot, first, stop, self.model.image_id, self.config)
            cached = jobs.get(key) or self.cache.load(key)
            if cached is None:
                cached = jobs[key] = frame_pass.job(shot, info, first, stop, key)
            results.append(cached)
        frame_pass.run(list(jobs.values()))
        return [_result_of(r) for r in results]

    def _split(
        self, shot: Shot, frames: ShotFrames, first_index: int, taken_ids: set[str]
    ) -> list[tuple[Scene, np.ndarray, float]]:
        """The shot cut into scenes (stages/scenes.py) at the configured threshold and shortest scene."""
        min_frames = max(1, round(self.config.min_scene_seconds * frames.fps))
        return split_shot(
            shot,
            frames.distances,
            frames.fps,
            frames.sample_times,
            self.config.scene_threshold,
            min_frames,
            first_index,
            taken_ids,
        )

    def _rank(self, scene: Scene, frames: ShotFrames, samples: np.ndarray, offset: float) -> AnalysedScene:
        embeddings = frames.embeddings[samples]
        ranked = {}
        kinds: tuple[Kind, ...] = ("effect", "ambient")
        for kind in kinds:
            labels, texts = self.labels(kind)
            ranked[kind] = classify.rank_labels(
                embeddings, texts, labels, kind, self.model.logit_scale, self.config.top_k
            )
        return AnalysedScene(
            scene, frames, samples, frames.sample_times[samples] - offset, ranked["effect"], ranked["ambient"]
        )

    # ---- pass 2: picks -> intervals -> pan/gain placements --------------------------------------

    def default_choice(self, scene: AnalysedScene) -> Choice:
        """Top effect(s) and, re-ranked by them, the top ambient."""
        effects = tuple(s.label for s in scene.effects[: self.config.effects_per_scene])
        ambients = self.rerank_ambients(scene, effects)
        return Choice(effects, ambients[0].label if ambients else None)

    def rerank_ambients(self, scene: AnalysedScene, effects: tuple[str, ...]) -> tuple[Suggestion, ...]:
        """The scene's ambient candidates ordered by text affinity with the chosen effects."""
        effect_labels, effect_texts = self.labels("effect")
        ambient_labels, ambient_texts = self.labels("ambient")
        chosen = [effect_texts[effect_labels.index(e)] for e in effects if e in effect_labels]
        candidates = np.array([ambient_texts[ambient_labels.index(s.label)] for s in scene.ambients])
        return classify.rerank_ambients(scene.ambients, candidates, np.array(chosen) if chosen else np.zeros((0, 1)))

    def place(self, analysis: Analysis, choices: Mapping[str, Choice] | None = None) -> Annotation:
        """Sync and mix every scene's picks (the editor's where given, else the defaults)."""
        results: list[SceneResult] = []
        placements: list[Placement] = []
        for done, analysed in enumerate(analysis.scenes, start=1):
            choice = (choices or {}).get(analysed.scene.id) or self.default_choice(analysed)
            result, placed = self.place_scene(analysed, choice, analysis.stopwatch)
            results.append(result)
            placements.extend(placed)
            self.progress("mix", done, len(analysis.scenes))
        return Annotation(
            scenes=tuple(results),
            placements=tuple(placements),
            skipped_shots=tuple(analysis.skipped),
            model=self.model.name,
            weights=self.model.weights,
            pipeline_check=self.model.pipeline_check,
            timings=dict(analysis.stopwatch.seconds),
            image_tower=self.model.runtime_info(),
        )

    def place_scene(
        self, analysed: AnalysedScene, choice: Choice, stopwatch: Stopwatch | None = None
    ) -> tuple[SceneResult, list[Placement]]:
        """Sync and mix one scene's picks from its cached analysis (no decoding, no encoding):
        what the review page calls when the editor changes that scene alone."""
        stopwatch = stopwatch or Stopwatch()
        ambients = self.rerank_ambients(analysed, choice.effects)
        intervals: dict[str, tuple[Interval, ...]] = {}
        placements: list[Placement] = []
        notes: list[str] = []
        for occasion, label in enumerate(choice.effects):
            with stopwatch.time("sync"):
                intervals[label] = spans = self._intervals(analysed, label)
            variations = self.library.one_shots(label, self.config.seed)
            if finesync.wanted(self.config, variations):
                with stopwatch.time("finesync"):
                    hits, spans, found_notes = finesync.place_hits(
                        analysed,
                        label,
                        spans,
                        self._text("effect", label),
                        self.model,
                        variations,
                        self.config,
                        loop=label in choice.loops,
                    )
                placements.extend(hits)
                notes.extend(found_notes)
            with stopwatch.time("gradcam"):
                placements.extend(self._effect_placements(analysed, label, spans, occasion))
        if choice.ambient:
            placements.append(self._ambient_placement(analysed, choice.ambient, ambients))
        settings = self.duck_depths(analysed, choice)
        depths = {kind: depth for kind, depth in settings.items() if choice.duck and depth < 0}
        if depths:
            lines = [(r.start, r.end) for r in analysed.speech]
            config = self.config
            dips: dict[str, list[tuple[float, float]]] = {
                kind: duck.dips(
                    lines, depth, config.duck_attack_seconds, config.duck_release_seconds, config.duck_hold_seconds
                )
                for kind, depth in depths.items()
            }
            placements = [replace(p, gain_db=duck.ducked(p.gain_db, dips[p.kind], p.start)) for p in placements]
        loops = choice.loops & set(choice.effects)
        result = SceneResult(
            analysed.scene,
            analysed.effects,
            ambients,
            choice.effects,
            choice.ambient,
            intervals,
            tuple(notes),
            loops,
            speech=analysed.speech,
            ducking={str(kind): depth for kind, depth in depths.items()},
            duck_depths={str(kind): depth for kind, depth in settings.items()},
            duck=choice.duck,
            dialogue_lufs=analysed.dialogue_lufs,
        )
        return result, placements

    def duck_depths(self, analysed: AnalysedScene, choice: Choice) -> dict[Kind, float]:
        """The dip per kind of sound set for the scene's speech (the editor's depths where the choice has
        them), whether or not the editor switched it on: none without speech or where ducking is off."""
        if not analysed.speech or self.config.duck == "off":
            return {}
        ambient = self.config.duck_ambient_db if choice.duck_ambient_db is None else choice.duck_ambient_db
        effect = self.config.duck_effect_db if choice.duck_effect_db is None else choice.duck_effect_db
        return {"ambient": ambient, "effect": effect}

    def _text(self, kind: Kind, label: str) -> np.ndarray:
        labels, texts = self.labels(kind)
        return texts[labels.index(label)]

    def _intervals(self, analysed: AnalysedScene, label: str) -> tuple[Interval, ...]:
        config, scene = self.config, analysed.scene
        present = sync.presence(
            analysed.frames.embeddings[analysed.samples],
            self._text("effect", label),
            self.model.logit_scale,
            config.sync_min_contrast,
        )
        found = sync.visible_intervals(
            analysed.times,
            present,
            1.0 / config.sample_fps,
            scene.end - scene.start,
            config.sync_on,
            config.sync_off,
            config.min_interval_seconds,
            config.merge_gap_seconds,
        )
        return tuple(Interval(scene.start + i.start, scene.start + i.end) for i in found)

    def _effect_placements(
        self, analysed: AnalysedScene, label: str, intervals: tuple[Interval, ...], occasion: int
    ) -> list[Placement]:
        """One placement per interval; a Grad-CAM pan/gain key at each ~1 s chunk's first frame and
        a closing key at the interval's last frame, so the curve ends where the source does."""
        config, scene = self.config, analysed.scene
        half_step = 0.5 / config.sample_fps
        keys_per_interval = [[*mix.chunk_starts(i, config.chunk_seconds), i.end] for i in intervals]
        look_at = [
            min(max(t, i.start), i.end - half_step) - scene.start
            for i, keys in zip(intervals, keys_per_interval)
            for t in keys
        ]
        if not look_at:
            return []
        nearest = [int(np.argmin(np.abs(analysed.times - t))) for t in look_at]
        cams = self.model.gradcam(
            gather_rows(analysed.frames.activations, analysed.samples[nearest]),
            np.repeat(self._text("effect", label)[None], len(nearest), axis=0),
        )
        pan_gain = [
            mix.pan_and_gain(
                cam, config.cam_area_threshold, config.gain_max_db, config.gain_floor_db, config.gain_slope_db
            )
            for cam in cams
        ]
        score = next((s.score for s in analysed.effects if s.label == label), 0.0)
        placements: list[Placement] = []
        first = 0
        for interval, keys in zip(intervals, keys_per_interval):
            values = pan_gain[first : first + len(keys)]
            first += len(keys)
            sound = self.library.choose(
                label,
                "effect",
                interval.duration,
                config.seed,
                use_number(scene.id, label, occasion, len(placements)),
                config,
                under_speech=_overlaps(analysed.speech, interval.start, interval.end),
            )
            offset = loudness_offset_db(sound, config.reference_lufs)
            fade = min(config.fade_seconds, interval.duration / 4)
            placements.append(
                Placement(
                    label=label,
                    kind="effect",
                    sound=sound,
                    scene_index=scene.index,
                    scene_id=scene.id,
                    start=interval.start,
                    end=interval.end,
                    score=score,
                    alternatives=analysed.effects,
                    pan=mix.curve(keys, [p for p, _ in values], interval.start, interval.end),
                    gain_db=mix.curve(keys, [g + offset for _, g in values], interval.start, interval.end),
                    fade_in=fade,
                    fade_out=fade,
                )
            )
        return placements

    def _ambient_placement(self, analysed: AnalysedScene, label: str, ranked: tuple[Suggestion, ...]) -> Placement:
        """One constant bed under the whole scene: at reference_lufs + ambient_gain_db, or where the scene
        has dialogue, bed_below_dialogue_lu under the dialogue's loudness."""
        config, scene = self.config, analysed.scene
        duration = scene.end - scene.start
        number = use_number(scene.id, label, 0, 0)
        sound = self.library.choose(label, "ambient", duration, config.seed, number, config, bool(analysed.speech))
        if analysed.dialogue_lufs is not None:  # under the dialogue, a set distance below it
            gain = loudness_offset_db(sound, analysed.dialogue_lufs - config.bed_below_dialogue_lu)
        else:
            gain = config.ambient_gain_db + loudness_offset_db(sound, config.reference_lufs)
        score = next((s.score for s in ranked if s.label == label), 0.0)
        return Placement(
            label=label,
            kind="ambient",
            sound=sound,
            scene_index=scene.index,
            scene_id=scene.id,
            start=scene.start,
            end=scene.end,
            score=score,
            alternatives=ranked,
            pan=((0.0, 0.0), (round(duration, 6), 0.0)),
            gain_db=((0.0, gain), (round(duration, 6), gain)),
            fade_in=min(config.fade_seconds, duration / 4),
            fade_out=min(config.fade_seconds, duration / 4),
        )


def use_number(scene_id: str, label: str, occasion: int, interval: int) -> int:
    """The number that names one use of a sound for the library's choice among files sharing its
    label: a hash of the scene's id, the label, its place among the scene's picks and the interval's
    place in the scene. Distinct uses get distinct numbers (``scene*100 + occasion*10 + n`` once
    gave scene 0's 101st interval the number of scene 1's first), and a scene keeps its picks when
    the edit changes elsewhere (the id, not the scene's position, goes in)."""
    key = f"{scene_id}\0{label}\0{occasion}\0{interval}".encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _overlaps(regions: tuple[SpeechRegion, ...], start: float, end: float) -> bool:
    return any(r.end > start and r.start < end for r in regions)


def _result_of(entry: ShotFrames | MediaError | ShotJob) -> ShotFrames | MediaError:
    if not isinstance(entry, ShotJob):
        return entry
    if entry.result is None:
        raise RuntimeError(f"the frame pass left shot '{entry.shot.clip_name}' unfinished")
    return entry.result
