"""Fine sync's visual onsets: the motion signal and the impact detector, on arrays with a known truth."""

from __future__ import annotations

import numpy as np

from soundify_otio.stages import onsets


def test_grey_thumbnails_are_block_means_of_the_grey_picture():
    frames = np.zeros((2, 224, 224, 3), np.uint8)
    frames[0, :7, :7] = (255, 0, 0)  # one red block: grey 255 * 77 / 256 = 76.7 -> 77
    frames[1, 7:14, 14:21] = 255
    frames[1, 0, 0] = 255  # one white pixel in a black 7x7 block: mean 255 / 49 = 5.2
    thumbs = onsets.grey_thumbnails(frames)
    assert thumbs.shape == (2, 32, 32) and thumbs.dtype == np.uint8
    assert thumbs[0, 0, 0] == 77 and thumbs[0].sum() == 77
    assert thumbs[1, 1, 2] == 255 and thumbs[1, 0, 0] == 5


def _blob_frames(ys: np.ndarray, noise: float = 2.0) -> np.ndarray:
    """A bright 3x3 blob on grey at row ys[t] (column 10) per frame, plus sensor-like noise."""
    rng = np.random.default_rng(0)
    frames = np.full((len(ys), 32, 32), 100.0) + rng.normal(0, noise, (len(ys), 32, 32))
    for t, y in enumerate(ys):
        frames[t, int(y) : int(y) + 3, 9:12] = 220
    return np.clip(frames, 0, 255).astype(np.uint8)


def test_a_bounce_is_found_on_its_frame_and_stillness_gives_nothing():
    ys = np.minimum(2 + 0.1 * np.arange(20) ** 2, 26.0)  # accelerating down to the floor at row 26
    contact = int(np.argmax(ys >= 26.0))
    up = 26.0 - 0.1 * np.arange(1, 7) * (22 - np.arange(1, 7))  # and back up (whole rows: stop before the top)
    ys = np.concatenate([ys[: contact + 1], up])
    region = np.ones((len(ys), 32, 32), np.float32)
    found = onsets.detect_onsets(_blob_frames(ys), region, fps=25.0)
    assert [o.frame for o in found] == [contact] and found[0].strength > 1.2
    still = _blob_frames(np.full(40, 12.0))
    assert onsets.detect_onsets(still, np.ones((40, 32, 32), np.float32), fps=25.0) == []
    assert onsets.detect_onsets(_blob_frames(ys), np.zeros_like(region), fps=25.0) == []  # outside the region


def test_region_is_the_union_of_the_maps_within_reach():
    cams = np.zeros((3, 7, 7), np.float32)
    cams[0, 0, 0] = cams[1, 6, 6] = cams[2, 3, 3] = 1.0
    region = onsets.region_weights(cams, np.array([0.0, 10.0, 20.0]), 21, reach=10.0)
    assert region.shape == (21, 32, 32)
    assert region[5, 0, 0] > 0.9 and region[5, 31, 31] > 0.9  # between the first two maps: both
    assert region[20, 0, 0] < 0.1 and region[20, 16, 16] > 0.9  # at the last: it and the one before
