"""The timeline's own sound decoded with PyAV and mixed, per timeline time, to one mono signal."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from soundify_otio.audio.timeline_sound import SoundSource
from soundify_otio.errors import MediaError

log = logging.getLogger(__name__)


def decode_mono(path: Path, start: float, duration: float, rate: int) -> np.ndarray:
    """`duration` seconds of the file's first audio stream from `start` (seconds from its first
    sample), down-mixed to mono float32 at `rate`; zeros where the file ends early. MediaError when the
    file cannot be opened or has no audio stream."""
    import av

    wanted = max(0, round(duration * rate))
    out = np.zeros(wanted, dtype=np.float32)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot open its sound ({exc})", path) from exc
    with container:
        if not container.streams.audio:
            raise MediaError("has no audio stream", path)
        stream = container.streams.audio[0]
        base = stream.time_base or Fraction(1, stream.rate or 1)
        origin = float(stream.start_time * base) if stream.start_time is not None else 0.0
        if start > 1.0:
            container.seek(int((origin + start - 1.0) / base), stream=stream, backward=True)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        first: float | None = None
        filled = 0  # samples resampled since `first`
        try:
            for frame in container.decode(stream):
                if first is None:
                    first = (float(frame.pts * base) - origin) if frame.pts is not None else 0.0
                for piece in resampler.resample(frame):
                    filled = _place(out, piece.to_ndarray()[0], first, filled, start, rate)
                if first + filled / rate >= start + duration:
                    break
            else:
                for piece in resampler.resample(None):
                    filled = _place(out, piece.to_ndarray()[0], first or 0.0, filled, start, rate)
        except av.error.FFmpegError as exc:
            raise MediaError(f"its sound cannot be decoded ({exc})", path) from exc
    return out


def _place(out: np.ndarray, samples: np.ndarray, first: float, filled: int, start: float, rate: int) -> int:
    """Copy the part of `samples` (which begin `filled` samples after `first`) that falls in `out`."""
    at = round((first - start) * rate) + filled
    lo, hi = max(0, at), min(len(out), at + len(samples))
    if hi > lo:
        out[lo:hi] = samples[lo - at : hi - at]
    return filled + len(samples)


def mix(sources: Sequence[SoundSource], rate: int) -> tuple[np.ndarray, list[MediaError]]:
    """The sources summed at their timeline places (each at its level), and the sources that could
    not be heard (files that will not open, or hold no sound: a silent video is common, not an error)."""
    length = max((s.timeline_start + s.duration for s in sources), default=0.0)
    signal = np.zeros(round(length * rate), dtype=np.float32)
    problems: list[MediaError] = []
    for source in sources:
        try:
            samples = decode_mono(source.media_path, source.media_start, source.duration, rate)
        except MediaError as exc:
            problems.append(exc)
            continue
        at = round(source.timeline_start * rate)
        end = min(len(signal), at + len(samples))
        signal[at:end] += samples[: end - at] * np.float32(10.0 ** (source.gain_db / 20.0))
    return signal, problems
