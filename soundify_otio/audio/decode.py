"""Stretches of media files' sound (SoundSource) decoded with PyAV and mixed, per timeline time, to one signal."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from soundify_otio.errors import MediaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SoundSource:
    """A stretch of a media file's sound heard on the timeline."""

    media_path: Path
    media_start: float
    """Seconds into the file of the stretch's first sample."""
    timeline_start: float
    """Track seconds (0 = the stack's first frame) where it is heard."""
    duration: float
    gain_db: float
    what: str
    """Which clip it comes from, for messages."""


Sink = Callable[[int, np.ndarray], None]
"""Takes (offset in samples from the range's start, samples [channels, n]) as they are decoded."""


def decode_into(path: Path, start: float, duration: float, rate: int, layout: str, sink: Sink) -> int:
    """Stream `duration` seconds of the file's first audio stream from `start` (seconds from its first
    sample) to `sink`, resampled to `rate` in `layout` ("mono" or "stereo"); the channel count of the
    file (a mono file is not spread to two channels: the caller pans it). MediaError when the file cannot
    be opened or decoded or has no audio stream."""
    import av

    wanted = max(0, round(duration * rate))
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot open its sound ({exc})", path) from exc
    with container:
        if not container.streams.audio:
            raise MediaError("has no audio stream", path)
        stream = container.streams.audio[0]
        channels = stream.channels or 1
        target = "mono" if layout == "mono" or channels == 1 else "stereo"
        base = stream.time_base or Fraction(1, stream.rate or 1)
        origin = float(stream.start_time * base) if stream.start_time is not None else 0.0
        if start > 1.0:
            container.seek(int((origin + start - 1.0) / base), stream=stream, backward=True)
        resampler = av.AudioResampler(format="fltp", layout=target, rate=rate)
        first: float | None = None
        filled = 0  # samples resampled since `first`

        def place(samples: np.ndarray) -> None:
            at = round(((first or 0.0) - start) * rate) + filled
            lo, hi = max(0, at), min(wanted, at + samples.shape[1])
            if hi > lo:
                sink(lo, samples[:, lo - at : hi - at])

        try:
            for frame in container.decode(stream):
                if first is None:
                    first = (float(frame.pts * base) - origin) if frame.pts is not None else 0.0
                for piece in resampler.resample(frame):
                    data = piece.to_ndarray()
                    place(data)
                    filled += data.shape[1]
                if first + filled / rate >= start + duration:
                    break
            else:
                for piece in resampler.resample(None):
                    data = piece.to_ndarray()
                    place(data)
                    filled += data.shape[1]
        except av.error.FFmpegError as exc:
            raise MediaError(f"its sound cannot be decoded ({exc})", path) from exc
    return 1 if target == "mono" else 2


def decode_mono(path: Path, start: float, duration: float, rate: int) -> np.ndarray:
    """`duration` seconds of the file's sound from `start`, down-mixed to mono float32 at `rate`; zeros
    where the file ends early (MediaError as decode_into)."""
    out = np.zeros(max(0, round(duration * rate)), dtype=np.float32)

    def sink(offset: int, samples: np.ndarray) -> None:
        out[offset : offset + samples.shape[1]] = samples[0]

    decode_into(path, start, duration, rate, "mono", sink)
    return out


def mix(
    sources: Sequence[SoundSource], rate: int, start: float = 0.0, end: float | None = None
) -> tuple[np.ndarray, list[MediaError]]:
    """The sources summed at their timeline places (each at its level) over timeline seconds [start,
    end) (default: from 0 to the last source's end; only what falls inside is decoded), and the
    sources that could not be heard (files that will not open, or hold no sound: a silent video is
    common, not an error)."""
    if end is None:
        end = max((s.timeline_start + s.duration for s in sources), default=0.0)
    signal = np.zeros(max(0, round((end - start) * rate)), dtype=np.float32)
    problems: list[MediaError] = []
    for source in sources:
        lo, hi = max(start, source.timeline_start), min(end, source.timeline_start + source.duration)
        if hi <= lo:
            continue
        try:
            samples = decode_mono(source.media_path, source.media_start + lo - source.timeline_start, hi - lo, rate)
        except MediaError as exc:
            problems.append(exc)
            continue
        at = round((lo - start) * rate)
        stop = min(len(signal), at + len(samples))
        signal[at:stop] += samples[: stop - at] * np.float32(10.0 ** (source.gain_db / 20.0))
    return signal, problems


def mix_stereo_into(out: np.ndarray, sources: Sequence[SoundSource], rate: int) -> list[MediaError]:
    """Add the sources at their timeline places to `out` ([n, 2], e.g. a memory map: nothing is held
    whole), each at its level; a mono source sits in the centre (-3 dB each side). The sources that
    could not be heard are returned."""
    problems: list[MediaError] = []
    for source in sources:
        at = round(source.timeline_start * rate)
        gain = np.float32(10.0 ** (source.gain_db / 20.0))

        def sink(offset: int, samples: np.ndarray, at: int = at, gain: np.float32 = gain) -> None:
            lo, hi = at + offset, min(len(out), at + offset + samples.shape[1])
            if hi <= lo:
                return
            if samples.shape[0] == 1:
                out[lo:hi] += (samples[0, : hi - lo] * gain * np.float32(0.5**0.5))[:, None]
            else:
                out[lo:hi] += samples[:2, : hi - lo].T * gain

        try:
            decode_into(source.media_path, source.media_start, source.duration, rate, "stereo", sink)
        except MediaError as exc:
            problems.append(exc)
    return problems
