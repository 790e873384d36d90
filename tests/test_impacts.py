"""Fine sync's visual impacts: the motion signal and the impact detector, on arrays with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from soundify_otio.stages import impacts
from soundify_otio.vision.planes import THUMB_SIZE

from helpers.thumbnails import motion_thumbnails


def test_motion_thumbnails_are_block_means_in_ycbcr():
    frames = np.zeros((2, 224, 224, 3), np.uint8)
    frames[0, :7, :7] = (255, 0, 0)  # one red block: Y 76.2, Cb 85.0, Cr 255.5 (clipped)
    frames[1, 7:14, 14:21] = 255
    frames[1, 0, 0] = (0, 0, 255)  # one blue pixel in a black 7x7 block: mean (0, 0, 5.2)
    thumbs = motion_thumbnails(frames)
    assert thumbs.shape == (2, 32, 32, 3)
    assert thumbs.dtype == np.uint8
    assert thumbs[0, 0, 0].tolist() == [76, 85, 255]
    assert thumbs[0, 5, 5].tolist() == [0, 128, 128]  # black: no colour
    assert thumbs[1, 1, 2].tolist() == [255, 128, 128]
    assert thumbs[1, 0, 0].tolist() == [1, 131, 128]  # Y 0.6, Cb 128 + 2.6, Cr 128 - 0.4


def test_an_isoluminant_change_is_as_far_as_a_grey_one():
    """A red and a grey of the same luma differ (by colour); two greys differ by brightness alone."""
    red, grey = np.array([[[200, 60, 60]]], np.uint8), np.zeros((1, 1, 3), np.uint8)
    y = motion_thumbnails(red[None].repeat(32, 1).repeat(32, 2))[0, 0, 0]
    grey[:] = y[0]
    same_luma = motion_thumbnails(grey[None].repeat(32, 1).repeat(32, 2))[0, 0, 0]
    assert same_luma[0] == y[0]
    assert impacts.colour_distance(y, same_luma) > 50
    assert impacts.colour_distance(np.array([100, 128, 128]), np.array([140, 128, 128])) == 40


def _blob_frames(ys: np.ndarray, noise: float = 2.0, blob: tuple[int, int, int] = (220, 128, 128)) -> np.ndarray:
    """A 3x3 blob (Y, Cb, Cr; bright by default) on grey at row ys[t] (column 10) per frame, plus
    sensor-like noise."""
    rng = np.random.default_rng(0)
    frames = np.full((len(ys), 32, 32, 3), (100.0, 128.0, 128.0)) + rng.normal(0, noise, (len(ys), 32, 32, 3))
    for t, y in enumerate(ys):
        frames[t, int(y) : int(y) + 3, 9:12] = blob
    return np.clip(frames, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("blob", [(220, 128, 128), (100, 90, 190)], ids=["bright", "isoluminant"])
def test_a_bounce_is_found_on_its_frame_and_stillness_gives_nothing(blob):
    ys = np.minimum(2 + 0.1 * np.arange(20) ** 2, 26.0)  # accelerating down to the floor at row 26
    contact = int(np.argmax(ys >= 26.0))
    up = 26.0 - 0.1 * np.arange(1, 7) * (14 - np.arange(1, 7))  # back up, slower (whole rows: before the top)
    ys = np.concatenate([ys[: contact + 1], up])
    region = np.ones((len(ys), 32, 32), np.float32)
    found = impacts.detect_impacts(_blob_frames(ys, blob=blob), region, fps=25.0)
    assert [o.frame for o in found] == [contact]
    assert found[0].strength > 1.2
    still = _blob_frames(np.full(40, 12.0), blob=blob)
    assert impacts.detect_impacts(still, np.ones((40, 32, 32), np.float32), fps=25.0) == []
    assert impacts.detect_impacts(_blob_frames(ys, blob=blob), np.zeros_like(region), fps=25.0) == []  # outside


def test_region_is_the_union_of_the_maps_within_reach():
    cams = np.zeros((3, 7, 7), np.float32)
    cams[0, 0, 0] = cams[1, 6, 6] = cams[2, 3, 3] = 1.0
    region = impacts.region_weights(cams, np.array([0.0, 10.0, 20.0]), 21, reach=10.0, size=THUMB_SIZE)
    assert region.shape == (21, 32, 32)
    assert region[5, 0, 0] > 0.9
    assert region[5, 31, 31] > 0.9  # between the first two maps: both
    assert region[20, 0, 0] < 0.1
    assert region[20, 16, 16] > 0.9  # at the last: it and the one before


def test_a_span_moves_only_where_something_moves_beyond_the_noise():
    assert not impacts.moves(_blob_frames(np.full(40, 12.0)))  # a still blob and sensor noise
    assert impacts.moves(_blob_frames(np.linspace(2, 26, 40)))
    assert impacts.moves(_blob_frames(np.linspace(2, 26, 40), blob=(100, 90, 190)))  # by colour alone


def test_a_thing_passing_through_at_a_steady_speed_is_no_impact():
    """A blob crossing the frame at a steady speed leaves each small window in turn: change there stops at
    once, but nothing stopped, so the shut is judged on the whole region and finds nothing."""
    frames = np.full((40, 32, 32, 3), (100.0, 128.0, 128.0))
    for t in range(40):
        x = -4 + 1.0 * t  # 1 thumbnail pixel a frame, entering on the left and leaving on the right
        for col in range(32):
            cover = np.clip(min(col + 1, x + 4) - max(col, x), 0, 1)  # a 4-pixel-wide bar, fractional edges
            frames[t, 12:18, col] = frames[t, 12:18, col] * (1 - cover) + np.array([220.0, 128, 128]) * cover
    thumbs = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    assert impacts.detect_impacts(thumbs, np.ones((40, 32, 32), np.float32), fps=25.0) == []


def _door(opening: np.ndarray) -> np.ndarray:
    """A bright panel over rows 6..26 whose width is 20 * (1 - opening[t]) columns from column 6 (0 = shut)."""
    frames = np.full((len(opening), 32, 32, 3), (60.0, 128.0, 128.0))
    for t, o in enumerate(opening):
        right = 6 + 20 * (1 - o)
        cover = np.clip(np.minimum(np.arange(32) + 1, right) - np.maximum(np.arange(32), 6), 0, 1)
        frames[t, 6:26] = frames[t, 6:26] * (1 - cover[:, None]) + np.array([200.0, 128, 128]) * cover[:, None]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def test_a_door_shut_fast_is_an_impact_and_one_easing_open_to_rest_is_not():
    """Shut most of the span (so the span's median picture is the shut door): swung open, slowing to rest,
    then slammed, accelerating. Only the slam stops motion that arrived at speed."""
    eased = 0.5 - 0.5 * np.cos(np.pi * np.arange(21) / 20)  # opens over 20 frames, slowing to rest
    opening = np.concatenate([np.zeros(30), eased, np.ones(10), 1 - (np.arange(1, 7) / 6) ** 2, np.zeros(30)])
    shut = 30 + 21 + 10 + 5  # the frame the accelerating door is closed
    region = np.ones((len(opening), 32, 32), np.float32)
    assert [i.frame for i in impacts.detect_impacts(_door(opening), region, fps=25.0)] == [shut]
