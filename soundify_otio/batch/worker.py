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
from typing import TYPE_CHECKING, Any

from soundify_otio.app.model import ModelRequest
from soundify_otio.config import Config
from soundify_otio.errors import SoundifyError
from soundify_otio.pipeline.choices import ChoicesFile
from soundify_otio.pipeline.frame_cache import FrameCache, ShotFrames
from soundify_otio.progress import ProgressHook, null_progress
from soundify_otio.types import Annotation, Shot

if TYPE_CHECKING:  # torch: loaded by the worker process when it starts
    from soundify_otio.app.api import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a batch loads: one model, one library, one frame cache."""

    model: ModelRequest
    library_dir: Path
    cache_dir: Path | None
    """A folder every worker sees (shared between machines on a cluster); None: scratch per job."""
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
        from soundify_otio.app.model import open_model

        try:
            self.model = open_model(settings.model, log.warning)
            from soundify_otio.library.sounds import open_library

            self.library = open_library(settings.library_dir)
        except SoundifyError as exc:
            self.failure = (str(exc), exc.exit_code)

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

    def run_job(self, spec: JobSpec, progress: ProgressHook = null_progress) -> JobResult:
        """The whole job here: read, analyse every shot, place."""
        return self._finish(spec, lambda: self._annotated(spec, None, progress), ())

    def analyse_shot(self, spec: JobSpec, shot: Shot) -> ShotResult:
        """One shot's decode and encode (the bulk of a job's work), kept for the assembly."""
        if self.failure is not None:
            return ShotResult({}, 0.0)
        started = time.perf_counter()
        cache = _RecordingCache(self.settings.cache_dir)
        try:
            self._session(spec).analyse_shots([shot], cache)
        except SoundifyError as exc:  # the assembly meets the same problem and reports it
            log.debug("shot %s: %s", shot.clip_name, exc)
        return ShotResult(cache.entries, time.perf_counter() - started)

    def assemble(self, spec: JobSpec, *shots: ShotResult) -> JobResult:
        """The timeline from its shots' results (shots not given are analysed here), then the
        picks placed: exactly what `annotate` does for one timeline."""
        primed = {key: frames for shot in shots for key, frames in shot.frames.items()}
        return self._finish(
            spec, lambda: self._annotated(spec, _RecordingCache(self.settings.cache_dir, primed)), shots
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

    def _session(self, spec: JobSpec) -> Session:
        from soundify_otio.app.api import Session

        return Session(self.model, self.library, spec.config, self.settings.cache_dir)

    def _annotated(self, spec: JobSpec, cache: FrameCache | None, progress: ProgressHook = null_progress) -> Annotation:
        """The job's annotation through the public Session, its shots' frame data served from `cache`
        where given (shots analysed by other workers)."""
        analysed = self._session(spec).analyse(
            spec.input,
            media_roots=spec.media_roots,
            allow_offline=spec.allow_offline,
            progress=progress,
            cache=cache,
        )
        return analysed.annotate(spec.choices)[1]
