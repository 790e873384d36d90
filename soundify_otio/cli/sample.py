"""`sample-project`: the bundled street-footage project and its generated library."""

from __future__ import annotations

from pathlib import Path

import click

from soundify_otio.cli.app import (
    cli,
    say,
)


@cli.command("sample-project")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), default=Path("soundify-sample"))
@click.pass_context
def sample_project(ctx: click.Context, dest: Path) -> None:
    """Build the sample project (street footage, its edit, a generated sound library) in DEST."""
    from soundify_otio.sample.project import build_sample_project

    project = build_sample_project(dest, progress=ctx.obj["progress"])
    ctx.obj["progress"].close()
    say(ctx, f"timeline: {project.timeline_otio} (also {project.timeline_xml})\nlibrary:  {project.library}")
