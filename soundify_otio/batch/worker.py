"""A batch worker: the model and the library loaded once, then many jobs or many shots.

The same class serves the local runner (whole jobs, in this process or a process pool) and the
Ray runner (as an actor: one shot per task, then one task that assembles a timeline from its
shots' results). Nothing here raises for a bad job: every outcome comes back as data, so a bad
input never kills a worker and Ray retries only what really died.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundify_otio.config import Config
from soundify_otio.errors import ModelError, SoundifyError
from soundify_otio.pipeline.choices import ChoicesFile
from soundify_otio.pipeline.frame_cache import FrameCache, ShotFrames
from soundify_otio.progress import ProgressHook, null_progress
from soundify_otio.types import Annotation, Shot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a batch loads: one model, one library, one frame cache."""

    model: str
    pretrained: str
    device: str | None
    fallback_random: bool
    library_dir: Path
    cache_dir: Path | None
    """A folder every worker sees (shared between machines on a cluster); None: scratch per job."""
    runtime: str = "auto"
    precision: str = "auto"
    runtime_cache: Path | None = None
    """Where the image tower's converted runtime is kept (converted once per machine)."""
    torch_threads: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """One job as a worker needs it (paths already resolved, settings already checked)."""

    number: int
    input: Path
    config: Config
    media_roots: tuple[tuple[str, str], ...]
    allow_offline: bool
    choices: ChoicesFile | None


@dataclass
class JobResult:
    """A job's outcome: its annotation (scenes, picks, placements) or why it failed. The driver
    applies the annotation to the timeline it read, so no timeline crosses processes."""

    number: int
    ok: bool
    reason: str = ""
    exit_code: int = 0
    annotation: Annotation | None = None
    seconds: float = 0.0


@dataclass
class ShotResult:
    """One shot's pixel pass: its frame-cache entries (key -> frames), to prime the assembly."""

    frames: dict[str, ShotFrames]
    seconds: float


class _RecordingCache(FrameCache):
    """A frame cache that also keeps, in memory, every entry it loads or saves, and serves entries
    handed to it (a shot analysed by another worker) before looking on disk."""

    def __init__(self, root: Path | None, primed: dict[str, ShotFrames] | None = None) -> None:
        super().__init__(root)
        self.entries: dict[str, ShotFrames] = dict(primed or {})

    def load(self, key: str) -> ShotFrames | None:
        if key in self.entries:
            self.hits += 1
            return self.entries[key]
        frames = super().load(key)
        if frames is not None:
            self.entries[key] = frames
        return frames

    def save(self, key: str, *args: Any, **kwargs: Any) -> ShotFrames:
        frames = super().save(key, *args, **kwargs)
        self.entries[key] = frames
        return frames


