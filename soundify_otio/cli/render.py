"""`render`: bake an annotated timeline's soundify tracks into a preview WAV (and an .mp4)."""

from __future__ import annotations

from pathlib import Path

import click

from soundify_otio.atomic import staged_outputs
from soundify_otio.cli.app import cli, log, output_option, parse_media_root, say, timeline_argument
from soundify_otio.cli.terminal import terminal_safe
from soundify_otio.outputs import Input, Output, check_outputs


@cli.command()
@timeline_argument("ANNOTATED")
@output_option("Preview WAV to write (48 kHz stereo).")
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
    from soundify_otio.review.render import check_video_rate, mux_preview, render_preview
    from soundify_otio.timeline.metadata import is_our_track
    from soundify_otio.timeline.reading import media_files, read_timeline

    outputs = [Output(out, "-o", (".wav",))] + (
        [Output(with_video, "--with-video", (".mp4", ".mov"))] if with_video else []
    )
    check_outputs(outputs, [Input(timeline_in, "ANNOTATED")], force)
    timeline = read_timeline(timeline_in)
    roots = [parse_media_root(r) for r in media_roots]
    base = timeline_in.resolve().parent
    media = [Input(p, f"the media of clip '{name}'") for name, p in media_files(timeline, base, roots)]
    check_outputs(outputs, [Input(timeline_in, "ANNOTATED"), *media], force)
    if with_video is not None:
        check_video_rate(timeline, timeline_in)  # before the audio is rendered
    if not any(is_our_track(track, timeline) for track in timeline.tracks):
        log.warning(
            "%s has no soundify tracks (annotate it first): the preview holds only %s",
            timeline_in,
            "the timeline's own audio" if include_timeline_audio else "silence",
        )
    with staged_outputs(replace=force) as staged:  # the WAV and the video: both written, or neither
        wav = staged.temp_for(out)
        stats = render_preview(
            timeline,
            wav,
            include_timeline_audio=include_timeline_audio,
            progress=ctx.obj["progress"],
            base_dir=base,
            media_roots=roots,
        )
        if with_video is not None:
            video = staged.temp_for(with_video)
            mux_preview(timeline, wav, video, progress=ctx.obj["progress"], base_dir=base, media_roots=roots)
    ctx.obj["progress"].close()
    note = f", normalised by {stats.gain_db:.1f} dB to avoid clipping" if stats.normalised else ""
    say(
        ctx,
        f"wrote {terminal_safe(out)}: {stats.duration:.1f} s, peak {stats.peak_dbfs:.1f} dBFS{note}"
        + (f"; {terminal_safe(with_video)}" if with_video else ""),
    )
