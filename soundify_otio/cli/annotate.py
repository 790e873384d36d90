"""`annotate` and `suggest`: analyse a timeline, then write it annotated or write the picks to edit."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from soundify_otio.cli.app import (
    analysis_options,
    choices_option,
    cli,
    conform_media_option,
    output_option,
    parse_media_root,
    run_cache,
    run_config,
    run_model,
    say,
    target_option,
    timeline_argument,
    without_collection,
)
from soundify_otio.cli.terminal import terminal_safe
from soundify_otio.outputs import Input, Output
from soundify_otio.wording import plural

if TYPE_CHECKING:  # the heavy modules load only when a command needs them
    import opentimelineio as otio

    from soundify_otio.app.run import Run
    from soundify_otio.pipeline.choices import ChoicesFile
    from soundify_otio.pipeline.frame_cache import FrameCache
    from soundify_otio.types import Annotation


def read_picks(choices_file: Path | None) -> tuple[list[Input], ChoicesFile | None]:
    """--choices as an input of the run (never overwritten) and its picks, read now to fail before the long work."""
    if choices_file is None:
        return [], None
    from soundify_otio.pipeline.choices import read_choices

    return [Input(choices_file, "the choices file")], read_choices(choices_file)


def open_run_from_options(
    ctx: click.Context,
    timeline_in: Path,
    outputs: list[Output],
    extra_inputs: list[Input],
    force: bool,
    options: dict[str, Any],
    timeline_out: Path | None = None,
    report: Path | None = None,
) -> Run:
    """The application's run (app.run.open_run) from an analysing command's options: bad input and
    every output that cannot be written fail before any work and before any output exists."""
    with without_collection(ctx):  # torch, scipy, the decoders: many objects, all kept to the end, no garbage
        from soundify_otio.app.run import RunRequest, open_run

    config = run_config(options)
    request = RunRequest(
        timeline_in=timeline_in,
        library_dir=options.pop("library_dir"),
        config=config,
        model=run_model(config, options),
        outputs=tuple(outputs),
        extra_inputs=tuple(extra_inputs),
        force=force,
        media_roots=tuple(parse_media_root(r) for r in options.pop("media_roots")),
        allow_offline=options.pop("allow_offline"),
        cache_dir=run_cache(options),
        timeline_out=timeline_out,
        report=report,
    )
    with without_collection(ctx):
        return open_run(request, lambda line: say(ctx, terminal_safe(line, None)), ctx.obj["progress"])


@cli.command()
@timeline_argument()
@output_option("Annotated timeline to write; its suffix picks the format (.otio .xml .fcpxml .aaf .rpp).")
@analysis_options
@choices_option("Picks edited in a file written by `suggest` (default: the top candidates).")
@target_option
@click.option(
    "--report",
    "report",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a self-contained HTML report (thumbnails, candidates, curves, preview audio).",
)
@conform_media_option
@click.option("--force", is_flag=True, help="Overwrite OUT (and the report) if they exist.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.pass_context
def annotate(
    ctx: click.Context,
    timeline_in: Path,
    out: Path,
    choices_file: Path | None,
    targets: tuple[str, ...],
    report: Path | None,
    conform: str | None,
    force: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Annotate the timeline IN with sound effects and ambiences; write OUT."""
    from soundify_otio.app.run import linked_preview, write_annotated

    started = time.perf_counter()
    outputs = [Output(out, "-o")] + ([Output(report, "--report")] if report is not None else [])
    extra, picks = read_picks(choices_file)
    run = open_run_from_options(ctx, timeline_in, outputs, extra, force, options, timeline_out=out, report=report)
    result, annotation = write_annotated(
        run,
        picks,
        targets=targets,
        conform=conform,
        say=lambda line: say(ctx, terminal_safe(line, None)),
        progress=ctx.obj["progress"],
    )
    ctx.obj["progress"].close()
    summary = _summary(annotation, result, out, time.perf_counter() - started, run.analysed.soundify.cache)
    say(
        ctx,
        f"wrote {terminal_safe(out)}: {plural(summary['scene_count'], 'scene')}, "
        f"{plural(summary['effect_clips'], 'effect placement')} on {plural(summary['effect_tracks'], 'SFX track')}, "
        f"{plural(summary['ambient_beds'], 'ambient bed')}; {plural(len(annotation.skipped_shots), 'shot')} skipped"
        + (" [PIPELINE CHECK: random weights]" if annotation.pipeline_check else ""),
    )
    if report is not None:
        linked = linked_preview(report)
        also = (
            f" (its preview, too large to embed: {terminal_safe(linked)})"
            if linked in (o.path for o in run.outputs)
            else ""
        )
        say(ctx, f"wrote {terminal_safe(report)}{also}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))


@cli.command()
@timeline_argument()
@output_option("Choices file to write (.toml).")
@analysis_options
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.pass_context
def suggest(ctx: click.Context, timeline_in: Path, out: Path, force: bool, **options: Any) -> None:
    """Rank effects and ambients per scene of IN; write an editable choices file."""
    from soundify_otio.atomic import atomic_write_text
    from soundify_otio.pipeline.choices import render_choices
    from soundify_otio.timeline.timecode import timeline_rate

    analysed = open_run_from_options(ctx, timeline_in, [Output(out, "-o", (".toml",))], [], force, options).analysed
    timeline, analysis = analysed.timeline, analysed.analysis
    origin = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    text = render_choices(analysed.soundify, analysis, timeline_in.name, out.name, origin, timeline_rate(timeline))
    atomic_write_text(out, text, replace=force)
    ctx.obj["progress"].close()
    shown = terminal_safe(out)
    scenes = plural(len(analysis.scenes), "scene")
    say(ctx, f"wrote {shown}: {scenes}; edit the picks, then annotate with --choices {shown}")


def _summary(
    annotation: Annotation, result: otio.schema.Timeline, out: Path, seconds: float, cache: FrameCache
) -> dict:
    """The run as data, for --json and the benchmark."""
    from soundify_otio.timeline.metadata import is_generated, track_role

    roles = [track_role(t) for t in result.tracks if is_generated(t)]
    return {
        "output": str(out),
        "model": annotation.model,
        "weights": annotation.weights,
        "pipeline_check": annotation.pipeline_check,
        "image_tower": annotation.image_tower,
        "scene_count": len(annotation.scenes),
        "scenes": [
            {
                "id": s.scene.id,
                "start": round(s.scene.start, 3),
                "end": round(s.scene.end, 3),
                "effects": [[c.label, round(c.score, 4)] for c in s.effects],
                "ambients": [[c.label, round(c.score, 4)] for c in s.ambients],
                "picks": {"effects": list(s.picked_effects), "ambient": s.picked_ambient},
                "speech": [[round(r.start, 3), round(r.end, 3), round(r.confidence, 3)] for r in s.speech],
                "dialogue_lufs": None if s.dialogue_lufs is None else round(s.dialogue_lufs, 2),
                "ducked_db": s.ducking,
                **({"notes": list(s.notes)} if s.notes else {}),
            }
            for s in annotation.scenes
        ],
        "placements": [
            {
                "label": p.label,
                "kind": p.kind,
                "scene": p.scene_id,
                "start": round(p.start, 3),
                "end": round(p.end, 3),
                "sound": str(p.sound.path),
                **({"hit": round(p.onset, 3)} if p.onset is not None else {}),
            }
            for p in annotation.placements
        ],
        "effect_clips": sum(1 for p in annotation.placements if p.kind == "effect"),
        "hits": sum(1 for p in annotation.placements if p.onset is not None),
        "effect_tracks": roles.count("effects"),
        "ambient_beds": sum(1 for p in annotation.placements if p.kind == "ambient"),
        "skipped_shots": [
            {"clip": s.clip_name, "media": s.media, "reason": s.reason} for s in annotation.skipped_shots
        ],
        "timings": {k: round(v, 3) for k, v in {**annotation.timings, "total": seconds}.items()},
        "cache": {"hits": cache.hits, "misses": cache.misses},
    }
