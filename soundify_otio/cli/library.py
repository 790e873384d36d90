"""`library index|search|stats`: build, query and inspect a sound library's index."""

from __future__ import annotations

import json
from pathlib import Path

import click

from soundify_otio.cli.app import cli, model_options, open_model_for
from soundify_otio.cli.terminal import terminal_safe
from soundify_otio.wording import plural


@cli.group()
def library() -> None:
    """Index, search and inspect a sound library."""


_index_option = click.option(
    "--index",
    "index_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Index file (default: FOLDER/.soundify-index.sqlite, else ~/.cache/soundify-otio/).",
)


@library.command("index")
@click.argument("folder", type=click.Path(path_type=Path))
@_index_option
@model_options
@click.option("--fallback-random", is_flag=True, help="If the weights cannot be had, embed with random weights.")
@click.pass_context
def library_index(
    ctx: click.Context,
    folder: Path,
    index_path: Path | None,
    model: str,
    pretrained: str,
    device: str | None,
    fallback_random: bool,
) -> None:
    """Build or update FOLDER's index: file facts, loudness, labels and their text embeddings."""
    from soundify_otio.app.model import ModelRequest
    from soundify_otio.library.sounds import open_library

    sounds = open_library(folder, index_path=index_path, progress=ctx.obj["progress"])
    encoder = open_model_for(ctx, ModelRequest(model, pretrained, device, fallback_random), images=False)
    for kind in ("effect", "ambient"):
        sounds.label_embeddings(encoder, kind)
    ctx.obj["progress"].close()
    stats = sounds.stats()
    for path, reason in sounds.skipped:
        click.echo(f"skipped {terminal_safe(path)}: {terminal_safe(reason)}", err=True)
    click.echo(
        f"{plural(stats['files'], 'sound')} ({plural(stats['kinds'].get('effect', 0), 'effect')}, "
        f"{stats['kinds'].get('ambient', 0)} ambient), {stats['skipped']} skipped; read "
        f"{stats['indexed']['read']}, reused {stats['indexed']['reused']}; index {terminal_safe(stats['index'])}; "
        f"text embeddings for {encoder.model_id}"
    )


@library.command("search")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@_index_option
@model_options
@click.pass_context
def library_search(
    ctx: click.Context,
    folder: Path,
    query: str,
    limit: int,
    index_path: Path | None,
    model: str,
    pretrained: str,
    device: str | None,
) -> None:
    """Rank FOLDER's sounds by CLIP text similarity to QUERY."""
    from soundify_otio.app.model import ModelRequest
    from soundify_otio.library.sounds import open_library

    sounds = open_library(folder, index_path=index_path, progress=ctx.obj["progress"])
    encoder = open_model_for(ctx, ModelRequest(model, pretrained, device), images=False)
    results = sounds.search(encoder, query, limit)
    ctx.obj["progress"].close()
    for entry, score in results:
        click.echo(f"{score:6.3f}  {entry.kind:7}  {terminal_safe(entry.label):30}  {terminal_safe(entry.path, None)}")


@library.command("stats")
@click.argument("folder", type=click.Path(path_type=Path))
@_index_option
@click.pass_context
def library_stats(ctx: click.Context, folder: Path, index_path: Path | None) -> None:
    """Counts per kind, category and format; skipped files and why (JSON)."""
    from soundify_otio.library.sounds import open_library

    stats = open_library(folder, index_path=index_path, progress=ctx.obj["progress"]).stats()
    ctx.obj["progress"].close()
    click.echo(json.dumps(stats, indent=2, default=str))
