"""The bounds an audio file's header must keep before anything is allocated or resampled from it.

A header is a claim: a 2 KB WAV may say 2,147,483,647 Hz (every buffer sized from the rate is then
gigabytes) or 1 Hz (conformed to 48 kHz it grows 48,000-fold). Every reader of a sound's header
(library indexing, conforming, rendering) takes it through `checked_info`, which refuses such files
with one reason; real sounds sit far inside these bounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import soundfile

MIN_SAMPLE_RATE = 4000
"""Lowest sample rate read (Hz): below telephone rate no sound effect is recorded."""
MAX_SAMPLE_RATE = 768000
"""Highest sample rate read (Hz): the highest any audio interface records."""
MAX_CHANNELS = 64
MAX_SECONDS = 24 * 3600.0
"""Longest sound read (a day of ambience)."""


class BadHeader(ValueError):
    """A header outside the bounds (the message is the reason, for the user)."""


def check_header(sample_rate: int, channels: int, frames: int) -> None:
    """BadHeader when a header's rate, channel count or length is outside the bounds above."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise BadHeader(
            f"its header claims {sample_rate} Hz (a sound's rate is {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise BadHeader(f"its header claims {channels} channels (1 to {MAX_CHANNELS} are read)")
    if not 0 <= frames <= MAX_SECONDS * sample_rate:
        raise BadHeader(f"its header claims {frames} frames, over {MAX_SECONDS / 3600:g} hours at {sample_rate} Hz")


def checked_info(path: Path | str) -> Any:
    """soundfile.info of `path` once its header is within the bounds (BadHeader otherwise; the
    soundfile and OS errors of an unreadable file pass through as they are)."""
    info = soundfile.info(str(path))
    check_header(info.samplerate, info.channels, info.frames)
    return info
