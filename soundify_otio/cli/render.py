"""`render`: bake an annotated timeline's soundify tracks into a preview WAV (and an .mp4)."""

from __future__ import annotations

from pathlib import Path

import click

from soundify_otio.cli.app import (
    cli,
    log,
    parse_media_root,
    say,
)
from soundify_otio.errors import OutputError


@cli.command()
@click.argument("timeline_in", metavar="ANNOTATED", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Preview WAV to write (48 kHz stereo).",
)
@click.option(
    "--with-video",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write an .mp4 of the timeline's picture with the preview audio.",
)
@click.option("--include-timeline-audio", is_flag=True, help="Mix in the timeline's own audio tracks too.")
@click.option("--media-root", "media_roots", multiple=True, metavar="OLD=NEW", help="Remap a media path prefix.")
@click.option("--force", is_flag=True, help="Overwrite the outputs if they exist.")
@click.pass_context
def render(
    ctx: click.Context,
    timeline_in: Path,
    out: Path,
    with_video: Path | None,
    include_timeline_audio: bool,
    media_roots: tuple[str, ...],
    force: bool,
) -> None:
    """Bake the soundify tracks of an annotated timeline into a preview you can listen to."""
    from soundify_otio.review.render import mux_preview, render_preview
    from soundify_otio.timeline.metadata import is_our_track
    from soundify_otio.timeline.reading import read_timeline

    for path, suffixes in ((out, (".wav",)), (with_video, (".mp4", ".mov"))):
        if path is None:
            continue
        if path.suffix.lower() not in suffixes:
            raise OutputError(f"must end in {' or '.join(suffixes)}", path)
        if path.exists() and not force:
            raise OutputError("exists; pass --force to overwrite it", path)
    timeline = read_timeline(timeline_in)
    if not any(is_our_track(track, timeline) for track in timeline.tracks):
        log.warning(
            "%s has no soundify tracks (annotate it first): the preview holds only %s",
            timeline_in,
            "the timeline's own audio" if include_timeline_audio else "silence",
        )
    roots = [parse_media_root(r) for r in media_roots]
    base = timeline_in.resolve().parent
    stats = render_preview(
        timeline,
        out,
        include_timeline_audio=include_timeline_audio,
        progress=ctx.obj["progress"],
        base_dir=base,
        media_roots=roots,
    )
    if with_video is not None:
        mux_preview(timeline, out, with_video, progress=ctx.obj["progress"], base_dir=base, media_roots=roots)
    ctx.obj["progress"].close()
    note = f", normalised by {stats.gain_db:.1f} dB to avoid clipping" if stats.normalised else ""
    say(
        ctx,
        f"wrote {out}: {stats.duration:.1f} s, peak {stats.peak_dbfs:.1f} dBFS{note}"
        + (f"; {with_video}" if with_video else ""),
    )
