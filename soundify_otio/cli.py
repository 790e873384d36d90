"""`soundify-otio`: annotate an editor's timeline with matched, synced, panned sound effects.

Exit codes: 0 success; 1 internal error; 2 usage; 3 bad timeline or media; 4 bad sound library;
5 model or weights unavailable; 6 output not written; 7 bad choices file.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from .config import SETTINGS, Config
from .errors import ModelError, OutputError, SoundifyError

if TYPE_CHECKING:  # the heavy modules load only when a command needs them
    import opentimelineio as otio

    from .pipeline import FrameCache
    from .types import Annotation

log = logging.getLogger("soundify_otio")


class _Progress:
    """A tqdm bar per stage on stderr (hidden with --quiet or when stderr is not a terminal)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit="", leave=False, disable=None,
                                          file=sys.stderr, dynamic_ncols=True)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


class _StderrHandler(logging.Handler):
    """Log records as 'warning: ...' lines on whatever stderr is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _say(ctx: click.Context, message: str) -> None:
    """A line for the person at the terminal (stderr), unless --quiet."""
    if not ctx.obj["quiet"]:
        click.echo(message, err=True)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "soundify-otio"


@click.group()
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or notes; warnings and errors still go to stderr.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug detail.")
@click.version_option(package_name="soundify-otio")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Match sound effects to a cut (Soundify) and write editable automation back to the timeline."""
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet
    ctx.obj["progress"] = _Progress(quiet)
    ctx.call_on_close(ctx.obj["progress"].close)
    log.handlers[:] = [_StderrHandler()]
    log.setLevel(logging.DEBUG if verbose else logging.WARNING)
    log.propagate = False
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.ERROR)  # open_clip's and the hub's chatter


def _setting_option(name: str, flag: str | None = None, type_: Any = None) -> Callable:
    setting = SETTINGS[name]
    return click.option(flag or f"--{name.replace('_', '-')}", name, type=type_ or type(setting.default),
                        default=None, show_default=str(setting.default), help=setting.help)


def model_options(function: Callable) -> Callable:
    """--model / --pretrained / --device, shared by every command that loads CLIP."""
    function = click.option("--device", default=None, help="torch device (default: cuda when available, else cpu).")(function)
    function = _setting_option("pretrained")(function)
    function = _setting_option("model")(function)
    return function


def _load_model(ctx: click.Context, config: Config, device: str | None, fallback_random: bool = False):
    from .model import RANDOM_WEIGHTS, load_model

    try:
        model = load_model(config.model, config.pretrained, device)
    except ModelError as exc:
        if not fallback_random or config.pretrained == RANDOM_WEIGHTS:
            raise
        click.echo(f"note: {exc}", err=True)
        click.echo("note: falling back to RANDOM weights: this run is a PIPELINE CHECK only; "
                   "the sounds it picks mean nothing.", err=True)
        model = load_model(config.model, RANDOM_WEIGHTS, device)
    if model.pipeline_check:
        click.echo(f"WARNING: {config.model} runs with random weights (--pretrained none): "
                   "a pipeline check, not a real annotation. The output is labelled as such.", err=True)
    return model


def analysis_options(function: Callable) -> Callable:
    """Options shared by every command that analyses a timeline (annotate, suggest)."""
    for option in reversed([
        click.option("--library", "library_dir", required=True, type=click.Path(path_type=Path),
                     help="Sound library folder."),
        click.option("--media-root", "media_roots", multiple=True, metavar="OLD=NEW",
                     help="Remap a media path prefix (media moved between machines); repeatable."),
        click.option("--fallback-random", is_flag=True,
                     help="If the weights cannot be had, say so and run with random weights (pipeline check)."),
        click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
                     help="Frame-analysis cache (default: ~/.cache/soundify-otio)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the frame-analysis cache."),
        click.option("--allow-offline", is_flag=True,
                     help="Where no shot's media can be read, pass the timeline through instead of failing."),
        _setting_option("sample_fps"),
        _setting_option("scene_threshold"),
        _setting_option("effects_per_scene"),
        _setting_option("seed"),
    ]):
        function = option(function)
    return model_options(function)


