"""This process's native threads, FFmpeg's decoder threads among them (Python's threading does not see those)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_TASKS = Path("/proc/self/task")

counts_threads = pytest.mark.skipif(not _TASKS.is_dir(), reason="counts threads through /proc")
"""For a test that counts native threads (Linux's /proc)."""


def native_threads() -> int:
    """How many threads the process runs now."""
    return len(os.listdir(_TASKS))
