"""Clips with each frame's number burnt in (PyAV encodes them), to check which frame a reader returns.

The number is written as BITS bars across the top half of the picture, black for 0 and white for 1, wide
enough to survive compression and scaling to 64 px; the bottom half holds colours that change with the
number (for the thumbnails' chroma)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 10
WIDTH, HEIGHT = 320, 192


def numbered_picture(number: int) -> np.ndarray:
    """RGB [HEIGHT, WIDTH, 3] carrying `number` in its bars."""
    picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    bar = WIDTH // BITS
    for bit in range(BITS):
        if number >> bit & 1:
            picture[: HEIGHT // 2, bit * bar : (bit + 1) * bar] = 255
    x = (number * 7) % (WIDTH - 64)
    picture[HEIGHT // 2 :] = (40, 90, 160)
    picture[HEIGHT // 2 + 16 : HEIGHT - 16, x : x + 64] = (230, 60 + number % 150, 30)
    return picture


def read_number(rgb: np.ndarray) -> int:
    """The number burnt into an RGB frame of any size (each bar's centre, thresholded)."""
    h, w = rgb.shape[:2]
    grey = rgb[: h // 2, :, :].astype(np.float32).mean(axis=(0, 2))
    centres = ((np.arange(BITS) + 0.5) * w / BITS).astype(int)
    return int(sum(1 << bit for bit, x in enumerate(centres) if grey[x] > 128))


def write_numbered(
    path: Path,
    count: int,
    fps: int = 25,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    x264: str = "",
    faststart: bool = False,
) -> Path:
    """H.264 in MP4 of frames numbered 0..count-1, at `fps`, or at timestamps `pts` (in `time_base`: variable
    rate); `x264` adds libx264 parameters (keyint, bframes, open-gop, ...); `faststart` puts the index first."""
    params = "scenecut=0" + (f":{x264}" if x264 else "")
    with av.open(str(path), mode="w", options={"movflags": "faststart"} if faststart else None) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps), options={"crf": "12", "x264-params": params})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if time_base is not None:
            stream.codec_context.time_base = time_base
        for number in range(count):
            frame = av.VideoFrame.from_ndarray(numbered_picture(number), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[number], time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