def _analyse(ctx: click.Context, timeline_in: Path, out: Path, force: bool, options: dict[str, Any]):
    """Everything up to the pixel analysis; bad input fails here, before any output exists."""
    from .exporters import check_output
    from .library import open_library
    from .pipeline import Soundify
    from .timeline import find_shots, read_timeline

    config = _config(model=options.pop("model"), pretrained=options.pop("pretrained"),
                     **{k: options.pop(k) for k in ("sample_fps", "scene_threshold", "effects_per_scene", "seed")})
    roots = [_media_root(r) for r in options.pop("media_roots")]
    if out.resolve() == timeline_in.resolve():
        raise click.BadParameter("OUT must differ from IN: the input timeline is never modified", param_hint="-o")
    timeline = read_timeline(timeline_in)
    check_output(out, force)
    library = open_library(options.pop("library_dir"), progress=ctx.obj["progress"])
    model = _load_model(ctx, config, options.pop("device"), options.pop("fallback_random"))
    shots, skipped = find_shots(timeline, timeline_in.resolve().parent, roots)
    cache_dir, no_cache = options.pop("cache_dir"), options.pop("no_cache")
    soundify = Soundify(model, library, config, ctx.obj["progress"], None if no_cache else (cache_dir or _default_cache_dir()))
    analysis = soundify.analyse(shots, skipped, allow_empty=options.pop("allow_offline"))
    for shot in analysis.skipped:
        log.warning("skipped shot '%s' (%s): %s", shot.clip_name, shot.media or "no media", shot.reason)
    return timeline, soundify, analysis


