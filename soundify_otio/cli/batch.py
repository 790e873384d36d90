"""`batch`: annotate many timelines, on this machine or on a Ray cluster, skipping current ones."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from soundify_otio.cli.app import (
    analysis_options,
    cli,
    conform_media_option,
    parse_media_root,
    run_cache,
    run_config,
    run_model,
    say,
    target_option,
)
from soundify_otio.config import RUN_OPTIONS
from soundify_otio.wording import plural


@cli.command()
@click.argument("jobs_source", metavar="JOBS", type=click.Path(path_type=Path))
@click.option(
    "--out-dir", required=True, type=click.Path(path_type=Path), help="Folder for the outputs (created if missing)."
)
@click.option(
    "--format",
    "output_format",
    default="otio",
    show_default=True,
    help="Output format of jobs without an explicit output: otio, xml, fcpxml, aaf, rpp.",
)
@analysis_options
@target_option
@click.option(
    "--ray",
    "ray_address",
    default=None,
    metavar="ADDRESS|auto",
    help="Run on the Ray cluster at ADDRESS ('auto': the one this machine belongs to); needs the ray extra.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 4096),
    default=None,
    help="Local: worker processes (default 1). Ray: actors (default: one per GPU, else one per CPU).",
)
@conform_media_option
@click.option(
    "--force", is_flag=True, help="Replace existing outputs that a batch did not write (or that were edited)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.pass_context
def batch(
    ctx: click.Context,
    jobs_source: Path,
    out_dir: Path,
    output_format: str,
    targets: tuple[str, ...],
    ray_address: str | None,
    workers: int | None,
    conform: str | None,
    force: bool,
    as_json: bool,
    **options: Any,
) -> int:
    """Annotate every timeline of JOBS: a folder of timelines, or a manifest (.csv or .toml: input,
    output, choices and per-job settings). Jobs whose output is current are skipped; the exit code
    is non-zero when any job failed."""
    from soundify_otio.app.run import check_cache_dir, runtimes_folder
    from soundify_otio.batch.cluster import RayUnavailable
    from soundify_otio.batch.jobs import ManifestError, read_jobs
    from soundify_otio.batch.run import BatchOptions, run_batch
    from soundify_otio.batch.summary import exit_code, summary, summary_lines
    from soundify_otio.batch.worker import WorkerSettings

    settings = {name: options[name] for name in RUN_OPTIONS}
    config = run_config(options)
    try:
        jobs = read_jobs(jobs_source, out_dir, "." + output_format.lstrip(".").lower())
    except ManifestError as exc:
        raise click.BadParameter(str(exc), param_hint="JOBS") from exc
    cache_dir = run_cache(options)
    cache_dir = None if cache_dir is None else check_cache_dir(cache_dir)
    model = replace(run_model(config, options), runtime_cache=runtimes_folder(cache_dir))
    worker = WorkerSettings(model=model, library_dir=options["library_dir"], cache_dir=cache_dir)
    batch_options = BatchOptions(
        settings=settings,
        worker=worker,
        media_roots=tuple(parse_media_root(r) for r in options["media_roots"]),
        allow_offline=options["allow_offline"],
        targets=targets,
        conform=conform,
        force=force,
        workers=workers,
        ray_address=ray_address,
    )
    on_ray = f" on Ray ({ray_address})" if ray_address else ""
    say(ctx, f"batch: {plural(len(jobs), 'job')} from {jobs_source}{on_ray}")
    try:
        run = run_batch(jobs, batch_options, None if ctx.obj["quiet"] else (lambda line: say(ctx, line)))
    except RayUnavailable as exc:
        raise click.UsageError(str(exc)) from exc
    data = summary(run)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        for line in summary_lines(data):
            click.echo(line)
    return exit_code(data)
