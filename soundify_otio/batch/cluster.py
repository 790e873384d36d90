"""The Ray runner: actors that load the model and open the library once and serve many tasks.

The unit of work is a shot: each shot's decode and encode (nearly all of a job's time) is one
task on whichever actor is free, so a long reel spreads over the cluster; when a timeline's shots
are done, one more task assembles it from their results (frame data passed through Ray's object
store, so no shared disk is needed) and places the picks. Actors ask for a GPU each where the
cluster has GPUs. A worker process that dies is restarted by Ray and its task retried there
(`max_restarts`, `max_task_retries`); bad input never raises in an actor, so it is not retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from soundify_otio.batch.worker import BatchWorker, JobResult, JobSpec, WorkerSettings
from soundify_otio.errors import SoundifyError, UsageError
from soundify_otio.types import Shot

log = logging.getLogger(__name__)

MAX_RESTARTS = 3
"""Times Ray restarts an actor whose process died (each restart loads the model again)."""
MAX_TASK_RETRIES = 3
"""Times Ray retries a task whose actor died while running it."""
_POLL_SECONDS = 1.0
_CONNECT_TIMEOUT = 10.0


class RayUnavailable(UsageError):
    """Ray is not installed, or the cluster cannot be reached."""


@dataclass
class ClusterJob:
    """A job and its shots, as the scheduler tracks it."""

    spec: JobSpec
    shots: Sequence[Shot]
    results: list[Any] = field(default_factory=list)
    """Object refs of the finished shots' results."""
    waiting: int = 0


@dataclass
class StartUp:
    """How long Ray took before the first task: connecting, and actors ready (model loaded)."""

    connect_seconds: float = 0.0
    workers_ready_seconds: float = 0.0
    workers: int = 0
    gpus_per_worker: float = 0.0


def connect(address: str) -> float:
    """Join the cluster at `address` ('auto': the one this machine belongs to); seconds taken."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("Ray is not installed: pip install 'soundify-otio[ray]'") from exc
    started = time.perf_counter()
    _check_reachable(address)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at '{address}': {exc}") from exc
    return time.perf_counter() - started


def _check_reachable(address: str) -> None:
    """A HOST:PORT that answers nothing fails in seconds (Ray itself would retry for many minutes)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # 'auto', a ray:// client address: Ray resolves and reports those itself
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at '{address}': {exc.strerror or exc}") from exc


def run_on_ray(
    address: str,
    specs: Sequence[tuple[JobSpec, Sequence[Shot]]],
    settings: WorkerSettings,
    workers: int | None,
    on_result: Callable[[JobResult], None],
    on_shot: Callable[[int, Shot], None],
) -> StartUp:
    """Run the jobs on the cluster; `on_result` sees each job's outcome, `on_shot` each shot done.
    Ray's own notices (a task retried, a worker lost) go to stderr, so stdout stays the summary's."""
    import ray

    with contextlib.redirect_stdout(sys.stderr):
        startup = StartUp(connect_seconds=connect(address))
        try:
            ready_started = time.perf_counter()
            actors = _start_actors(settings, workers, startup)
            startup.workers_ready_seconds = time.perf_counter() - ready_started
            _Scheduler(actors, specs, on_result, on_shot).run()
        finally:
            ray.shutdown()
    return startup


def _start_actors(settings: WorkerSettings, workers: int | None, startup: StartUp) -> list[Any]:
    """One actor per GPU where the cluster has GPUs, else one per CPU (or `workers`: with GPUs they
    share them, a fraction each); the first prepares the shared index, the others then read it.
    Actors that cannot work are dropped."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    count = workers or gpus or max(1, int(resources.get("CPU", 1)))
    startup.gpus_per_worker = min(1.0, gpus / count) if gpus else 0.0
    actor_class = ray.remote(BatchWorker).options(
        num_cpus=1, num_gpus=startup.gpus_per_worker, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES
    )
    actors: list[Any] = [actor_class.remote(settings) for _ in range(count)]
    failures = [ray.get(actors[0].prepare.remote())]
    failures += ray.get([actor.prepare.remote() for actor in actors[1:]])
    working = [actor for actor, failure in zip(actors, failures, strict=False) if failure is None]
    startup.workers = len(working)
    if not working:
        raise WorkerFailure(*failures[0])
    return working


class WorkerFailure(SoundifyError):
    """No worker could start (weights missing, library unreadable): every job fails with it, and with the
    exit code of the worker's own error."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.exit_code = exit_code


