"""A whole batch: plan the jobs (check each, skip the current), run the rest, write each output as
its result arrives, and summarise.

Outputs are written here, by the process that was given --out-dir: each atomically, its currency
record just before it (batch.currency), so a kill at any moment leaves an output the next run
recognises. Every output is checked against every input of the whole run (all jobs' timelines,
choices and media, the library). A job that fails leaves nothing (no output, no folder); the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundify_otio.batch.currency import (
    JobInputs,
    is_current,
    is_ours,
    job_inputs,
    library_identity,
    recorded,
)
from soundify_otio.batch.jobs import Job
from soundify_otio.batch.progress import BatchProgress
from soundify_otio.batch.worker import JobResult, JobSpec, WorkerSettings
from soundify_otio.config import Config
from soundify_otio.errors import OutputError, SoundifyError, UsageError
from soundify_otio.outputs import Input, Output, RunInputs, check_outputs
from soundify_otio.pipeline.frame_cache import media_identity
from soundify_otio.types import Shot

if TYPE_CHECKING:
    import opentimelineio as otio

    from soundify_otio.app.model import ModelRequest


@dataclass(frozen=True)
class BatchOptions:
    """The batch's shared choices (per-job settings override `settings`)."""

    settings: dict[str, Any]
    """Setting overrides from the command line (None: the default)."""
    worker: WorkerSettings
    media_roots: tuple[tuple[str, str], ...] = ()
    allow_offline: bool = False
    targets: tuple[str, ...] = ("resolve", "premiere")
    conform: str | None = None
    """Sounds conformed to WAV beside each output: "wav", "none", None = as the format needs."""
    force: bool = False
    workers: int | None = None
    ray_address: str | None = None


@dataclass
class Outcome:
    """One job's line in the summary."""

    job: Job
    status: str
    """'done', 'current' (skipped: output up to date) or 'failed'."""
    reason: str = ""
    exit_code: int = 0
    video_seconds: float = 0.0
    seconds: float = 0.0
    scenes: int = 0
    placements: int = 0
    skipped_shots: list[dict] = field(default_factory=list)
    pipeline_check: bool = False
    """Made with random weights: the picks mean nothing."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage of the run that made the annotation (on Ray: the assembly's)."""


@dataclass
class _Planned:
    job: Job
    spec: JobSpec
    timeline: otio.schema.Timeline
    shots: list[Shot]
    inputs: JobInputs
    made: list[Path]
    """Folders made for the output (removed again if the job fails and they are empty)."""

    @property
    def video_seconds(self) -> float:
        return sum(s.duration for s in self.shots)


@dataclass
class BatchRun:
    """Everything the summary reports."""

    outcomes: list[Outcome]
    runner: str
    workers: int
    wall_seconds: float
    startup: dict[str, float] = field(default_factory=dict)
    """Ray only: seconds to connect and to have every actor ready (model loaded)."""
    resources: dict[str, float] = field(default_factory=dict)
    """Ray only: what each actor asked for beyond its CPU (gpus_per_worker)."""


