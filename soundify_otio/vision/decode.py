"""Video frames decoded by PyAV (FFmpeg) in the order a timeline reads them: for each frame what the analysis
reads of every frame (vision.planes: a luma histogram and a Y'CbCr motion thumbnail, no RGB), and RGB at the
analysis size only for the frames asked for (the ones CLIP encodes).

Timeline frame i of a file means the frame on screen at i/fps from the stream's start, rounded to the nearest
frame start: the last frame whose timestamp is before (i + 1/2)/fps (what FFmpeg's fps filter picks with
round=near). For a constant-rate file that is its i-th frame; for a variable-rate one, frames are repeated or
passed over as the timeline's rate needs. A frame is read from the decoder only when a read reaches it: nothing
is decoded ahead but the few frames FFmpeg's frame threads hold, however long the caller spends between reads.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from soundify_otio.errors import MediaError
from soundify_otio.vision.planes import THUMB_SIZE, YuvFrame, is_full_range


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


def open_container(path: Path) -> Any:
    """An open PyAV container of a file with a video stream (decoded by FFmpeg's frame and slice threads), or a
    MediaError that names the file and says why not."""
    if not path.exists():
        raise MediaError("media file not found", path)
    if not path.is_file():
        raise MediaError("is not a file", path)
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"cannot decode video ({_reason(exc)})", path) from exc
    if not container.streams.video:
        container.close()
        raise MediaError("holds no video stream", path)
    container.streams.video[0].thread_type = "AUTO"
    return container


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def _frame_rate(stream: Any) -> Fraction:
    return Fraction(stream.average_rate or stream.guessed_rate or 0)


def probe_video(path: Path) -> VideoInfo:
    """Frame rate, frame count and size of a video file, from its headers (packets counted where the
    headers give no count or duration; nothing decoded)."""
    import av

    container = open_container(path)
    try:
        stream = container.streams.video[0]
        fps = float(_frame_rate(stream))
        count = stream.frames or (
            round(float(stream.duration * stream.time_base) * fps) if stream.duration and stream.time_base else 0
        )
        width, height = stream.codec_context.width, stream.codec_context.height
        if count <= 0:
            count = sum(1 for packet in container.demux(stream) if packet.size)
    except av.FFmpegError as exc:
        raise MediaError(f"cannot decode video ({_reason(exc)})", path) from exc
    finally:
        container.close()
    if count <= 0 or fps <= 0:
        raise MediaError("holds no video frames", path)
    return VideoInfo(path=path, fps=fps, frame_count=int(count), width=int(width), height=int(height))


SEEK_AHEAD_SECONDS = 10.0
"""Before the reader has seen two keyframes, a read this far past its position seeks to the keyframe before
it instead of decoding the frames between (x264's default keyframe interval is 250 frames: 10 s at 25 fps)."""
SEEK_BACK_SECONDS = 1.0
"""First step back before a seek target when the keyframe a seek lands on comes after it (doubled each try)."""
SEEK_TRIES = 6
"""Seeks tried, each further back, before decoding from the file's start instead."""


@dataclass
class FrameBatch:
    """Consecutive timeline frames of one file as the analysis reads them."""

    first: int
    histograms: np.ndarray
    """[n, bins] normalised full-range luma histograms."""
    thumbnails: np.ndarray
    """[n, 32, 32, 3] uint8 full-range Y, Cb, Cr motion thumbnails."""
    rgb_indices: list[int]
    rgb: np.ndarray
    """[m, h, w, 3] uint8 RGB of the frames at `rgb_indices` (those asked for, in order)."""

    def __len__(self) -> int:
        return len(self.thumbnails)


@dataclass
class _Decoded:
    pts: int
    frame: Any
    analysis: tuple[np.ndarray, np.ndarray] | None = None
    """(histogram, thumbnail), computed once however many timeline frames show this frame."""

    def end(self, ticks: Fraction) -> Fraction:
        """When the frame stops showing, in stream units (`ticks`, a nominal frame, where it has no duration)."""
        return self.pts + (self.frame.duration or ticks)


class FileReader:
    """One media file's timeline frames (see the module's docstring), read forward by one decoder that seeks
    only where a read goes back, or ahead by more than the longest keyframe interval seen (SEEK_AHEAD_SECONDS
    before one is seen): decoding on would then cost more than decoding from the keyframe before the frame.

    After a seek, frames before the keyframe it landed on are dropped (an open GOP's leading B-frames, whose
    references precede the seek); when that keyframe comes after the frame wanted, the seek goes further back.
    `size` is the RGB frames' (width, height) or side; `bins` the histograms'. `timed` wraps the opening and
    every read, for the caller's stopwatch; `info`, the file's probe where the caller has it.
    """

    def __init__(
        self,
        path: Path,
        size: int | tuple[int, int],
        bins: int = 16,
        timed: Callable[[], AbstractContextManager[None]] = nullcontext,
        info: VideoInfo | None = None,
    ) -> None:
        self.path = path
        self.size = (size, size) if isinstance(size, int) else size
        self.bins = bins
        self.timed = timed
        with timed():
            self._container: Any = open_container(path)
        self._stream = self._container.streams.video[0]
        from av.video.reformatter import VideoReformatter

        self._thumbnail_scaler, self._rgb_scaler = VideoReformatter(), VideoReformatter()
        rate = _frame_rate(self._stream)
        if rate <= 0 or not self._stream.time_base:
            self.close()
            raise MediaError("holds no video frames", path)
        self._ticks = 1 / (rate * self._stream.time_base)
        """Stream timestamp units per timeline frame."""
        self._origin = self._stream.start_time or 0
        seconds = 1 / Fraction(self._stream.time_base)
        self._seek_ahead = Fraction(SEEK_AHEAD_SECONDS) * seconds
        self._seek_back = Fraction(SEEK_BACK_SECONDS) * seconds
        self.frame_count = (info or probe_video(path)).frame_count
        self._frames_from_start = False
        self._keyframe_interval: int | None = None
        """The longest distance between keyframes seen so far (stream units)."""
        self._frames: Iterator[_Decoded] | None = None
        self._current: _Decoded | None = None
        self._upcoming: _Decoded | None = None
        self.seeks = 0
        self.decoded = 0
        """Frames the decoder has output (for tests and benchmarks)."""

    def __len__(self) -> int:
        return self.frame_count

    def read(self, frames: range, rgb: Collection[int] = ()) -> FrameBatch:
        """Histograms and thumbnails of the consecutive `frames`, and RGB of those of them in `rgb`; fewer
        frames where the file ends before them (MediaError naming the file if it cannot be decoded)."""
        hists, thumbs, rgb_indices, rgb_frames = [], [], [], []
        with self.timed():
            for index in frames:
                decoded = self._frame_at(index)
                if decoded is None:
                    break
                if decoded.analysis is None:
                    yuv = YuvFrame.of(decoded.frame)
                    decoded.analysis = (yuv.luma_histogram(self.bins), yuv.motion_thumbnail(self._thumbnail_scaler))
                hists.append(decoded.analysis[0])
                thumbs.append(decoded.analysis[1])
                if index in rgb:
                    rgb_indices.append(index)
                    rgb_frames.append(self._rgb(decoded.frame))
        return FrameBatch(
            frames.start,
            np.array(hists).reshape(len(hists), self.bins),
            np.array(thumbs, dtype=np.uint8).reshape(len(thumbs), THUMB_SIZE, THUMB_SIZE, 3),
            rgb_indices,
            self._stack(rgb_frames),
        )

    def rgb(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 RGB frames [n, h, w, 3] at `indices` (in any order; MediaError past the file's end)."""
        frames = []
        with self.timed():
            for index in indices:
                decoded = self._frame_at(index)
                if decoded is None:
                    raise MediaError(f"has no frame {index} (it ends at frame {self.frame_count})", self.path)
                frames.append(self._rgb(decoded.frame))
        return self._stack(frames)

    def close(self) -> None:
        """Close the file and its decoder (threads included) and give their memory back."""
        if self._container is not None:
            self._frames = None
            self._current = self._upcoming = None
            self._container.close()
            self._container = None
            release_freed_memory()

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stack(self, frames: list[np.ndarray]) -> np.ndarray:
        width, height = self.size
        return np.array(frames, dtype=np.uint8).reshape(len(frames), height, width, 3)

    def _rgb(self, frame: Any) -> np.ndarray:
        """The whole picture squeezed to `size` (never cropped: a source at the edge still pans to the edge)."""
        width, height = self.size
        return self._rgb_scaler.reformat(
            frame,
            width=width,
            height=height,
            format="rgb24",
            interpolation="AREA",
            src_color_range="JPEG" if is_full_range(frame) else None,
            threads=1,
        ).to_ndarray()

    def _target(self, index: int) -> Fraction:
        """Frames timestamped before this show timeline frame `index` (half a frame past its start)."""
        return self._origin + (index + Fraction(1, 2)) * self._ticks

    def _frame_at(self, index: int) -> _Decoded | None:
        """The decoded frame timeline frame `index` shows, or None past the file's end."""
        if index < 0 or self._container is None:
            raise MediaError(f"has no frame {index}", self.path)
        target = self._target(index)
        here = self._current.pts if self._current is not None else None
        if self._frames is None:
            if target - self._origin > self._seek_ahead:
                self._seek(target)
            else:
                self._start()
        elif here is not None and (target <= here or target - here > self._jump()):
            self._seek(target)
        self._advance(target)
        if self._current is None:
            return None
        if self._upcoming is None and target - self._ticks / 2 >= self._current.end(self._ticks):
            self.frame_count = min(self.frame_count, index)  # the file ends before its header says
            return None
        return self._current

    def _jump(self) -> Fraction:
        """How far ahead a read seeks rather than decodes on: past the longest keyframe interval seen (the
        keyframe a seek lands on is then past the reader's position), or SEEK_AHEAD_SECONDS before one is seen."""
        if self._keyframe_interval is None:
            return self._seek_ahead
        return self._keyframe_interval + self._ticks

    def _advance(self, target: Fraction) -> None:
        while self._upcoming is not None and self._upcoming.pts < target:
            self._current, self._upcoming = self._upcoming, self._next()
        if self._current is None and self._upcoming is not None and self._frames_from_start:
            self._current, self._upcoming = self._upcoming, self._next()  # before the first frame: the first

    def _next(self) -> _Decoded | None:
        assert self._frames is not None
        import av

        try:
            return next(self._frames, None)
        except av.FFmpegError as exc:
            seconds = float((self._current.pts - self._origin) * self._stream.time_base) if self._current else 0.0
            raise MediaError(f"cannot decode frames after {seconds:.2f} s ({_reason(exc)})", self.path) from exc

    def _start(self) -> None:
        """Decode from the file's first frame."""
        if self.seeks or self._frames is not None:
            self._container.seek(self._origin, stream=self._stream, backward=True)
        self._frames_from_start = True
        self._frames = self._decode(after_seek=False)
        self._current, self._upcoming = None, self._next()

    def _seek(self, target: Fraction) -> None:
        """Position the decoder so that the frame before `target` is the next one out (see the class)."""
        import av

        back = self._seek_back
        position = target - self._ticks
        for _ in range(SEEK_TRIES):
            if position <= self._origin:
                break
            self.seeks += 1
            try:
                self._container.seek(int(position), stream=self._stream, backward=True)
            except av.FFmpegError:
                break
            self._frames_from_start = False
            self._frames = self._decode(after_seek=True)
            self._current, self._upcoming = None, self._next()
            if self._upcoming is not None and self._upcoming.pts < target:
                return
            position, back = position - back, back * 2
        self._start()

    def _decode(self, after_seek: bool) -> Iterator[_Decoded]:
        """Decoded frames with their timestamps; after a seek, from the first keyframe's on."""
        valid_from: int | None = None if after_seek else -(2**62)
        last: int | None = None
        last_keyframe: int | None = None
        for packet in self._container.demux(self._stream):
            if packet.is_keyframe and packet.pts is not None:
                if last_keyframe is not None and packet.pts > last_keyframe:
                    self._keyframe_interval = max(self._keyframe_interval or 0, packet.pts - last_keyframe)
                last_keyframe = packet.pts
            if valid_from is None:
                if not packet.is_keyframe:
                    continue
                valid_from = packet.pts if packet.pts is not None else -(2**62)
            for frame in packet.decode():
                self.decoded += 1
                pts = frame.pts if frame.pts is not None else (last + round(self._ticks) if last is not None else 0)
                last = pts
                if pts >= valid_from:
                    yield _Decoded(pts, frame)


def keyframe_indices(path: Path) -> np.ndarray:
    """The timeline frames (see the module's docstring) that show a keyframe of the file, from its packets
    (read, not decoded)."""
    import av

    container = open_container(path)
    try:
        stream = container.streams.video[0]
        rate = _frame_rate(stream)
        if rate <= 0 or not stream.time_base:
            raise MediaError("holds no video frames", path)
        ticks = 1 / (rate * stream.time_base)
        origin = stream.start_time or 0
        keys = [p.pts for p in container.demux(stream) if p.is_keyframe and p.pts is not None]
    except av.FFmpegError as exc:
        raise MediaError(f"cannot decode video ({_reason(exc)})", path) from exc
    finally:
        container.close()
    # shown from the first frame whose half-frame-later target passes the keyframe's timestamp
    return np.unique(np.array([math.floor((pts - origin) / ticks - Fraction(1, 2)) + 1 for pts in keys], np.int64))
