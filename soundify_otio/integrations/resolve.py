"""Install the Resolve script: where Resolve looks for scripts on each OS, and the script with its settings."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from pprint import pformat

from soundify_otio.atomic import atomic_write_text

SCRIPT_NAME = "Soundify.py"
MENU = "Utility"
"""The Scripts subfolder whose scripts Resolve lists under Workspace > Scripts on every page."""
_CONFIG_LINE = re.compile(r"^CONFIG: dict = \{\}.*$", re.M)


def scripts_folder(system: str | None = None, env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """This user's Resolve scripts folder (Workspace > Scripts lists its subfolders' scripts)."""
    system = system or platform.system()
    env = os.environ if env is None else env
    home = home or Path.home()
    if system == "Darwin":
        base = home / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts"
    elif system == "Windows":
        appdata = Path(env.get("APPDATA") or home / "AppData/Roaming")
        base = appdata / "Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts"
    else:
        base = home / ".local/share/DaVinciResolve/Fusion/Scripts"
    return base / MENU


def script_text(config: Mapping[str, object]) -> str:
    """The script Resolve runs, with the settings it was installed with in CONFIG."""
    source = resources.files(__package__).joinpath("resolve_script.py").read_text(encoding="utf-8")
    settings = pformat(dict(config), indent=4, sort_dicts=True)
    line = f"CONFIG: dict = {settings}  # written by `soundify-otio install resolve`"
    text, count = _CONFIG_LINE.subn(lambda _: line, source, count=1)
    if count != 1:
        raise RuntimeError("resolve_script.py has no CONFIG line to fill in")
    return text


def install(folder: Path, config: Mapping[str, object]) -> Path:
    """Write the script into `folder` (created if missing), atomically; its path."""
    path = folder / SCRIPT_NAME
    atomic_write_text(path, script_text(config))
    return path