def run_batch(jobs: list[Job], options: BatchOptions, say: Callable[[str], None] | None) -> BatchRun:
    """Plan, run and write every job; `say` gets the progress lines (None: quiet)."""
    from soundify_otio.app.run import library_inputs
    from soundify_otio.library.sounds import open_library

    started = time.perf_counter()
    library = open_library(options.worker.library_dir)  # the index brought up to date once, by one writer
    library_id = library_identity(library.entries, library.root)
    outcomes: dict[int, Outcome] = {}
    todo: list[_Planned] = []
    claimed: dict[Path, int] = {}
    run_inputs = RunInputs(
        [Input(job.input, f"the input timeline of job {job.number}") for job in jobs]
        + [Input(job.choices, f"the choices file of job {job.number}") for job in jobs if job.choices]
        + library_inputs(library)
    )
    for job in jobs:
        planned = _plan(job, options, library_id, claimed, run_inputs)
        if isinstance(planned, Outcome):
            outcomes[job.number] = planned
        else:
            todo.append(planned)
    for planned in list(todo):  # every job's media is known now: no output may be any of it
        try:
            check_outputs([Output(planned.job.output, "the job's output")], run_inputs, force=True)
        except SoundifyError as exc:
            outcomes[planned.job.number] = Outcome(planned.job, "failed", str(exc), exc.exit_code)
            todo.remove(planned)
            _remove_made(planned.made)
    progress = BatchProgress(len(jobs), sum(p.video_seconds for p in todo), say)
    for number, outcome in outcomes.items():  # failed or current before running: counted at once
        progress.finished(number, 0.0, f"{outcome.job.name}: {_said(outcome)}")
    by_number = {p.job.number: p for p in todo}

    def on_result(result: JobResult) -> None:
        planned = by_number[result.number]
        outcome = _write(planned, result, options)
        outcomes[result.number] = outcome
        progress.finished(result.number, planned.video_seconds, f"{planned.job.name}: {_said(outcome)}")

    runner, startup, workers = "local", {}, options.workers or 1
    gpus: dict[str, float] = {}
    if todo and options.ray_address:
        from soundify_otio.batch.cluster import WorkerFailure, run_on_ray

        runner = "ray"
        try:
            ray_startup = run_on_ray(
                options.ray_address,
                [(p.spec, p.shots) for p in todo],
                options.worker,
                options.workers,
                on_result,
                lambda number, shot: progress.add(number, shot.duration),
            )
            startup = {
                "connect_seconds": round(ray_startup.connect_seconds, 3),
                "workers_ready_seconds": round(ray_startup.workers_ready_seconds, 3),
            }
            gpus = {"gpus_per_worker": round(ray_startup.gpus_per_worker, 3)}
            workers = ray_startup.workers
        except WorkerFailure as failure:
            for planned in todo:
                on_result(JobResult(planned.job.number, False, failure.reason, failure.exit_code))
    elif todo:
        from soundify_otio.batch.local import run_local

        run_local([p.spec for p in todo], options.worker, workers, on_result, progress.advance)
    for planned in todo:  # a job no runner answered for (should not happen): never silently missing
        outcomes.setdefault(
            planned.job.number, Outcome(planned.job, "failed", "no result came back", SoundifyError.exit_code)
        )
    return BatchRun([outcomes[j.number] for j in jobs], runner, workers, time.perf_counter() - started, startup, gpus)


def _said(outcome: Outcome) -> str:
    return outcome.status if outcome.status != "failed" else f"FAILED ({outcome.reason})"


def _plan(
    job: Job, options: BatchOptions, library_id: str, claimed: dict[Path, int], run_inputs: RunInputs
) -> _Planned | Outcome:
    """A runnable job, or its outcome already: failed (bad input, bad output) or current. The job's
    media join `run_inputs` (every job's output is checked against all of them once all are planned)."""
    from soundify_otio.app.run import media_inputs
    from soundify_otio.exporters import check_format
    from soundify_otio.pipeline.choices import read_choices
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.timeline.shots import find_shots

    if job.problem:
        return Outcome(job, "failed", job.problem, UsageError.exit_code)
    try:
        config = Config.from_overrides(**{**options.settings, **job.settings})
    except ValueError as exc:
        return Outcome(job, "failed", f"{job.input}: {exc}", UsageError.exit_code)
    output = job.output
    made: list[Path] = []
    try:
        if output.resolve() in claimed:
            raise OutputError(f"is also the output of job {claimed[output.resolve()]}", output)
        claimed[output.resolve()] = job.number
        timeline = read_timeline(job.input)
        base = job.input.resolve().parent
        shots, skipped = find_shots(timeline, base, list(options.media_roots))
        choices = read_choices(job.choices) if job.choices is not None else None
        run_inputs.add(media_inputs(timeline, base, options.media_roots, f" of job {job.number}"))
        clash = run_inputs.clash(Output(output, "the job's output"))
        if clash is not None:  # before any folder is made for it
            raise UsageError(clash, output)
        made = _make_folders(output.parent)
        check_outputs([Output(output, "the job's output")], run_inputs, force=True)  # ours to replace: decided below
        check_format(output, timeline)
    except SoundifyError as exc:
        _remove_made(made)
        return Outcome(job, "failed", str(exc), exc.exit_code)
    except OSError as exc:
        _remove_made(made)
        return Outcome(
            job, "failed", f"{output.parent}: cannot create the folder ({exc.strerror})", OutputError.exit_code
        )
    media = [_media_state(shot.media_path) for shot in shots] + [f"skipped: {s.media}: {s.reason}" for s in skipped]
    inputs = job_inputs(
        job.input,
        media,
        library_id,
        config,
        _requested_model(options.worker.model),
        options.media_roots,
        options.allow_offline,
        job.choices,
        output,
        options.targets,
    )
    if is_current(output, inputs.fingerprint()):
        return Outcome(job, "current", video_seconds=sum(s.duration for s in shots))
    if output.exists() and not options.force and not is_ours(output):
        _remove_made(made)
        return Outcome(job, "failed", f"{output}: {_NOT_OURS}", OutputError.exit_code)
    spec = JobSpec(job.number, job.input, config, options.media_roots, options.allow_offline, choices)
    return _Planned(job, spec, timeline, shots, inputs, made)


