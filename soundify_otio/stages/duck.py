"""Ducking: a gain dip under each line of dialogue, added in dB to a placement's gain keys.

The dip ramps from 0 dB at `attack` before a line to `depth` at its start, holds to its end and
ramps back to 0 dB `release` after it. Lines closer than `hold` (or whose ramps would meet) share
one dip, so the bed does not pump between words.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from soundify_otio.types import Curve

GUARD_SECONDS = 0.1
"""Each corner of a dip gets a twin key this far on its flat side: formats that put keys on frames
take the curve's value at the nearest frame, which near a corner lies on the ramp; the twin keeps the
flat part flat from the next frame on (one frame is at most 0.042 s at 24 fps)."""


def dips(
    lines: Sequence[tuple[float, float]], depth_db: float, attack: float, release: float, hold: float
) -> list[tuple[float, float]]:
    """The dip as keyframes (t, dB) in the lines' time: 0 dB outside, `depth_db` during speech (each
    corner with a twin key GUARD_SECONDS along its flat side)."""
    merged: list[list[float]] = []
    for start, end in sorted(lines):
        if merged and start - merged[-1][1] <= max(hold, attack + release):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    keys: list[tuple[float, float]] = []
    for start, end in merged:
        guard = min(GUARD_SECONDS, (end - start) / 3)
        keys += [(start - attack - GUARD_SECONDS, 0.0), (start - attack, 0.0), (start, depth_db)]
        keys += [(start + guard, depth_db), (end - guard, depth_db)] if guard > 0 else []
        keys += [(end, depth_db), (end + release, 0.0), (end + release + GUARD_SECONDS, 0.0)]
    return [k for i, k in enumerate(keys) if i == 0 or k[0] > keys[i - 1][0] or k[1] != keys[i - 1][1]]


def _value(keys: Sequence[tuple[float, float]], times: list[float], t: float) -> float:
    """The keys' value at t: linear between keys, the end values held outside."""
    i = bisect.bisect_right(times, t)
    if i == 0:
        return keys[0][1]
    if i == len(keys):
        return keys[-1][1]
    (t0, v0), (t1, v1) = keys[i - 1], keys[i]
    return v1 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def ducked(gain: Curve, dip: Sequence[tuple[float, float]], origin: float) -> Curve:
    """`gain` (t from `origin`) with `dip` (absolute t) added: keys at both curves' times within the
    gain curve's span, so the sum is exact where either bends. No dip in the span: `gain` itself."""
    if not dip or not gain:
        return gain
    first, last = gain[0][0], gain[-1][0]
    gain_times = [t for t, _ in gain]
    dip_times = [t for t, _ in dip]
    inside = [round(t - origin, 6) for t in dip_times if first < t - origin < last]
    if not inside and all(_value(dip, dip_times, origin + t) == 0.0 for t in (first, last)):
        return gain
    times = sorted({*gain_times, *inside})
    return tuple((t, round(_value(gain, gain_times, t) + _value(dip, dip_times, origin + t), 6)) for t in times)
