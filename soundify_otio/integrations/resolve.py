"""Install the Resolve script: where Resolve looks for scripts on each OS, and the script with its settings.

The script is written only into a folder that exists (Resolve's scripts folder, or the one named), and
replaces only a `Soundify.py` that an earlier install wrote (its CONFIG line says so) unless forced.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from pprint import pformat

from soundify_otio.atomic import atomic_write_text
from soundify_otio.errors import OutputError

SCRIPT_NAME = "Soundify.py"
MENU = "Utility"
"""The Scripts subfolder whose scripts Resolve lists under Workspace > Scripts on every page."""
_CONFIG_LINE = re.compile(r"^CONFIG: dict = \{\}.*$", re.M)
_WRITTEN_BY = "# written by `soundify-otio install resolve`"
"""Ends the CONFIG line of every installed script: how an install knows a script is its own."""
_MAX_SCRIPT_BYTES = 1 << 20


def scripts_folder(system: str | None = None, env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """This user's Resolve scripts folder (Workspace > Scripts lists its subfolders' scripts)."""
    system = system or platform.system()
    env = os.environ if env is None else env
    if home is None:
        given = env.get("HOME")
        if given is not None and not os.path.isabs(given):  # "" would aim at /.local, "x" at the current folder
            raise OutputError("HOME is not an absolute folder: set it, or name the folder with --scripts-dir", given)
        home = Path.home()
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
    line = f"CONFIG: dict = {settings}  {_WRITTEN_BY}"
    text, count = _CONFIG_LINE.subn(lambda _: line, source, count=1)
    if count != 1:
        raise RuntimeError("resolve_script.py has no CONFIG line to fill in")
    return text


def installed_by_us(path: Path) -> bool:
    """Whether the file at `path` is a script an install wrote (and so may be replaced by another)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_MAX_SCRIPT_BYTES)
    except OSError:
        return False
    return _WRITTEN_BY.encode() in head


def install(folder: Path, config: Mapping[str, object], force: bool = False) -> Path:
    """Write the script into `folder`, which must exist, atomically; its path. An existing Soundify.py
    is replaced only when an install wrote it, or with `force` (OutputError otherwise)."""
    path = folder / SCRIPT_NAME
    if not folder.is_dir():
        raise OutputError("does not exist (nothing is created: make it, or name another with --scripts-dir)", folder)
    ours = os.path.lexists(path)
    if ours and not path.is_file():
        raise OutputError("exists and is not a file; it is left as it is", path)
    if ours and not force and not installed_by_us(path):
        raise OutputError("exists and was not written by `install resolve`; pass --force to replace it", path)
    atomic_write_text(path, script_text(config), replace=force or ours)
    return path
