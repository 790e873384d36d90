"""Synthetic footage with a known truth (PyAV encodes it), for tests and benchmarks.

Frames are produced one at a time by a callback and streamed to the encoder, so a long video never
sits in memory.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import opentimelineio as otio

from soundify_otio.errors import MediaError, OutputError

FrameFn = Callable[[int], np.ndarray]
MID_GREY = (128, 128, 128)

# Grey levels that fall in distinct bins of a 16-bin histogram (bin centres 8 + 16 k); segment k uses
# levels 2k and 2k+1 (mod the list), so neighbouring segments share no bin.
_LEVELS = (24, 200, 88, 232, 56, 152, 120, 40, 184, 104, 216, 72, 168, 136)


def _codec() -> str:
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_video(
    path: Path,
    frame_fn: FrameFn,
    n_frames: int,
    fps: float,
    width: int,
    height: int,
    codec: str | None = None,
    frame_format: Literal["rgb24", "yuv420p"] = "rgb24",
) -> Path:
    """Encode `frame_fn(i)` for i in 0..n_frames-1 to `path` (yuv420p).

    Frames are RGB uint8 (height, width, 3), or with ``frame_format="yuv420p"`` the planes stacked as
    uint8 (height * 3 // 2, width), which skips a colour conversion (about 3x faster at 1080p).
    Uses libx264 (preset ultrafast) when PyAV has it, else mpeg4; `codec` forces one.
    """
    if width % 2 or height % 2:
        raise OutputError(f"yuv420p needs an even frame size, got {width}x{height}", path)
    path = Path(path)
    codec = codec or _codec()
    options = {"preset": "ultrafast", "crf": "16"} if codec == "libx264" else {}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001), options=options)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            if codec != "libx264":
                stream.bit_rate = max(1_000_000, width * height * 8)
            shape = (height, width, 3) if frame_format == "rgb24" else (height * 3 // 2, width)
            for i in range(n_frames):
                data = np.ascontiguousarray(frame_fn(i), dtype=np.uint8)
                if data.shape != shape:
                    raise OutputError(f"frame {i} has shape {data.shape}, expected {shape}", path)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(data, format=frame_format)))
            container.mux(stream.encode())
    except (av.FFmpegError, OSError) as exc:
        raise OutputError(f"cannot encode video: {exc}", path) from exc
    return path


@dataclass(frozen=True)
class SquareVideo:
    """A written moving-square video and where the square is."""

    path: Path
    fps: float
    n_frames: int
    centres: tuple[float | None, ...]
    """Per frame, the square's centre x as a fraction of the width (None: not visible)."""


def moving_square(
    path: Path,
    n_frames: int = 100,
    fps: float = 25,
    size: tuple[int, int] = (320, 180),
    colour: tuple[int, int, int] = (255, 0, 0),
    background: tuple[int, int, int] = MID_GREY,
    visible: range | None = None,
) -> SquareVideo:
    """A square (a quarter of the height) crossing left to right over the `visible` frames (default: all)."""
    width, height = size
    visible = range(n_frames) if visible is None else visible
    side = max(2, height // 4) // 2 * 2
    top = (height - side) // 2
    span = max(1, len(visible) - 1)
    lefts = {f: round((width - side) * k / span) for k, f in enumerate(visible)}
    base = np.empty((height, width, 3), np.uint8)
    base[:] = background

    def frame(i: int) -> np.ndarray:
        img = base.copy()
        if i in lefts:
            img[top : top + side, lefts[i] : lefts[i] + side] = colour
        return img

    write_video(path, frame, n_frames, fps, width, height)
    centres = tuple((lefts[i] + side / 2) / width if i in lefts else None for i in range(n_frames))
    return SquareVideo(Path(path), fps, n_frames, centres)


_LIMITED_LUMA = np.round(16 + np.arange(256) * 219 / 255).astype(np.uint8)
"""Full-range grey -> video-range Y, so a decoder's RGB gives back the intended grey."""


def _segment_yuv(segment: int, i: int, width: int, height: int) -> np.ndarray:
    """Segment `segment`'s look at frame i (yuv420p planes): a flat grey field with a bar of another grey
    sliding across. The bar has a fixed size, so the grey histogram is constant within a segment while
    pixels move.
    """
    row = np.full(width, _LEVELS[(2 * segment) % len(_LEVELS)], np.uint8)
    bar_w = max(2, width // 5)
    x = (i * max(1, width // 50)) % (width - bar_w)
    row[x : x + bar_w] = _LEVELS[(2 * segment + 1) % len(_LEVELS)]
    frame = np.empty((height * 3 // 2, width), np.uint8)
    frame[:height] = _LIMITED_LUMA[row]
    frame[height:] = 128
    return frame


def hard_cuts(
    path: Path, cut_frames: Sequence[int], n_frames: int = 100, fps: float = 25, size: tuple[int, int] = (320, 180)
) -> Path:
    """Segments of distinct grey levels with hard cuts at `cut_frames` (each the first frame of a new segment).

    A 16-bin grey-histogram detector sees an L1 jump of 2.0 at each cut and ~0 elsewhere.
    """
    cuts = sorted(cut_frames)
    if any(not 0 < c < n_frames for c in cuts) or len(set(cuts)) != len(cuts):
        raise OutputError(f"cut frames {cuts} must be distinct and inside 1..{n_frames - 1}", path)
    width, height = size
    return write_video(
        path,
        lambda i: _segment_yuv(int(np.searchsorted(cuts, i, side="right")), i, width, height),
        n_frames,
        fps,
        width,
        height,
        frame_format="yuv420p",
    )


def long_timeline(
    path_dir: Path,
    minutes: float,
    fps: float = 25,
    size: tuple[int, int] = (1920, 1080),
    file_minutes: float = 5.0,
    seed: int = 0,
) -> otio.schema.Timeline:
    """Write `minutes` of footage as files of up to `file_minutes`, with hard cuts every 2-6 s.

    Returns a timeline with one clip per file, in order; each clip's
    ``metadata["synthetic"]["cut_frames"]`` lists the true cuts (media frames) inside it.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    total = max(1, round(minutes * 60 * fps))
    per_file = max(1, round(file_minutes * 60 * fps))
    rate = float(fps)
    timeline = otio.schema.Timeline(name=f"synthetic {minutes:g} min")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    segment = 0
    for index in range(math.ceil(total / per_file)):
        n = min(per_file, total - index * per_file)
        lengths = np.round(rng.uniform(2, 6, int(n / fps / 2) + 2) * fps).astype(int)
        cuts = [int(c) for c in np.cumsum(lengths) if c < n]
        first = segment
        path = Path(path_dir) / f"synthetic_{index:03d}.mp4"
        write_video(
            path,
            lambda i, first=first, cuts=cuts: _segment_yuv(
                first + int(np.searchsorted(cuts, i, side="right")), i, width, height
            ),
            n,
            fps,
            width,
            height,
            frame_format="yuv420p",
        )
        segment += len(cuts) + 1
        media_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(n, rate))
        clip = otio.schema.Clip(
            name=path.stem,
            source_range=media_range,
            media_reference=otio.schema.ExternalReference(
                target_url=path.resolve().as_uri(), available_range=media_range
            ),
        )
        clip.metadata["synthetic"] = {"cut_frames": cuts}
        track.append(clip)
    return timeline


def corrupt_copy(src: Path, dst: Path, mode: Literal["truncate", "garbage"] = "truncate", seed: int = 0) -> Path:
    """Copy `src` to `dst` damaged: cut to its first third, or with its middle half overwritten by random bytes."""
    if not Path(src).is_file():
        raise MediaError("file to corrupt does not exist", src)
    data = Path(src).read_bytes()
    if mode == "truncate":
        Path(dst).write_bytes(data[: len(data) // 3])
    elif mode == "garbage":
        shutil.copyfile(src, dst)
        start, stop = len(data) // 4, 3 * len(data) // 4
        with open(dst, "r+b") as handle:
            handle.seek(start)
            handle.write(np.random.default_rng(seed).integers(0, 256, stop - start, dtype=np.uint8).tobytes())
    else:
        raise ValueError(f"unknown corruption mode {mode!r}")
    return Path(dst)
