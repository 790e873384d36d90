"""`annotate` and `suggest`: analyse a timeline, then write it annotated or write the picks to edit."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from soundify_otio.atomic import StagedOutputs, staged_outputs
from soundify_otio.cli.app import (
    DIALOGUE_SETTINGS,
    analysis_options,
    check_cache_dir,
    choices_option,
    cli,
    conform_media_option,
    default_cache_dir,
    load_model,
    log,
    output_option,
    parse_config,
    parse_media_root,
    say,
    target_option,
    timeline_argument,
    without_collection,
)
from soundify_otio.cli.terminal import terminal_safe
from soundify_otio.outputs import Input, Output, check_outputs
from soundify_otio.wording import plural

if TYPE_CHECKING:  # the heavy modules load only when a command needs them
    import opentimelineio as otio

    from soundify_otio.pipeline.api import TimelineAnalysis
    from soundify_otio.pipeline.choices import ChoicesFile
    from soundify_otio.pipeline.frame_cache import FrameCache
    from soundify_otio.types import Annotation


def _run_inputs(timeline_in: Path, timeline: otio.schema.Timeline, roots, library, extra: list[Input]) -> list[Input]:
    """Every file the run reads: IN, its clips' media, the library's sounds, the choices file."""
    from soundify_otio.timeline.reading import media_files

    inputs = [Input(timeline_in, "IN"), *extra]
    inputs += [Input(p, f"the media of clip '{name}'") for name, p in media_files(timeline, _base(timeline_in), roots)]
    inputs += [Input(e.path, "a sound of the library") for e in library.entries]
    inputs += [Input(p, "a file of the library") for p, _ in library.skipped]
    inputs.append(Input(library.root, "the sound library", folder=True))
    return inputs


def _base(timeline_in: Path) -> Path:
    return timeline_in.resolve().parent


def read_picks(choices_file: Path | None) -> tuple[list[Input], ChoicesFile | None]:
    """--choices as an input of the run (never overwritten) and its picks, read now to fail before the long work."""
    if choices_file is None:
        return [], None
    from soundify_otio.pipeline.choices import read_choices

    return [Input(choices_file, "the choices file")], read_choices(choices_file)


def _analyse(
    ctx: click.Context,
    timeline_in: Path,
    outputs: list[Output],
    extra_inputs: list[Input],
    force: bool,
    options: dict[str, Any],
    timeline_out: Path | None = None,
    report: Path | None = None,
) -> TimelineAnalysis:
    """Everything up to the pixel analysis; bad input and every output that cannot be written fail
    here, before any work and before any output exists."""
    with without_collection(ctx):  # torch, scipy, the decoders: many objects, all kept to the end, no garbage
        from soundify_otio.exporters import check_output
        from soundify_otio.library.sounds import open_library
        from soundify_otio.pipeline.api import Session
        from soundify_otio.timeline.reading import read_timeline

    config = parse_config(
        model=options.pop("model"),
        pretrained=options.pop("pretrained"),
        **{
            k: options.pop(k)
            for k in ("sample_fps", "scene_threshold", "effects_per_scene", "seed", "fine_sync", *DIALOGUE_SETTINGS)
        },
    )
    roots = [parse_media_root(r) for r in options.pop("media_roots")]
    check_outputs(outputs, [Input(timeline_in, "IN"), *extra_inputs], force)  # the cheap checks first
    timeline = read_timeline(timeline_in)
    if report is not None and preview_is_linked(timeline):  # a third output, checked like the others
        outputs.append(Output(linked_preview(report), "--report's preview"))
    if timeline_out is not None:
        check_output(timeline_out, True, timeline)  # the format can hold it: known before the analysis
    library = open_library(options.pop("library_dir"), progress=ctx.obj["progress"])
    check_outputs(outputs, _run_inputs(timeline_in, timeline, roots, library, extra_inputs), force)
    cache_dir, no_cache = options.pop("cache_dir"), options.pop("no_cache")
    cache = None if no_cache else check_cache_dir(cache_dir or default_cache_dir())
    model = load_model(
        ctx,
        config,
        options.pop("device"),
        options.pop("fallback_random"),
        options.pop("runtime"),
        options.pop("precision"),
        (cache or default_cache_dir()) / "runtimes",
    )
    session = Session(model, library, config, cache)
    analysed = session.analyse(
        timeline,
        base_dir=_base(timeline_in),
        media_roots=roots,
        allow_offline=options.pop("allow_offline"),
        progress=ctx.obj["progress"],
    )
    tower = model.runtime_info()
    if "int8_agreement_with_fp32" in tower:
        agreement = tower["int8_agreement_with_fp32"]
        say(
            ctx,
            f"int8 image tower ({tower['runtime']}), calibrated on {agreement['frames']} of this run's frames: "
            f"embedding cosine to fp32 min {agreement['embedding_cosine_min']:.6f}, "
            f"mean {agreement['embedding_cosine_mean']:.6f} (recorded in the output's metadata)",
        )
    elif tower.get("fallback_reason"):
        say(ctx, f"note: the image tower ran on eager torch ({tower['requested']} failed: {tower['fallback_reason']})")
    return analysed


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
    with without_collection(ctx):  # as in _analyse: this import brings torch
        from soundify_otio.pipeline.api import write_timeline

    started = time.perf_counter()
    chosen_targets = targets
    outputs = [Output(out, "-o")] + ([Output(report, "--report")] if report is not None else [])
    extra, picks = read_picks(choices_file)
    roots = [parse_media_root(r) for r in options["media_roots"]]  # the report's preview hears the media too
    analysed = _analyse(ctx, timeline_in, outputs, extra, force, options, timeline_out=out, report=report)
    result, annotation = analysed.annotate(picks)
    write_started = time.perf_counter()
    with staged_outputs(replace=force) as staged:  # the report is made and checked first: OUT only if it can be
        if report is not None:
            _write_report(ctx, annotation, result, staged, report, timeline_in, roots, analysed.soundify)
            staged.verify()
        write_timeline(result, out, targets=chosen_targets, force=force, media_base=_base(timeline_in), conform=conform)
        annotation.timings["write"] = time.perf_counter() - write_started
    ctx.obj["progress"].close()
    summary = _summary(annotation, result, out, time.perf_counter() - started, analysed.soundify.cache)
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
            if linked in (o.path for o in outputs)
            else ""
        )
        say(ctx, f"wrote {terminal_safe(report)}{also}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))


def _write_report(
    ctx: click.Context,
    annotation,
    timeline,
    staged: StagedOutputs,
    report: Path,
    timeline_in: Path,
    media_roots,
    soundify,
) -> None:
    """The HTML report with the preview audio and a listen button per candidate. The preview is the
    mix `render` makes by default: the timeline's own sound (its media found as IN's are) with our
    tracks, brought to the configured loudness under the true-peak ceiling. It is rendered beside the
    report (a full TMPDIR does not matter; a full disk fails the run before anything is renamed): a
    scratch file when it is embedded, else an output of the run that the report links to
    (REPORT.preview.wav), staged under its own name so the link is right."""
    from soundify_otio.preview.render import render_preview
    from soundify_otio.report.html import write_report
    from soundify_otio.review.auditions import audition_files
    from soundify_otio.timeline.reading import timeline_rate

    rate = timeline_rate(timeline)
    origin = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    linked = preview_is_linked(timeline)
    if linked:
        preview = staged.temp_for(linked_preview(report), same_name=True)
    else:
        preview = staged.scratch_for(report, ".preview.wav")
    config = soundify.config
    stats = render_preview(
        timeline,
        preview,
        include_timeline_audio=True,
        loudness=config.loudness,
        true_peak=config.true_peak,
        progress=ctx.obj["progress"],
        base_dir=_base(timeline_in),
        media_roots=media_roots,
    )
    for problem in stats.unheard:
        log.warning("the report's preview lacks some of the timeline's own sound: %s", terminal_safe(problem))
    write_report(
        annotation,
        staged.temp_for(report, same_name=linked),
        title=timeline_in.name,
        timecode_origin=origin,
        frame_rate=rate,
        preview_wav=preview,
        preview_mix=stats.mix(),
        auditions=audition_files(soundify.library, annotation, soundify.config.seed),
    )


_PREVIEW_BYTES_PER_SECOND = 48000 * 2 * 4
"""The report's preview WAV: 48 kHz, stereo, 32-bit float."""


def preview_is_linked(timeline: otio.schema.Timeline) -> bool:
    """Whether the report's preview will be too large to embed (linked beside the report instead);
    decided from the timeline's length, with a margin, before the work starts."""
    from soundify_otio.report.html import MAX_EMBED_BYTES

    seconds = timeline.tracks.duration().to_seconds()
    return seconds * _PREVIEW_BYTES_PER_SECOND > 0.9 * MAX_EMBED_BYTES


def linked_preview(report: Path) -> Path:
    """Where a linked preview goes: beside the report, named after it."""
    return report.with_name(f"{report.stem}.preview.wav")


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
    from soundify_otio.timeline.reading import timeline_rate

    analysed = _analyse(ctx, timeline_in, [Output(out, "-o", (".toml",))], [], force, options)
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
