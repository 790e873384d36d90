"""The one way long-running work reports: progress through a hook, seconds through a stopwatch.

A progress hook is any callable ``hook(stage, done, total)``: ``done`` of ``total`` units of the
named stage are finished (``total`` None while unknown). The library reports ``scan``, ``read`` and
``embed``; the pipeline ``analyse`` (whole seconds of video) and ``mix`` (scenes); the review loop
``render``, ``normalise`` and ``mux``; the sample project ``footage`` and ``library``.

Seconds per stage are summed by a `Stopwatch` and end up in ``Annotation.timings``.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

STAGE_UNITS = {
    "scan": "files",
    "read": "files",
    "embed": "texts",
    "analyse": "s of video",
    "mix": "scenes",
    "render": "s of audio",
    "normalise": "s of audio",
    "mux": "frames",
    "footage": "files",
    "library": "sounds",
}
"""What ``done`` and ``total`` count, per stage (shown beside the counts by the command line's bar)."""


class ProgressHook(Protocol):
    """Receives ``done`` of ``total`` units of work of a named stage (``total`` None while unknown)."""

    def __call__(self, stage: str, done: int, total: int | None, /) -> None: ...


def null_progress(stage: str, done: int, total: int | None, /) -> None:
    """A hook that ignores every report."""


class PrintProgress:
    """A hook that prints a line per stage when it starts, every `step` percent, and when it ends
    (for scripts and logs, where a progress bar would not render)."""

    def __init__(self, stream: TextIO | None = None, step: int = 25) -> None:
        self.stream = stream
        self.step = step
        self._last: dict[str, int | None] = {}

    def __call__(self, stage: str, done: int, total: int | None, /) -> None:
        mark = min(100, 100 * done // total) // self.step if total else None
        if stage in self._last and self._last[stage] == mark:
            return
        self._last[stage] = mark
        shown = f"{done}/{total}" if total else str(done)
        print(f"{stage}: {shown}", file=self.stream or sys.stderr, flush=True)


class Stopwatch:
    """Wall seconds per stage, summed over every stretch timed under that name."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """Add the time the body takes to ``stage``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