class BatchWorker:
    """Model and library, loaded when the worker starts; `run_job`, `analyse_shot`, `assemble`."""

    def __init__(self, settings: WorkerSettings) -> None:
        """Load the model and open the library; a failure (no weights, bad library) is kept and
        every job this worker is given then fails with it."""
        self.settings = settings
        self.failure: tuple[str, int] | None = None
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        try:
            self.model = self._load_model(settings)
            from soundify_otio.library.sounds import open_library

            self.library = open_library(settings.library_dir)
        except SoundifyError as exc:
            self.failure = (str(exc), exc.exit_code)

    @staticmethod
    def _load_model(settings: WorkerSettings):
        from soundify_otio.vision.model import RANDOM_WEIGHTS, load_model

        def load(pretrained: str):
            return load_model(
                settings.model,
                pretrained,
                settings.device,
                settings.runtime,
                settings.precision,
                settings.runtime_cache,
            )

        try:
            return load(settings.pretrained)
        except ModelError as exc:
            if not settings.fallback_random or settings.pretrained == RANDOM_WEIGHTS:
                raise
            log.warning("%s; falling back to RANDOM weights (a pipeline check: the picks mean nothing)", exc)
            return load(RANDOM_WEIGHTS)

    def prepare(self) -> tuple[str, int] | None:
        """Encode the library's label texts (kept in the index, so the workers after the first only
        read them); None when ready, else why this worker cannot work and the exit code."""
        if self.failure is None:
            try:
                for kind in ("effect", "ambient"):
                    self.library.label_embeddings(self.model, kind)
            except SoundifyError as exc:
                self.failure = (str(exc), exc.exit_code)
        return self.failure

    def _soundify(self, spec: JobSpec, cache: FrameCache):
        from soundify_otio.pipeline.soundify import Soundify

        soundify = Soundify(self.model, self.library, spec.config)
        soundify.cache = cache
        return soundify

    def run_job(self, spec: JobSpec, progress: ProgressHook = null_progress) -> JobResult:
        """The whole job here, through the public Session: read, analyse every shot, place."""
        from soundify_otio.app.api import Session

        def annotate() -> Annotation:
            session = Session(self.model, self.library, spec.config, self.settings.cache_dir)
            choices = spec.choices
            return session.annotate(
                spec.input, choices, progress, media_roots=spec.media_roots, allow_offline=spec.allow_offline
            )[1]

        return self._finish(spec, annotate, ())

    def analyse_shot(self, spec: JobSpec, shot: Shot) -> ShotResult:
        """One shot's decode and encode (the bulk of a job's work), kept for the assembly."""
        if self.failure is not None:
            return ShotResult({}, 0.0)
        started = time.perf_counter()
        cache = _RecordingCache(self.settings.cache_dir)
        try:
            self._soundify(spec, cache).analyse([shot], allow_empty=True)
        except SoundifyError as exc:  # the assembly meets the same problem and reports it
            log.debug("shot %s: %s", shot.clip_name, exc)
        return ShotResult(cache.entries, time.perf_counter() - started)

    def assemble(self, spec: JobSpec, *shots: ShotResult) -> JobResult:
        """The timeline from its shots' results (shots not given are analysed here), then the
        picks placed: exactly what `annotate` does for one timeline."""
        primed = {key: frames for shot in shots for key, frames in shot.frames.items()}
        return self._finish(
            spec, lambda: self._assembled(spec, _RecordingCache(self.settings.cache_dir, primed)), shots
        )

    def _finish(self, spec: JobSpec, annotate: Callable[[], Annotation], shots: tuple[ShotResult, ...]) -> JobResult:
        if self.failure is not None:
            return JobResult(spec.number, False, *self.failure)
        started = time.perf_counter()
        try:
            result = JobResult(spec.number, True, annotation=annotate())
        except SoundifyError as exc:
            result = JobResult(spec.number, False, str(exc), exc.exit_code)
        except Exception as exc:  # a bug: the job fails with one line, the batch goes on
            log.debug("job %d: internal error", spec.number, exc_info=True)
            result = JobResult(
                spec.number, False, f"internal error: {type(exc).__name__}: {exc}", SoundifyError.exit_code
            )
        result.seconds = time.perf_counter() - started + sum(s.seconds for s in shots)
        return result

    def _assembled(self, spec: JobSpec, cache: FrameCache) -> Annotation:
        """The job's annotation with its shots' frame data served from `cache` (the same steps as
        Session.annotate, with the frame cache given instead of made)."""
        from soundify_otio.app.api import TimelineAnalysis
        from soundify_otio.timeline.reading import find_shots, read_timeline

        timeline = read_timeline(spec.input)
        shots, skipped = find_shots(timeline, spec.input.resolve().parent, spec.media_roots)
        soundify = self._soundify(spec, cache)
        analysis = soundify.analyse(shots, skipped, allow_empty=spec.allow_offline)
        soundify.listen(analysis, timeline, shots, spec.input.resolve().parent, spec.media_roots)
        return TimelineAnalysis(timeline, soundify, analysis).annotate(spec.choices)[1]