@cli.command()
@click.argument("timeline_in", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Annotated timeline to write; its suffix picks the format (.otio .xml .fcpxml .aaf .rpp).")
@analysis_options
@click.option("--choices", "choices_file", type=click.Path(path_type=Path), default=None,
              help="Picks edited in a file written by `suggest` (default: the top candidates).")
@click.option("--target", "targets", default="resolve,premiere", show_default=True,
              help="Editors whose automation an .otio output carries (resolve, premiere).")
@click.option("--report", "report", type=click.Path(path_type=Path), default=None,
              help="Also write a self-contained HTML report (thumbnails, candidates, curves, preview audio).")
@click.option("--force", is_flag=True, help="Overwrite OUT (and the report) if they exist.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.pass_context
def annotate(ctx: click.Context, timeline_in: Path, out: Path, choices_file: Path | None, targets: str,
             report: Path | None, force: bool, as_json: bool, **options: Any) -> None:
    """Annotate the timeline IN with sound effects and ambiences; write OUT."""
    from .choices import check_choices, known_labels, read_choices
    from .exporters import OTIO_TARGETS, write_output
    from .writeback import annotated_copy, rebase_relative_media

    started = time.perf_counter()
    chosen_targets = [t.strip() for t in targets.split(",") if t.strip()]
    unknown = set(chosen_targets) - set(OTIO_TARGETS)
    if unknown:
        raise click.BadParameter(f"{', '.join(sorted(unknown))}; valid: {', '.join(OTIO_TARGETS)}", param_hint="--target")
    if report is not None and report.exists() and not force:
        raise OutputError("exists; pass --force to overwrite it", report)
    picks = read_choices(choices_file) if choices_file is not None else None  # fail before the long work
    timeline, soundify, analysis = _analyse(ctx, timeline_in, out, force, options)
    choices = None
    if picks is not None:
        labels = known_labels(soundify)
        choices = check_choices(picks, [s.scene.id for s in analysis.scenes], labels["effect"], labels["ambient"])
    annotation = soundify.place(analysis, choices)
    write_started = time.perf_counter()
    result = annotated_copy(timeline, annotation)
    rebase_relative_media(result, timeline_in.resolve().parent, out.resolve().parent)
    write_output(result, out, chosen_targets)
    annotation.timings["write"] = time.perf_counter() - write_started
    if report is not None:
        _write_report(ctx, annotation, result, report, title=timeline_in.name)
    ctx.obj["progress"].close()
    summary = _summary(annotation, result, out, time.perf_counter() - started, soundify.cache)
    _say(ctx, f"wrote {out}: {summary['scene_count']} scenes, {summary['effect_clips']} effect placements on "
              f"{summary['effect_tracks']} SFX tracks, {summary['ambient_beds']} ambient beds; "
              f"{len(annotation.skipped_shots)} shots skipped"
              + (" [PIPELINE CHECK: random weights]" if annotation.pipeline_check else ""))
    if as_json:
        click.echo(json.dumps(summary, indent=2))


def _write_report(ctx: click.Context, annotation, timeline, report: Path, title: str) -> None:
    """The HTML report with the preview audio embedded (rendered to a temporary WAV)."""
    import tempfile

    from .render import render_preview
    from .report import write_report
    from .timeline import timeline_rate

    rate = timeline_rate(timeline)
    origin = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    with tempfile.TemporaryDirectory(prefix="soundify-report-") as folder:
        preview = Path(folder) / "preview.wav"
        render_preview(timeline, preview, progress=ctx.obj["progress"])
        write_report(annotation, report, title=title, timecode_origin=origin, frame_rate=rate, preview_wav=preview)
    _say(ctx, f"wrote {report}")


@cli.command()
@click.argument("timeline_in", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Choices file to write (.toml).")
@analysis_options
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.pass_context
def suggest(ctx: click.Context, timeline_in: Path, out: Path, force: bool, **options: Any) -> None:
    """Rank effects and ambients per scene of IN; write an editable choices file."""
    from .choices import render_choices
    from .timeline import timeline_rate
    from .atomic import atomic_write_text

    if out.suffix.lower() != ".toml":
        raise click.BadParameter("the choices file must end in .toml", param_hint="-o")
    if out.exists() and not force:
        raise click.BadParameter(f"{out} exists; pass --force to overwrite it", param_hint="-o")
    timeline, soundify, analysis = _analyse(ctx, timeline_in, out.with_suffix(".otio"), True, options)
    origin = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    text = render_choices(soundify, analysis, timeline_in.name, out.name, origin, timeline_rate(timeline))
    atomic_write_text(out, text)
    ctx.obj["progress"].close()
    _say(ctx, f"wrote {out}: {len(analysis.scenes)} scenes; edit the picks, then annotate with --choices {out}")


@cli.command()
@click.argument("timeline_in", metavar="ANNOTATED", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Preview WAV to write (48 kHz stereo).")
@click.option("--with-video", type=click.Path(path_type=Path), default=None,
              help="Also write an .mp4 of the timeline's picture with the preview audio.")
@click.option("--include-timeline-audio", is_flag=True, help="Mix in the timeline's own audio tracks too.")
@click.option("--media-root", "media_roots", multiple=True, metavar="OLD=NEW", help="Remap a media path prefix.")
@click.option("--force", is_flag=True, help="Overwrite the outputs if they exist.")
@click.pass_context
def render(ctx: click.Context, timeline_in: Path, out: Path, with_video: Path | None,
           include_timeline_audio: bool, media_roots: tuple[str, ...], force: bool) -> None:
    """Bake the soundify tracks of an annotated timeline into a preview you can listen to."""
    from .render import mux_preview, render_preview
    from .timeline import read_timeline
    from .writeback import is_generated

    for path, suffixes in ((out, (".wav",)), (with_video, (".mp4", ".mov"))):
        if path is None:
            continue
        if path.suffix.lower() not in suffixes:
            raise OutputError(f"must end in {' or '.join(suffixes)}", path)
        if path.exists() and not force:
            raise OutputError("exists; pass --force to overwrite it", path)
    timeline = read_timeline(timeline_in)
    if not any(is_generated(track) for track in timeline.tracks):
        log.warning("%s has no soundify tracks (annotate it first): the preview holds only %s", timeline_in,
                    "the timeline's own audio" if include_timeline_audio else "silence")
    roots = [_media_root(r) for r in media_roots]
    base = timeline_in.resolve().parent
    stats = render_preview(timeline, out, include_timeline_audio=include_timeline_audio,
                           progress=ctx.obj["progress"], base_dir=base, media_roots=roots)
    if with_video is not None:
        mux_preview(timeline, out, with_video, progress=ctx.obj["progress"], base_dir=base, media_roots=roots)
    ctx.obj["progress"].close()
    note = f", normalised by {stats.gain_db:.1f} dB to avoid clipping" if stats.normalised else ""
    _say(ctx, f"wrote {out}: {stats.duration:.1f} s, peak {stats.peak_dbfs:.1f} dBFS{note}"
              + (f"; {with_video}" if with_video else ""))


def _config(**overrides: Any) -> Config:
    try:
        return Config.from_overrides(**overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _media_root(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise click.BadParameter(f"'{text}' is not OLD=NEW", param_hint="--media-root")
    old, new = text.split("=", 1)
    return old, new


def _summary(annotation: Annotation, result: otio.schema.Timeline, out: Path, seconds: float,
             cache: FrameCache) -> dict:
    """The run as data, for --json and the benchmark."""
    from .writeback import is_generated

    roles = [t.metadata.get("soundify", {}).get("role") for t in result.tracks if is_generated(t)]
    return {
        "output": str(out),
        "model": annotation.model, "weights": annotation.weights, "pipeline_check": annotation.pipeline_check,
        "scene_count": len(annotation.scenes),
        "scenes": [{"id": s.scene.id, "start": round(s.scene.start, 3), "end": round(s.scene.end, 3),
                    "effects": [[c.label, round(c.score, 4)] for c in s.effects],
                    "ambients": [[c.label, round(c.score, 4)] for c in s.ambients],
                    "picks": {"effects": list(s.picked_effects), "ambient": s.picked_ambient}}
                   for s in annotation.scenes],
        "placements": [{"label": p.label, "kind": p.kind, "scene": p.scene_id, "start": round(p.start, 3),
                        "end": round(p.end, 3), "sound": str(p.sound.path)} for p in annotation.placements],
        "effect_clips": sum(1 for p in annotation.placements if p.kind == "effect"),
        "effect_tracks": roles.count("effects"),
        "ambient_beds": sum(1 for p in annotation.placements if p.kind == "ambient"),
        "skipped_shots": [{"clip": s.clip_name, "media": s.media, "reason": s.reason} for s in annotation.skipped_shots],
        "timings": {k: round(v, 3) for k, v in {**annotation.timings, "total": seconds}.items()},
        "cache": {"hits": cache.hits, "misses": cache.misses},
    }


@cli.group()
def library() -> None:
    """Index, search and inspect a sound library."""


_index_option = click.option("--index", "index_path", type=click.Path(path_type=Path), default=None,
                             help="Index file (default: FOLDER/.soundify-index.sqlite, else ~/.cache/soundify-otio/).")


@library.command("index")
@click.argument("folder", type=click.Path(path_type=Path))
@_index_option
@model_options
@click.option("--fallback-random", is_flag=True, help="If the weights cannot be had, embed with random weights.")
@click.pass_context
def library_index(ctx: click.Context, folder: Path, index_path: Path | None, model: str | None,
                  pretrained: str | None, device: str | None, fallback_random: bool) -> None:
    """Build or update FOLDER's index: file facts, loudness, labels and their text embeddings."""
    from .library import open_library

    sounds = open_library(folder, index_path=index_path, progress=ctx.obj["progress"])
    encoder = _load_model(ctx, _config(model=model, pretrained=pretrained), device, fallback_random)
    for kind in ("effect", "ambient"):
        sounds.label_embeddings(encoder, kind)
    ctx.obj["progress"].close()
    stats = sounds.stats()
    for path, reason in sounds.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    click.echo(f"{stats['files']} sounds ({stats['kinds'].get('effect', 0)} effects, "
               f"{stats['kinds'].get('ambient', 0)} ambient), {stats['skipped']} skipped; read "
               f"{stats['indexed']['read']}, reused {stats['indexed']['reused']}; index {stats['index']}; "
               f"text embeddings for {encoder.model_id}")


@library.command("search")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@_index_option
@model_options
@click.pass_context
def library_search(ctx: click.Context, folder: Path, query: str, limit: int, index_path: Path | None,
                   model: str | None, pretrained: str | None, device: str | None) -> None:
    """Rank FOLDER's sounds by CLIP text similarity to QUERY."""
    from .library import open_library

    sounds = open_library(folder, index_path=index_path, progress=ctx.obj["progress"])
    encoder = _load_model(ctx, _config(model=model, pretrained=pretrained), device)
    results = sounds.search(encoder, query, limit)
    ctx.obj["progress"].close()
    for entry, score in results:
        click.echo(f"{score:6.3f}  {entry.kind:7}  {entry.label:30}  {entry.path}")


@library.command("stats")
@click.argument("folder", type=click.Path(path_type=Path))
@_index_option
@click.pass_context
def library_stats(ctx: click.Context, folder: Path, index_path: Path | None) -> None:
    """Counts per kind, category and format; skipped files and why (JSON)."""
    from .library import open_library

    stats = open_library(folder, index_path=index_path, progress=ctx.obj["progress"]).stats()
    ctx.obj["progress"].close()
    click.echo(json.dumps(stats, indent=2, default=str))


@cli.command("sample-project")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), default=Path("soundify-sample"))
@click.pass_context
def sample_project(ctx: click.Context, dest: Path) -> None:
    """Build the sample project (street footage, its edit, a generated sound library) in DEST."""
    from .sample import build_sample_project

    project = build_sample_project(dest, progress=ctx.obj["progress"])
    ctx.obj["progress"].close()
    _say(ctx, f"timeline: {project.timeline_otio} (also {project.timeline_xml})\nlibrary:  {project.library}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping SoundifyError subclasses to their exit codes."""
    from .media import limit_malloc_arenas

    limit_malloc_arenas()
    try:
        result = cli.main(args=argv, prog_name="soundify-otio", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SoundifyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: one line, the traceback with --verbose
        log.debug("internal error", exc_info=True)
        click.echo(f"internal error: {type(exc).__name__}: {exc} (run with --verbose for the traceback; "
                   "please report it)", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