class _Scheduler:
    """Free actors take the next task: a timeline ready to assemble first, else the next shot."""

    def __init__(
        self,
        actors: list[Any],
        specs: Sequence[tuple[JobSpec, Sequence[Shot]]],
        on_result: Callable[[JobResult], None],
        on_shot: Callable[[int, Shot], None],
    ) -> None:
        self.idle = deque(actors)
        self.jobs = [ClusterJob(spec, shots, waiting=len(shots)) for spec, shots in specs]
        self.queue: deque[tuple[str, ClusterJob, Shot | None]] = deque()
        for job in self.jobs:
            if job.shots:
                self.queue.extend(("shot", job, shot) for shot in job.shots)
            else:
                self.queue.append(("assemble", job, None))
        self.pending: dict[Any, tuple[Any, str, ClusterJob, Shot | None]] = {}
        self.retried: set[tuple[int, int | None]] = set()
        self.on_result, self.on_shot = on_result, on_shot

    def run(self) -> None:
        import ray

        while self.queue or self.pending:
            self._submit()
            if not self.pending:  # work left and no actor alive to do it
                for _, job, _ in self.queue:
                    self.on_result(
                        JobResult(job.spec.number, False, "no Ray worker is left to run it", SoundifyError.exit_code)
                    )
                return
            done, _ = ray.wait(list(self.pending), num_returns=1, timeout=_POLL_SECONDS)
            for ref in done:
                self._finished(ref)

    def _submit(self) -> None:
        while self.idle and self.queue:
            actor = self.idle.popleft()
            kind, job, shot = self.queue.popleft()
            if shot is not None:
                ref = actor.analyse_shot.remote(job.spec, shot)
            else:
                ref = actor.assemble.remote(job.spec, *job.results)
            self.pending[ref] = (actor, kind, job, shot)

    def _finished(self, ref: Any) -> None:
        import ray
        from ray.exceptions import RayError

        actor, kind, job, shot = self.pending.pop(ref)
        try:
            value = ray.get(ref)
        except RayError as exc:  # the actor died past its restarts, or the task past its retries
            log.warning("a Ray worker failed on job %d (%s)", job.spec.number, _first_line(exc))
            self._retry_elsewhere(kind, job, shot, exc)
            return
        self.idle.append(actor)
        if shot is not None:
            job.results.append(ref)
            job.waiting -= 1
            self.on_shot(job.spec.number, shot)
            if job.waiting == 0:
                self.queue.appendleft(("assemble", job, None))
        else:
            job.results.clear()  # the shots' frame data may leave the object store
            self.on_result(value)

    def _retry_elsewhere(self, kind: str, job: ClusterJob, shot: Shot | None, exc: Exception) -> None:
        """Once more on another actor; a shot that fails again is left to the assembly to analyse,
        an assembly that fails again fails its job."""
        task = (job.spec.number, None if shot is None else shot.index)
        if task not in self.retried:
            self.retried.add(task)
            self.queue.appendleft((kind, job, shot))
        elif kind == "shot":
            job.waiting -= 1
            if job.waiting == 0:
                self.queue.appendleft(("assemble", job, None))
        else:
            self.on_result(
                JobResult(job.spec.number, False, f"the Ray worker failed: {_first_line(exc)}", SoundifyError.exit_code)
            )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
