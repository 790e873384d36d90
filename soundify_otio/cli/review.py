"""`review`: analyse a timeline, then pick and audition in the browser; "Write timeline" writes OUT."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Any

import click

from soundify_otio.cli.annotate import open_run_from_options, read_picks
from soundify_otio.cli.app import (
    analysis_options,
    choices_option,
    cli,
    conform_media_option,
    output_option,
    say,
    target_option,
    timeline_argument,
)
from soundify_otio.cli.terminal import terminal_safe
from soundify_otio.outputs import Output
from soundify_otio.wording import plural


def default_output(timeline_in: Path) -> Path:
    """`cut.otio` -> `cut.soundify.otio` beside it (the review's OUT when -o is not given)."""
    return timeline_in.with_name(f"{timeline_in.stem}.soundify{timeline_in.suffix or '.otio'}")


@cli.command()
@timeline_argument()
@output_option(
    "Timeline the page's Write button writes (default: IN.soundify.SUFFIX beside IN); its suffix picks "
    "the format, and the choices file goes beside it.",
    required=False,
)
@analysis_options
@target_option
@choices_option("Start from the picks in a choices file (from `suggest`, the report's download or an earlier review).")
@conform_media_option
@click.option("--force", is_flag=True, help="Let the Write button overwrite an OUT that exists already.")
@click.option("--no-browser", is_flag=True, help="Print the page's URL only; do not open a browser.")
@click.pass_context
def review(
    ctx: click.Context,
    timeline_in: Path,
    out: Path | None,
    targets: tuple[str, ...],
    choices_file: Path | None,
    conform: str | None,
    force: bool,
    no_browser: bool,
    **options: Any,
) -> None:
    """Pick and audition each scene's sounds in the browser (a local page); Ctrl-C or closing it ends it.

    Prints the page's URL (with its secret token) as one line on stdout."""
    from soundify_otio.review.server import ReviewServer
    from soundify_otio.review.session import ReviewSession, choices_path_for

    chosen_targets = targets
    out = out or default_output(timeline_in)
    outputs = [Output(out, "-o"), Output(choices_path_for(out), "the choices file beside OUT")]
    extra, picks = read_picks(choices_file)
    analysed = open_run_from_options(ctx, timeline_in, outputs, extra, force, options, timeline_out=out).analysed
    session = ReviewSession(
        analysed.timeline,
        timeline_in,
        analysed.soundify,
        analysed.analysis,
        out,
        chosen_targets,
        choices=analysed.check_choices(picks),
        conform=conform,
        force=force,
    )
    server = ReviewServer(session)
    ctx.obj["progress"].close()
    click.echo(server.url)
    scenes = plural(len(analysed.analysis.scenes), "scene")
    say(ctx, f"review page for {terminal_safe(timeline_in)}: {scenes}; Ctrl-C or close the page to end")
    if not no_browser:  # on a page only this user can read: a command line with the token is visible to all
        webbrowser.open(server.write_launcher().as_uri())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    say(ctx, "review ended")
