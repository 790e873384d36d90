"""`render`: mix an annotated timeline's own sound and its soundify tracks into a preview WAV (and an .mp4)."""

from __future__ import annotations

from pathlib import Path

import click

from soundify_otio.atomic import staged_outputs
from soundify_otio.cli.app import cli, log, output_option, parse_media_root, say, setting_option, timeline_argument
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
@click.option(
    "--ours-only",
    is_flag=True,
    help="Our tracks alone, only kept from clipping (default: the timeline's own sound too, brought to --loudness).",
)
@setting_option("loudness")
@setting_option("true_peak")
@click.option("--media-root", "media_roots", multiple=True, metavar="OLD=NEW", help="Remap a media path prefix.")
@click.option("--force", is_flag=True, help="Overwrite the outputs if they exist.")
@click.pass_context
def render(
    ctx: click.Context,
    timeline_in: Path,
    out: Path,
    with_video: Path | None,
    ours_only: bool,
    loudness: float,
    true_peak: float,
    media_roots: tuple[str, ...],
    force: bool,
) -> None:
    """Bake an annotated timeline into a preview you can listen to: the timeline's own sound (its audio
    clips, and the production sound of video clips no audio clip carries) with our tracks, brought to an
    integrated loudness under a true-peak ceiling; or, with --ours-only, our tracks alone."""
    from soundify_otio.preview.render import check_video_rate, mux_preview, render_preview
    from soundify_otio.timeline.media import media_files
    from soundify_otio.timeline.metadata import is_our_track
    from soundify_otio.timeline.reading import read_timeline

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
            "silence" if ours_only else "the timeline's own sound",
        )
    with staged_outputs(replace=force) as staged:  # the WAV and the video: both written, or neither
        wav = staged.temp_for(out)
        stats = render_preview(
            timeline,
            wav,
            include_timeline_audio=not ours_only,
            loudness=None if ours_only else loudness,
            true_peak=true_peak,
            progress=ctx.obj["progress"],
            base_dir=base,
            media_roots=roots,
        )
        if with_video is not None:
            video = staged.temp_for(with_video)
            mux_preview(timeline, wav, video, progress=ctx.obj["progress"], base_dir=base, media_roots=roots)
    ctx.obj["progress"].close()
    for problem in stats.unheard:
        log.warning("the timeline's own sound is not all in the preview: %s", terminal_safe(problem))
    if stats.loudness is not None and stats.true_peak is not None:
        (before, after), (peak_before, peak_after) = stats.loudness, stats.true_peak
        limited = f" (held {after - loudness:+.1f} LU from {loudness:g} by the {true_peak:g} dBTP ceiling)"
        note = (
            f", loudness {before:.1f} LUFS / true peak {peak_before:.1f} dBTP, {stats.gain_db:+.1f} dB to "
            f"{after:.1f} LUFS / {peak_after:.1f} dBTP" + (limited if stats.ceiling_limited else "")
        )
    else:
        note = f", normalised by {stats.gain_db:.1f} dB to avoid clipping" if stats.normalised else ""
    say(
        ctx,
        f"wrote {terminal_safe(out)}: {stats.duration:.1f} s, peak {stats.peak_dbfs:.1f} dBFS{note}"
        + (f"; {terminal_safe(with_video)}" if with_video else ""),
    )
