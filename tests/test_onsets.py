"""Fine sync's visual onsets: the motion signal and the impact detector, on arrays with a known truth."""

from __future__ import annotations

import numpy as np

from soundify_otio.stages import onsets


def test_grey_thumbnails_are_block_means_of_the_grey_picture():
    frames = np.zeros((2, 224, 224, 3), np.uint8)
    frames[0, :7, :7] = (255, 0, 0)  # one red block: grey (255 * 77) >> 8 = 76
    frames[1, 7:14, 14:21] = 255
    frames[1, 0, 0] = 255  # one white pixel in a black 7x7 block: mean 255 / 49 = 5.2
    thumbs = onsets.grey_thumbnails(frames)
    assert thumbs.shape == (2, 32, 32) and thumbs.dtype == np.uint8
    assert thumbs[0, 0, 0] == 76 and thumbs[0].sum() == 76
    assert thumbs[1, 1, 2] == 255 and thumbs[1, 0, 0] == 5
