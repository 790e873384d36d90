"""The one way every benchmark ends: its figures as indented JSON on stdout, and in `--out` if given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(figures: dict[str, Any], out: Path | None) -> None:
    """Print `figures` as JSON; also write them to `out` (UTF-8) when a path is given."""
    text = json.dumps(figures, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
