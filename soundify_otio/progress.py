"""How long-running stages report progress: ``hook(stage_name, done, total)``, total None when
unknown yet."""

from __future__ import annotations

from typing import Callable

ProgressHook = Callable[[str, int, int | None], None]


def null_progress(stage: str, done: int, total: int | None) -> None:
    """A hook that ignores every report."""
