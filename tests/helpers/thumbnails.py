"""Motion thumbnails computed from RGB frames: the reference for what the decoder reads from a file's planes
(vision.planes), and the input of the impact detector's tests on synthetic pictures."""

from __future__ import annotations

import numpy as np

from soundify_otio.vision.planes import THUMB_SIZE

_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
"""BT.601 full-range RGB -> Y, Cb, Cr (Cb and Cr offset by 128)."""


def motion_thumbnails(frames: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """Y, Cb, Cr (BT.601 full range) of the block means [n, size, size, 3] (uint8) of uint8 RGB frames
    [n, h, w, 3]: the frame cut into size x size blocks of h // size x w // size pixels (the remainder
    at the bottom and right is left out), each averaged. Colour is kept so that an object differing
    from its background in hue alone (a red ball on grey asphalt) still moves in the signal."""
    n, h, w = frames.shape[:3]
    by, bx = max(1, h // size), max(1, w // size)
    total = np.uint16 if by * 255 <= np.iinfo(np.uint16).max else np.uint32
    rows = frames[:, : by * size, : bx * size].reshape(n, size, by, size * bx * 3).sum(axis=2, dtype=total)
    pool = np.kron(np.ones((bx, 1), np.float32), _YCBCR.T / (by * bx))  # a block's bx pixels -> its mean Y, Cb, Cr
    ycbcr = rows.reshape(n * size * size, bx * 3).astype(np.float32) @ pool
    ycbcr[:, 1:] += 128.0
    return np.clip(np.rint(ycbcr), 0, 255).astype(np.uint8).reshape(n, size, size, 3)
