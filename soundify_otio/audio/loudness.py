"""Programme loudness (ITU-R BS.1770-4 / EBU R128) and true peak, measured block by block as a mix is
written, so a long timeline's mix is never held whole: one number is kept per 100 ms."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter, lfilter_zi, resample_poly

_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
_OVERSAMPLE = 4
"""True peak: the signal's peak after 4x oversampling (BS.1770-4 Annex 2)."""
_CONTEXT = 32
"""Samples of the previous block the oversampler sees, so block seams add no false peak."""


class ProgrammeMeter:
    """Integrated loudness (LUFS) and true peak (dBTP) of a signal fed in blocks of [n, channels]."""

    def __init__(self, rate: int, channels: int) -> None:
        from pyloudnorm.iirfilter import IIRfilter

        self.rate, self.channels = rate, channels
        self._filters = [
            (f.b, f.a)
            for f in (
                IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, rate, "high_shelf"),  # BS.1770's K-weighting
                IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"),
            )
        ]
        self._state = [np.outer(lfilter_zi(b, a), np.zeros(channels)) for b, a in self._filters]
        self._hop = rate // 10
        self._partial = np.zeros(0)
        self._hops: list[float] = []
        """Per 100 ms: the K-weighted mean square summed over the channels."""
        self._previous = np.zeros((0, channels))
        self.peak = 0.0

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float64).reshape(-1, self.channels)
        weighted = block
        for i, (b, a) in enumerate(self._filters):
            weighted, self._state[i] = lfilter(b, a, weighted, axis=0, zi=self._state[i])
        energy = np.concatenate([self._partial, (weighted**2).sum(axis=1)])
        whole = len(energy) // self._hop * self._hop
        self._hops.extend(energy[:whole].reshape(-1, self._hop).mean(axis=1).tolist())
        self._partial = energy[whole:]
        seen = np.concatenate([self._previous, block])
        if len(seen):
            over = resample_poly(seen, _OVERSAMPLE, 1, axis=0)[len(self._previous) * _OVERSAMPLE :]
            self.peak = max(self.peak, float(np.abs(over).max(initial=0.0)), float(np.abs(block).max(initial=0.0)))
        self._previous = seen[-_CONTEXT:]

    def integrated(self) -> float:
        """Gated integrated loudness (LUFS); -inf for silence or less than 400 ms."""
        hops = np.asarray(self._hops)
        if len(hops) < 4:
            return -math.inf
        blocks = np.convolve(hops, np.ones(4) / 4, mode="valid")  # 400 ms windows, 75 % overlap
        with np.errstate(divide="ignore"):
            loud = -0.691 + 10 * np.log10(blocks)
        kept = blocks[loud > _ABSOLUTE_GATE]
        if not len(kept):
            return -math.inf
        relative = -0.691 + 10 * math.log10(kept.mean()) + _RELATIVE_GATE
        kept = blocks[(loud > _ABSOLUTE_GATE) & (loud > relative)]
        return -0.691 + 10 * math.log10(kept.mean())

    def true_peak_db(self) -> float:
        return 20 * math.log10(self.peak) if self.peak > 0 else -math.inf


def programme_gain_db(loudness: float, true_peak: float, target: float, ceiling: float) -> tuple[float, bool]:
    """The gain that brings `loudness` to `target`, lowered where it would lift the true peak over
    `ceiling`; and whether the ceiling lowered it. No gain for silence."""
    if not math.isfinite(loudness):
        return 0.0, False
    gain = target - loudness
    if math.isfinite(true_peak) and true_peak + gain > ceiling:
        return ceiling - true_peak, True
    return gain, False
