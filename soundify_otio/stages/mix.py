"""Stage 4: pan and gain over time from where the source sits in the frame (Grad-CAM)."""

from __future__ import annotations

import numpy as np

from soundify_otio.types import Curve, Interval


def chunk_starts(interval: Interval, chunk_seconds: float) -> list[float]:
    """The interval cut into equal chunks of about chunk_seconds; their start times."""
    count = max(1, round(interval.duration / chunk_seconds))
    return [interval.start + i * interval.duration / count for i in range(count)]


def pan_and_gain(
    cam: np.ndarray, area_threshold: float, gain_max_db: float, gain_floor_db: float, gain_slope_db: float
) -> tuple[float, float]:
    """Pan = x of the map's centre of mass scaled to -1..1; gain dB from the share of the map lit.

    The authors' mapping: gain = min(area * slope + floor, max) dB (40, -10, +10 dB) with area the
    fraction of cells at or above `area_threshold` of the map's peak. An empty map gives centre pan
    and the floor gain.
    """
    total = float(cam.sum())
    if total <= 0.0:
        return 0.0, gain_floor_db
    width = cam.shape[1]
    x_centres = (np.arange(width) + 0.5) / width
    centre_x = float((cam.sum(axis=0) * x_centres).sum() / total)
    area = float((cam >= area_threshold * cam.max()).mean())
    return (centre_x - 0.5) * 2.0, min(area * gain_slope_db + gain_floor_db, gain_max_db)


def curve(times: list[float], values: list[float], origin: float, end: float) -> Curve:
    """Keyframes relative to `origin`, with a closing key at `end` so every curve has two or more."""
    keys = [(round(t - origin, 6), float(v)) for t, v in zip(times, values)]
    if not keys or keys[-1][0] < round(end - origin, 6):
        keys.append((round(end - origin, 6), keys[-1][1] if keys else 0.0))
    return tuple(keys)
