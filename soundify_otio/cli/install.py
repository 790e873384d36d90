"""`install resolve`: put the Soundify script in DaVinci Resolve's Workspace > Scripts menu."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from soundify_otio.cli.app import analysis_options, cli, say
from soundify_otio.errors import LibraryError
from soundify_otio.user_cache import user_cache_dir


@cli.group()
def install() -> None:
    """Install soundify-otio into an editor."""


def _forwarded(ctx: click.Context, options: dict[str, Any]) -> list[str]:
    """The analysis options given on this command line, as `annotate` and `review` take them."""
    args: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name not in options or param.name == "library_dir":
            continue
        value = options[param.name]
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE or value in (None, (), False):
            continue
        values = value if param.multiple else (value,)
        for item in values:
            if param.is_flag:
                args.append(param.opts[0])
            else:
                args += [param.opts[0], str(Path(item).resolve()) if isinstance(item, Path) else str(item)]
    return args


@install.command("resolve")
@analysis_options
@click.option(
    "--scripts-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Install here instead of this user's Resolve scripts folder (Fusion/Scripts/Utility).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the script keeps each run's exported and annotated timelines "
    "(default: ~/.cache/soundify-otio/resolve).",
)
@click.option("--no-review", is_flag=True, help="Do not start the review page after importing.")
@click.option("--no-browser", is_flag=True, help="Start the review page without opening a browser (URL printed only).")
@click.option("--dry-run", is_flag=True, help="Print where the script would go and its settings; write nothing.")
@click.option("--force", is_flag=True, help="Replace a Soundify.py in the scripts folder that no install wrote.")
@click.pass_context
def install_resolve(
    ctx: click.Context,
    scripts_dir: Path | None,
    work_dir: Path | None,
    no_review: bool,
    no_browser: bool,
    dry_run: bool,
    force: bool,
    **options: Any,
) -> None:
    """Install the script that annotates Resolve's current timeline (Workspace > Scripts > Soundify).

    It exports the timeline as OTIO (Resolve 18.5+), annotates it with this library and these options,
    imports the result as a new timeline beside the original and starts the review page."""
    from soundify_otio.integrations.resolve import SCRIPT_NAME, install, scripts_folder

    library = Path(options["library_dir"]).resolve()
    if not library.is_dir():
        raise LibraryError("is not a folder", library)
    config = {
        "python": sys.executable,
        "library": str(library),
        "options": _forwarded(ctx, options),
        "work_dir": str((work_dir or user_cache_dir() / "resolve").resolve()),
        "review": not no_review,
        "open_browser": not no_browser,
    }
    folder = (scripts_dir or scripts_folder()).resolve()
    if dry_run:
        click.echo(str(folder / SCRIPT_NAME))
        say(ctx, "settings: " + json.dumps(config, indent=2))
        return
    if scripts_dir is None and not folder.is_dir() and folder.parent.is_dir():
        folder.mkdir()  # the menu's folder inside Resolve's own scripts folder, which Resolve made
    path = install(folder, config, force)
    click.echo(str(path))
    say(ctx, "installed: restart Resolve, then Workspace > Scripts > Soundify (not yet tried inside Resolve)")
