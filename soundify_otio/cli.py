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
from typing import Any, Callable

import click

from .config import SETTINGS, Config
from .errors import ModelError, SoundifyError

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


def _say(ctx: click.Context, message: str) -> None:
    """A line for the person at the terminal (stderr), unless --quiet."""
    if not ctx.obj["quiet"]:
        click.echo(message, err=True)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "soundify-otio"


@click.group()
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or notes; errors still go to stderr.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug detail.")
@click.version_option(package_name="soundify-otio")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Match sound effects to a cut (Soundify) and write editable automation back to the timeline."""
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet
    logging.basicConfig(level=logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING),
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("root", "huggingface_hub", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR if not verbose else logging.DEBUG)


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


@cli.command()
@click.argument("timeline_in", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="Annotated timeline to write; its suffix picks the format (.otio .xml .fcpxml .aaf .rpp).")
@click.option("--library", "library_dir", required=True, type=click.Path(path_type=Path), help="Sound library folder.")
@model_options
@click.option("--media-root", "media_roots", multiple=True, metavar="OLD=NEW",
              help="Remap a media path prefix (media moved between machines); repeatable.")
@click.option("--target", "targets", default="resolve,premiere", show_default=True,
              help="Editors whose automation an .otio output carries (resolve, premiere).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.option("--fallback-random", is_flag=True,
              help="If the weights cannot be had, say so and run with random weights (pipeline check).")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="Frame-analysis cache (default: ~/.cache/soundify-otio).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the frame-analysis cache.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@_setting_option("sample_fps")
@_setting_option("scene_threshold")
@_setting_option("effects_per_scene")
@_setting_option("seed")
@click.pass_context
def annotate(ctx: click.Context, timeline_in: Path, out: Path, library_dir: Path, model: str | None,
             pretrained: str | None, device: str | None, media_roots: tuple[str, ...], targets: str, force: bool,
             fallback_random: bool, cache_dir: Path | None, no_cache: bool, as_json: bool, **settings: Any) -> None:
    """Annotate the timeline IN with sound effects and ambiences; write OUT."""
    from .exporters import OTIO_TARGETS, check_output, write_output
    from .library import open_library
    from .pipeline import Soundify
    from .timeline import find_shots, read_timeline
    from .writeback import annotated_copy

    started = time.perf_counter()
    config = _config(model=model, pretrained=pretrained, **settings)
    roots = [_media_root(r) for r in media_roots]
    chosen_targets = [t.strip() for t in targets.split(",") if t.strip()]
    unknown = set(chosen_targets) - set(OTIO_TARGETS)
    if unknown:
        raise click.BadParameter(f"{', '.join(sorted(unknown))}; valid: {', '.join(OTIO_TARGETS)}", param_hint="--target")
    if out.resolve() == timeline_in.resolve():
        raise click.BadParameter("OUT must differ from IN: the input timeline is never modified", param_hint="-o")
    timeline = read_timeline(timeline_in)
    check_output(out, force)
    progress = _Progress(ctx.obj["quiet"])
    try:
        library = open_library(library_dir, progress=progress)
        model_ = _load_model(ctx, config, device, fallback_random)
        shots, skipped = find_shots(timeline, timeline_in.resolve().parent, roots)
        soundify = Soundify(model_, library, config, progress, None if no_cache else (cache_dir or _default_cache_dir()))
        analysis = soundify.analyse(shots, skipped)
        annotation = soundify.place(analysis)
        write_started = time.perf_counter()
        result = annotated_copy(timeline, annotation)
        write_output(result, out, chosen_targets)
        annotation.timings["write"] = time.perf_counter() - write_started
    finally:
        progress.close()
    for shot in annotation.skipped_shots:
        log.warning("skipped shot '%s' (%s): %s", shot.clip_name, shot.media or "no media", shot.reason)
    summary = _summary(annotation, out, time.perf_counter() - started, soundify.cache)
    _say(ctx, f"wrote {out}: {summary['scene_count']} scenes, {summary['effect_clips']} effect placements on "
              f"{summary['effect_tracks']} SFX tracks, {summary['ambient_beds']} ambient beds; "
              f"{len(annotation.skipped_shots)} shots skipped"
              + (" [PIPELINE CHECK: random weights]" if annotation.pipeline_check else ""))
    if as_json:
        click.echo(json.dumps(summary, indent=2))


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


def _summary(annotation, out: Path, seconds: float, cache) -> dict:
    """The run as data, for --json and the benchmark."""
    from .writeback import _pack
    effects = [p for p in annotation.placements if p.kind == "effect"]
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
        "effect_clips": len(effects),
        "effect_tracks": len({id(lane) for lane in _pack(effects, 1000.0)}),
        "ambient_beds": sum(1 for p in annotation.placements if p.kind == "ambient"),
        "skipped_shots": [{"clip": s.clip_name, "media": s.media, "reason": s.reason} for s in annotation.skipped_shots],
        "timings": {k: round(v, 3) for k, v in {**annotation.timings, "total": seconds}.items()},
        "cache": {"hits": cache.hits, "misses": cache.misses},
    }


@cli.command("sample-project")
@click.argument("dest", type=click.Path(path_type=Path), default=Path("sample_projects"))
@click.pass_context
def sample_project(ctx: click.Context, dest: Path) -> None:
    """Fetch the sample footage and generate the sample sound library into DEST."""
    from .sample import build_sample_project

    progress = _Progress(ctx.obj["quiet"])
    try:
        project = build_sample_project(dest, progress=progress)
    finally:
        progress.close()
    _say(ctx, f"sample project ready in {dest}: {project}")


def main() -> None:
    """Entry point: run the CLI, mapping SoundifyError subclasses to their exit codes."""
    try:
        result = cli.main(standalone_mode=False)
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
    sys.exit(result if isinstance(result, int) else 0)