_NOT_OURS = "exists and is not an unedited output of a batch; pass --force to replace it"


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; the folders made, outermost first."""
    missing = [f for f in [folder, *folder.parents] if not f.exists()][::-1]
    made = []
    try:
        for each in missing:
            each.mkdir()
            made.append(each)
    except OSError:
        _remove_made(made)
        raise
    return made


def _remove_made(made: list[Path]) -> None:
    """Remove the folders a job made, innermost first, where they are still empty."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            break


def _media_state(path: Path) -> str:
    try:
        return media_identity(path)
    except OSError as exc:
        return f"unreadable: {path}: {exc.strerror}"


def _requested_model(model: ModelRequest) -> str:
    """The weights asked for (a tag as given, a checkpoint file by its content) and where the tower runs."""
    candidate = Path(model.pretrained).expanduser()
    weights = f"file:{media_identity(candidate)}" if candidate.is_file() else model.pretrained
    return f"{weights} on {model.runtime}/{model.precision}"


def _write(planned: _Planned, result: JobResult, options: BatchOptions) -> Outcome:
    """The job's output and its currency record, or why they could not be written."""
    from soundify_otio.app.api import write_timeline
    from soundify_otio.timeline.writeback import annotated_copy
    from soundify_otio.vision.model import RANDOM_WEIGHTS

    job, annotation = planned.job, result.annotation
    if not result.ok or annotation is None:
        _remove_made(planned.made)
        return Outcome(job, "failed", result.reason, result.exit_code, planned.video_seconds, result.seconds)
    fallback = annotation.pipeline_check and options.worker.model.pretrained != RANDOM_WEIGHTS

    def replaceable(output: Path) -> bool:  # checked again now: a file may have appeared since planning
        return options.force or not output.exists() or is_ours(output)

    try:
        timeline = annotated_copy(planned.timeline, annotation)
        media_base = job.input.resolve().parent
        with recorded(job.output, planned.inputs.fingerprint(), fallback, replaceable) as before_commit:
            write_timeline(
                timeline,
                job.output,
                targets=options.targets,
                force=True,
                media_base=media_base,
                conform=options.conform,
                before_commit=before_commit,
            )
    except SoundifyError as exc:
        _remove_made(planned.made)
        return Outcome(job, "failed", str(exc), exc.exit_code, planned.video_seconds, result.seconds)
    return Outcome(
        job,
        "done",
        video_seconds=planned.video_seconds,
        seconds=result.seconds,
        scenes=len(annotation.scenes),
        placements=len(annotation.placements),
        skipped_shots=[{"clip": s.clip_name, "media": s.media, "reason": s.reason} for s in annotation.skipped_shots],
        pipeline_check=annotation.pipeline_check,
        timings={k: round(v, 3) for k, v in annotation.timings.items()},
    )
