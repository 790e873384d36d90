"""The local runner: jobs on this machine, each worker loading the model and library once.

One worker runs in this process; more run as a process pool ("spawn": safe with threads and a
GPU runtime loaded), each with its share of the CPU cores for torch. A job is the unit of work.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from multiprocessing import get_context

from soundify_otio.batch.worker import BatchWorker, JobResult, JobSpec, WorkerSettings

Advance = Callable[[int, float], None]
"""(job number, video seconds of that job analysed so far)."""

_worker: BatchWorker | None = None


def run_local(
    specs: Sequence[JobSpec],
    settings: WorkerSettings,
    workers: int,
    on_result: Callable[[JobResult], None],
    advance: Advance,
) -> None:
    """Run every job; `on_result` sees each outcome as it arrives (in completion order)."""
    if workers <= 1 or len(specs) <= 1:
        worker = BatchWorker(settings)
        worker.prepare()
        for spec in specs:

            def progress(stage: str, done: int, total: int | None, number: int = spec.number) -> None:
                if stage == "analyse":
                    advance(number, float(done))

            on_result(worker.run_job(spec, progress))
        return
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = replace(settings, torch_threads=settings.torch_threads or max(1, cpus // workers))
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start, initargs=(share,)) as pool:
        futures = [pool.submit(_run, spec) for spec in specs]
        for future in as_completed(futures):
            on_result(future.result())


def _start(settings: WorkerSettings) -> None:
    """A pool process's initializer: its worker, loaded once for every job it will run."""
    global _worker
    _worker = BatchWorker(settings)
    _worker.prepare()


def _run(spec: JobSpec) -> JobResult:
    assert _worker is not None, "the pool initializer did not run"
    return _worker.run_job(spec)
