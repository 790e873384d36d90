"""Sync's presence curve and interval logic on hand-made similarities (CLIP-like values)."""

from __future__ import annotations

import numpy as np
import pytest

from soundify_otio.stages.sync import presence, visible_intervals


def _frames(similarities: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Unit frame embeddings whose cosine with the label [1, 0] is each given value."""
    s = np.array(similarities)
    return np.stack([s, np.sqrt(1 - s**2)], axis=1), np.array([1.0, 0.0])


def test_presence_is_relative_to_the_scene_even_when_every_similarity_is_positive():
    """CLIP cosines sit around 0.2-0.3: the scale must start at the scene's lowest, not at 0."""
    frames, label = _frames([0.20, 0.21, 0.28, 0.29, 0.20])
    p = presence(frames, label, logit_scale=100.0, min_contrast=1.0)
    np.testing.assert_allclose(p, [0.0, 1 / 9, 8 / 9, 1.0, 0.0], atol=1e-6)


def test_a_flat_scene_counts_as_visible_throughout():
    frames, label = _frames([0.25, 0.252, 0.251])
    assert presence(frames, label, logit_scale=100.0, min_contrast=1.0).tolist() == [1.0, 1.0, 1.0]


def test_hysteresis_gap_bridging_and_minimum_length():
    times = np.arange(12) * 0.5
    present = np.array([0, 0.6, 0.4, 0.35, 0.1, 0.1, 0.9, 0.2, 0.7, 0.0, 0.0, 0.0])
    runs = visible_intervals(times, present, step=0.5, end=6.0, on=0.5, off=0.3, min_duration=0.5, merge_gap=0.6)
    # opens at 0.5 s, holds above 0.3 until 2.0 s; 3.0-3.5 and 4.0-4.5 are 0.5 s apart and bridged
    assert [(i.start, i.end) for i in runs] == [(0.5, 2.0), (3.0, 4.5)]
    short = visible_intervals(times, present, step=0.5, end=6.0, on=0.5, off=0.3, min_duration=1.6, merge_gap=0.0)
    assert short == ()


def test_an_interval_stops_at_the_scene_end():
    times = np.array([0.0, 0.5, 1.0])
    runs = visible_intervals(times, np.ones(3), step=0.5, end=1.2, on=0.5, off=0.3, min_duration=0.0, merge_gap=0.0)
    assert [(i.start, i.end) for i in runs] == [(0.0, pytest.approx(1.2))]
