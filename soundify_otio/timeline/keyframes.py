"""The neutral keyframes on a timeline: sample them, convert units, put keys on frames (for exporters and readers)."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

import opentimelineio as otio

MIN_DB = -100.0
"""Floor for gain_to_db (silence), matching the editors' lowest fader value."""


def value_at(curve: Sequence[Sequence[float]], t: float) -> float:
    """Curve value at t: linear between keys, first/last value held outside."""
    times = [float(k[0]) for k in curve]
    if t <= times[0]:
        return float(curve[0][1])
    if t >= times[-1]:
        return float(curve[-1][1])
    i = bisect.bisect_right(times, t)
    (t0, v0), (t1, v1) = curve[i - 1], curve[i]
    if t1 == t0:
        return float(v1)
    return float(v0) + (float(v1) - float(v0)) * (t - float(t0)) / (float(t1) - float(t0))


def keys_on_frames(curve: Sequence[Sequence[float]], rate: float) -> list[tuple[int, float]]:
    """The one rule every exporter follows for keys on a frame grid: each frame that holds one or more
    keys (t rounded to the nearest frame) gets a single key, the curve's value at that frame's time."""
    frames = sorted({round(float(t) * rate) for t, _v in curve})
    return [(frame, value_at(curve, frame / rate)) for frame in frames]


def db_to_gain(db: float) -> float:
    """Decibels to linear amplitude."""
    return 10.0 ** (db / 20.0)


def gain_to_db(g: float) -> float:
    """Linear amplitude to decibels, floored at MIN_DB for silence."""
    return MIN_DB if g <= 0 else max(MIN_DB, 20.0 * math.log10(g))


def densify_db(curve: list[list[float]], max_step_db: float = 3.0) -> list[tuple[float, float]]:
    """Keys of a dB curve with extra keys so no segment spans more than `max_step_db`.

    For formats that interpolate linear gain between keys: a 3 dB step keeps the drawn curve within
    about 0.15 dB of the dB-linear one.
    """
    out = [(float(curve[0][0]), float(curve[0][1]))]
    for (t0, v0), (t1, v1) in itertools.pairwise(curve):
        steps = max(1, math.ceil(abs(float(v1) - float(v0)) / max_step_db))
        out.extend(
            (float(t0) + (float(t1) - float(t0)) * i / steps, float(v0) + (float(v1) - float(v0)) * i / steps)
            for i in range(1, steps + 1)
        )
    return out


def clip_timeline_start(clip: otio.schema.Clip) -> float:
    """Seconds in track time (0 = the track's first frame) where the clip starts."""
    return clip.range_in_parent().start_time.to_seconds()
