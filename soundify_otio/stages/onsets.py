"""Fine sync: the frames where a source's motion is stopped or turned back (contacts, slams, footfalls).

Input is what the decode pass keeps of every frame, a small grey picture (`grey_thumbnails`), and
the Grad-CAM maps of the source at a few sampled frames. Per frame the maps are interpolated into a
soft region; inside it the moving content is what differs from the span's median picture. Its
centre of mass is followed, as a whole and in a grid of overlapping Gaussian windows (so a foot
that lands while the body walks on is seen on its own). A frame is an impact when the motion that
arrived there is lost: velocity reversed (a bounce) or stopped (a slam, a foot planted), or the
moving content vanished at once (a door closing into its frame). Numpy only.
"""

from __future__ import annotations

import numpy as np

THUMB_SIZE = 32
"""Side of the grey thumbnail kept per decoded frame (1 KB a frame)."""


def grey_thumbnails(frames: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """BT.601 grey block means [n, size, size] (uint8) of uint8 RGB frames [n, h, w, 3]."""
    n, h, w = frames.shape[:3]
    by, bx = max(1, h // size), max(1, w // size)
    rgb = frames[:, : by * size, : bx * size].astype(np.uint16)
    grey = (rgb[..., 0] * 77 + rgb[..., 1] * 150 + rgb[..., 2] * 29) >> 8
    blocks = grey.reshape(n, size, by, size, bx).sum(axis=(2, 4), dtype=np.uint32)
    return ((blocks + by * bx // 2) // (by * bx)).astype(np.uint8)
