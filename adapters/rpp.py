"""OTIO adapter for REAPER projects (.rpp): soundify clips arrive with take volume/pan envelopes."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from soundify_otio.errors import OutputError, TimelineError
from soundify_otio_adapters.reaper_project import read_rpp, write_rpp


def read_from_string(input_str: str, rate: float = 24.0) -> otio.schema.Timeline:
    """Parse REAPER project text; `rate` is the frame rate of the OTIO times (REAPER works in seconds)."""
    return read_rpp(input_str, rate)


def read_from_file(filepath: str, rate: float = 24.0) -> otio.schema.Timeline:
    """Read a .rpp file (or a bare <TRACK> chunk)."""
    try:
        text = Path(filepath).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TimelineError(f"cannot read REAPER project: {exc.strerror}", filepath) from exc
    return read_rpp(text, rate, filepath)


def write_to_string(input_otio: otio.schema.Timeline) -> str:
    """The timeline as REAPER project text."""
    return write_rpp(input_otio)


def write_to_file(input_otio: otio.schema.Timeline, filepath: str) -> None:
    """Write the timeline as a .rpp file."""
    try:
        Path(filepath).write_text(write_rpp(input_otio), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write REAPER project: {exc.strerror}", filepath) from exc
