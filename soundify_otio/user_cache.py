"""The one folder soundify-otio keeps its caches in for a user: frames, converted runtimes, indexes."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/soundify-otio, else ~/.cache/soundify-otio (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "soundify-otio"
