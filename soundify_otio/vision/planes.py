"""What every decoded frame gives the analysis, read from its Y'CbCr planes with no RGB conversion: a luma
histogram (scene splitting) and a 32x32 Y'CbCr motion thumbnail (fine sync).

Converting a whole 1080p frame to RGB costs more than decoding it (issue 20, a 2-minute 1920x816 H.264
file: decode alone 6.9-7.0 s, with RGB for every frame 11.9-12.5 s), so only the frames CLIP encodes are
converted (vision.decode); what is read of every frame comes straight from the decoder's planes, widened
to full range whatever range the file stores. For BT.601 and untagged files (libswscale's default) these
are the BT.601 Y'CbCr of the reader's RGB; a file tagged BT.709 is converted to RGB with its own matrix,
and its planes' values then differ from BT.601 ones of that RGB by a few levels on saturated colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

THUMB_SIZE = 32
"""Side of the motion thumbnail kept per frame (3 KB a frame: Y, Cb, Cr)."""
HISTOGRAM_GRID = 112
"""Luma samples per row and column a histogram counts (12,544: as every other pixel of a 224x224 frame)."""

PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p"}
"""8-bit planar Y'CbCr layouts read as they are; any other frame is first converted to yuv444p (small)."""
FALLBACK_SIDE = 256
"""Longer side of the yuv444p picture a frame of another layout (10-bit, RGB, NV12, ...) is converted to."""

# limited (studio) range to full range: Y 16..235 -> 0..255, Cb/Cr 16..240 -> 0..255 around 128
_LUMA_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_CHROMA_FULL = np.clip(np.round((np.arange(256) - 128) * 255 / 224 + 128), 0, 255).astype(np.uint8)
_IDENTITY = np.arange(256, dtype=np.uint8)


def is_full_range(frame: Any) -> bool:
    """Whether a decoded frame's samples span 0..255 (JPEG range) rather than studio range."""
    return frame.format.name.startswith("yuvj") or int(frame.color_range or 0) == 2


@dataclass(frozen=True)
class YuvFrame:
    """A decoded frame as 8-bit planar Y'CbCr, and whether its samples are full range."""

    frame: Any
    full_range: bool

    @classmethod
    def of(cls, frame: Any) -> YuvFrame:
        """The frame itself where its planes are read directly, else a small yuv444p copy (studio range)."""
        full = is_full_range(frame)
        if frame.format.name in PLANAR_YUV:
            return cls(frame, full)
        scale = min(1.0, FALLBACK_SIDE / max(frame.width, frame.height))
        small = frame.reformat(
            width=max(2, round(frame.width * scale)),
            height=max(2, round(frame.height * scale)),
            format="yuv444p",
            interpolation="AREA",
            src_color_range="JPEG" if full else None,
            dst_color_range="MPEG",
            threads=1,
        )
        return cls(small, False)

    @property
    def range_name(self) -> str:
        """The frame's range as libswscale names it."""
        return "JPEG" if self.full_range else "MPEG"

    def plane(self, index: int) -> np.ndarray:
        """A plane as a [h, w] uint8 view (no copy; the line padding cut off)."""
        p = self.frame.planes[index]
        return np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]

    def luma_histogram(self, bins: int) -> np.ndarray:
        """Normalised histogram [bins] of full-range luma over a HISTOGRAM_GRID x HISTOGRAM_GRID grid of the
        luma plane: the BT.601 grey histogram of the RGB picture, without computing the picture."""
        y = self.plane(0)
        h, w = y.shape
        grid = y[:: max(1, h // HISTOGRAM_GRID), :: max(1, w // HISTOGRAM_GRID)]
        to_bin = (_IDENTITY if self.full_range else _LUMA_FULL).astype(np.intp) * bins >> 8
        counts = np.bincount(to_bin[grid].ravel(), minlength=bins)
        return counts / counts.sum()

    def motion_thumbnail(self, scaler: Any, size: int = THUMB_SIZE) -> np.ndarray:
        """Full-range Y, Cb, Cr area-averaged to [size, size, 3] uint8 by `scaler`, a VideoReformatter kept for
        a file's frames (libswscale's area filter averages, chroma brought to the luma grid; the range is widened
        afterwards where it is studio). A kept scaler reuses its filters: measured 1.6-2.4 ms a 1920x816 frame
        against 2.2-3.5 with a new one each frame (2 cores under load)."""
        small = YuvFrame(
            scaler.reformat(
                self.frame,
                width=size,
                height=size,
                format="yuv444p",
                interpolation="AREA",
                src_color_range=self.range_name,
                dst_color_range=self.range_name,  # the same range: samples averaged, not rescaled
                threads=1,
            ),
            self.full_range,
        )
        y, cb, cr = (small.plane(i) for i in range(3))
        if self.full_range:
            return np.stack([y, cb, cr], axis=-1)
        return np.stack([_LUMA_FULL[y], _CHROMA_FULL[cb], _CHROMA_FULL[cr]], axis=-1)
