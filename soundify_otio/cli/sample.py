"""`sample-project`: the bundled street-footage project and its generated library."""

from __future__ import annotations

from pathlib import Path

import click

from soundify_otio.cli.app import (
    cli,
    say,
)
from soundify_otio.cli.terminal import terminal_safe
from soundify_otio.outputs import check_folder_output


@cli.command("sample-project")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), default=Path("soundify-sample"))
@click.option("--force", is_flag=True, help="Replace files in DEST that are in the sample's way but not its own.")
@click.pass_context
def sample_project(ctx: click.Context, dest: Path, force: bool) -> None:
    """Build the sample project (street footage, its edit, a generated sound library) in DEST."""
    from soundify_otio.sample.project import build_sample_project

    check_folder_output(dest, "DEST")
    project = build_sample_project(dest, progress=ctx.obj["progress"], force=force)
    ctx.obj["progress"].close()
    say(ctx, f"timeline: {terminal_safe(project.timeline_otio)} (also {terminal_safe(project.timeline_xml)})")
    say(ctx, f"library:  {terminal_safe(project.library)}")
