"""Stage 3: the moments a selected effect's source is on screen, as intervals.

The authors took a softmax over the *selected* labels per frame; with one selected label that is
always 1.0 and nothing is ever filtered out. Here each label is judged on its own: its per-frame
CLIP logit is scaled to the scene's own range (0 = the frame where it is least visible, 1 = most),
provided that range is a real difference (at least `min_contrast` logits, i.e. the odds change by
e^min_contrast); below that the source is taken as visible throughout. Hysteresis turns the
presence curve into runs, short gaps are bridged, and runs shorter than a minimum are dropped.
"""

from __future__ import annotations

import numpy as np

from soundify_otio.types import Interval


def presence(
    frame_embeddings: np.ndarray, label_embedding: np.ndarray, logit_scale: float, min_contrast: float
) -> np.ndarray:
    """Per sampled frame, how visible the label is, 0..1 relative to the scene."""
    logits = logit_scale * (frame_embeddings @ label_embedding)
    if logits.size == 0:
        return logits
    low, high = float(logits.min()), float(logits.max())
    if high - low < min_contrast:
        return np.ones(logits.shape[0])
    return (logits - low) / (high - low)


def visible_intervals(
    times: np.ndarray,
    present: np.ndarray,
    step: float,
    end: float,
    on: float,
    off: float,
    min_duration: float,
    merge_gap: float,
) -> tuple[Interval, ...]:
    """Runs where presence rises to `on` and stays above `off`; each sample stands for [t, t + step)."""
    runs: list[list[float]] = []
    is_open = False
    for t, p in zip(times, present):
        if not is_open and p >= on:
            runs.append([float(t), min(float(t) + step, end)])
            is_open = True
        elif is_open and p >= off:
            runs[-1][1] = min(float(t) + step, end)
        elif is_open:
            is_open = False
    merged: list[list[float]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] < merge_gap:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return tuple(Interval(a, b) for a, b in merged if b - a >= min_duration)
