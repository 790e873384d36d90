"""Video frames straight from decord, decoded once, streamed in batches at the analysis size."""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundify_otio.errors import MediaError


@dataclass(frozen=True)
class VideoInfo:
    """What the stages need to know of a video file."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps


M_ARENA_MAX = -8
"""glibc's mallopt parameter for the number of malloc arenas."""


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for this process (call before decoding starts).

    Each decoder thread otherwise gets an arena of its own, and what a second video's threads
    allocate stays in the process after they finish: measured on a 10-minute 1080p timeline of two
    files, peak RSS 3.9 GB uncapped against 2.9 GB capped (2.9 GB for its first 5 minutes too).
    Does nothing off glibc.
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, arenas)


def release_freed_memory() -> None:
    """Give the pages of freed heap blocks back to the system (glibc's malloc_trim), as after closing a reader:
    glibc keeps them otherwise, as holes in the heap the next reader's thread does not always reuse. Does
    nothing off glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """glibc with the malloc tuning calls used here (loaded once), or None off glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def open_reader(path: Path, size: int | None = None):
    """A decord VideoReader (frames scaled to size x size), or a MediaError that names the file and says why not."""
    if not path.exists():
        raise MediaError("media file not found", path)
    if not path.is_file():
        raise MediaError("is not a file", path)
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # broken input becomes one MediaError, not ffmpeg chatter
    try:
        if size:
            return decord.VideoReader(str(path), ctx=decord.cpu(0), width=size, height=size)
        return decord.VideoReader(str(path), ctx=decord.cpu(0))
    except (decord.DECORDError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MediaError(f"cannot decode video ({reason[:160]})", path) from exc


def probe_video(path: Path) -> VideoInfo:
    """Frame rate, frame count and size of a video file, from its headers (nothing decoded)."""
    import av

    if not path.is_file():
        open_reader(path)  # raises the "not found" / "not a file" error
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("holds no video stream", path)
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            count = stream.frames or (
                round(float(stream.duration * stream.time_base) * fps) if stream.duration and stream.time_base else 0
            )
            width, height = stream.codec_context.width, stream.codec_context.height
    except av.FFmpegError as exc:
        raise MediaError(f"cannot decode video ({exc.strerror or exc})", path) from exc
    if count <= 0:
        count = len(open_reader(path))
    if count <= 0 or fps <= 0:
        raise MediaError("holds no video frames", path)
    return VideoInfo(path=path, fps=fps, frame_count=int(count), width=int(width), height=int(height))


def iter_frames(path: Path, first: int, stop: int, size: int, batch: int = 32) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index of the batch's first frame, uint8 RGB frames [n, size, size, 3]) for frames first..stop-1.

    Frames are scaled by the decoder to size x size: the whole picture, squeezed, never cropped, so
    that a source at the frame's edge still pans to the edge.
    """
    reader = open_reader(path, size)
    stop = min(stop, len(reader))
    for start in range(max(first, 0), stop, batch):
        yield start, read_frames(reader, range(start, min(start + batch, stop)), path)


REOPEN_FRAMES = 500
"""Frames one decord reader of a FileReader reads before a fresh one takes over at the next keyframe."""


class FileReader:
    """One media file's frames, read in frame order by a succession of decord readers, so that what decord
    decodes ahead of the reads stays bounded.

    A decord reader hands each packet to its decoder thread and, whenever no decoded frame is waiting,
    reads the next one at once: after the first read it holds the packets to the end of the file, and
    while the caller is busy elsewhere (CLIP encoding) its thread decodes them all into frames kept until
    the reader closes, 150 KB each at 224x224 (measured: 1 GB within 45 s of a 5-minute 1080p file, and
    without bound on a longer one). So each reader reads about `reopen_frames` frames: the read that
    reaches a keyframe past that closes it there, calls `on_close` (the frame pass encodes then, no decoder
    running ahead) and a fresh reader goes on from the keyframe, where decord decodes from, so the frames
    are the same. A file without such keyframes keeps its one reader. `reopen_frames` defaults to REOPEN_FRAMES.
    `timed` wraps the opening and reading (not `on_close`), for the caller's stopwatch.
    """

    def __init__(
        self,
        open_: Callable[[], Any],
        path: Path,
        reopen_frames: int | None = None,
        on_close: Callable[[], None] = lambda: None,
        timed: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self.open = open_
        self.path = path
        self.reopen_frames = REOPEN_FRAMES if reopen_frames is None else reopen_frames
        self.on_close = on_close
        self.timed = timed
        with timed():
            self.reader: Any = open_()
        self.frame_count = len(self.reader)
        try:
            self.keyframes = np.unique(np.asarray(self.reader.get_key_indices(), dtype=np.int64))
        except Exception:  # decord's own error types: without keyframes the reader is never replaced
            self.keyframes = np.zeros(0, dtype=np.int64)
        self.opened = 1
        self._next = 0
        self._read_since_open = 0

    def __len__(self) -> int:
        return self.frame_count

    def read(self, frames: range) -> np.ndarray:
        """uint8 RGB frames [n, h, w, 3] of the consecutive `frames` (MediaError naming the file if unreadable)."""
        start, stop = frames.start, frames.stop
        switch = self._switch_point(start, stop)
        if switch is None:
            return self._read(start, stop)
        before = self._read(start, switch) if switch > start else None
        self.close()
        after = self._read(switch, stop)
        return after if before is None else np.concatenate([before, after])

    def replace_soon(self) -> None:
        """Have the next read that reaches a keyframe replace the reader, however little it has read."""
        self._read_since_open = max(self._read_since_open, self.reopen_frames)

    def close(self) -> None:
        """Close the current reader (the next read opens a fresh one) and run `on_close`."""
        if self.reader is None:
            return
        self.reader = None
        release_freed_memory()
        self.on_close()

    def _switch_point(self, start: int, stop: int) -> int | None:
        """The keyframe in start..stop-1 where a fresh reader takes over, if this reader has read enough."""
        if self.reader is None or start != self._next or self.reopen_frames <= 0:
            return None
        due = start + max(0, self.reopen_frames - self._read_since_open)
        at = int(np.searchsorted(self.keyframes, due))
        if at < len(self.keyframes) and self.keyframes[at] < stop:
            return int(self.keyframes[at])
        return None

    def _read(self, start: int, stop: int) -> np.ndarray:
        with self.timed():
            if self.reader is None:
                self.reader = self.open()
                self.opened += 1
                self._read_since_open = 0
            frames = read_frames(self.reader, range(start, stop), self.path)
        self._read_since_open += stop - start
        self._next = stop
        return frames


def read_frames(reader, indices: Sequence[int], path: Path) -> np.ndarray:
    """uint8 RGB frames [n, h, w, 3] at `indices` of an open reader; MediaError naming `path` if they cannot be read."""
    indices = list(indices)
    try:
        return reader.get_batch(indices).asnumpy()
    except Exception as exc:  # decord raises its own error types for broken packets
        raise MediaError(f"cannot decode frames {indices[0]}-{indices[-1]} ({exc})", path) from exc
