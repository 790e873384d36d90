"""Is a sound a one-shot (one dominant hit that rings out) or a texture, and where does its hit peak?

Measured once per file at index time on a level envelope (RMS in 5 ms hops, in dB): an attack is
a rise of at least ATTACK_RISE_DB over the quietest of the previous 40 ms, at most SPREAD_DB under
the file's loudest hop; attacks closer than 60 ms are one. A file is a dominant-hit sound when it
is short, its loudest attack stands DOMINANCE_DB above every other, and it ends well below its peak.
The transient is where that attack's waveform peaks (seconds from the file's first sample): the
moment a placement lines up with a visual onset. The verdict combines this with the library's
words (UCS categories, label, tags) and a sidecar override (`one_shot_verdict`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSE_SECONDS = 8.0
"""Longer files are textures or sequences: not analysed (no one-shot is this long)."""
HOP_SECONDS = 0.005
LOOKBACK_HOPS = 8
ATTACK_RISE_DB = 12.0
SPREAD_DB = 30.0
MERGE_SECONDS = 0.06
DOMINANCE_DB = 6.0
"""The loudest attack must peak this far above any other outside its event for the file to hold one hit."""
EVENT_SECONDS = 0.15
"""Attacks this close to the loudest are parts of one hit (a heel and its toe, a latch and its thump)."""
NEAR_PEAK_DB = 3.0
"""The hit's attack must reach to within this of the file's loudest level (not a fade-in at the start)."""
TAIL_DROP_DB = 12.0
"""The file's last tenth must sit this far under its peak (a hit rings out; a loop does not)."""
PEAK_SEARCH_SECONDS = 0.05
"""The attack's waveform peak is looked for this long after its rise."""
WORDS_ONLY_SECONDS = 1.5
"""A dominant-hit file without impact words is a one-shot only when at most this long."""


@dataclass(frozen=True)
class TransientFacts:
    """What the audio says: attacks counted, whether one dominates, and where it peaks."""

    attacks: int
    dominant: bool
    transient: float | None


def _levels(mono: np.ndarray, hop: int) -> np.ndarray:
    """RMS level in dB per hop (-120 for silence)."""
    count = max(1, len(mono) // hop)
    frames = np.zeros(count * hop, np.float64)
    frames[: min(len(mono), count * hop)] = mono[: count * hop]
    rms = np.sqrt(np.mean(frames.reshape(count, hop) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def analyse(data: np.ndarray, sample_rate: int) -> TransientFacts:
    """Attacks, dominance and transient time of audio [n] or [n, channels] (float)."""
    mono = np.abs(data).mean(axis=1) if data.ndim == 2 else np.abs(data)
    signed = data.mean(axis=1) if data.ndim == 2 else data
    if len(mono) == 0 or len(mono) > ANALYSE_SECONDS * sample_rate or not np.any(mono):
        return TransientFacts(0, False, None)
    hop = max(1, round(HOP_SECONDS * sample_rate))
    levels = _levels(signed, hop)
    padded = np.concatenate([np.full(LOOKBACK_HOPS, -120.0), levels])
    floor = np.min(np.lib.stride_tricks.sliding_window_view(padded[:-1], LOOKBACK_HOPS), axis=1)
    rise = levels - floor
    peak_level = float(levels.max())
    candidates = np.flatnonzero((rise >= ATTACK_RISE_DB) & (levels >= peak_level - SPREAD_DB))
    merge = max(1, round(MERGE_SECONDS / HOP_SECONDS))
    attacks: list[tuple[int, float]] = []  # (first hop, loudest level within the attack)
    for hop_index in candidates:
        if attacks and hop_index - attacks[-1][0] < merge:
            continue
        attacks.append((int(hop_index), float(levels[hop_index : hop_index + merge].max())))
    if not attacks:
        return TransientFacts(0, False, None)
    loudest = max(range(len(attacks)), key=lambda i: attacks[i][1])
    hit_hop, hit_level = attacks[loudest]
    event = round(EVENT_SECONDS / HOP_SECONDS)
    others = [level for first, level in attacks if abs(first - hit_hop) > event]
    tail = levels[-max(1, len(levels) // 10) :]
    dominant = hit_level >= peak_level - NEAR_PEAK_DB
    dominant &= all(level <= hit_level - DOMINANCE_DB for level in others)
    dominant &= float(tail.mean()) <= peak_level - TAIL_DROP_DB
    first = next(f for f, level in attacks if abs(f - hit_hop) <= event and level >= hit_level - DOMINANCE_DB)
    start = first * hop
    window = mono[start : start + int(PEAK_SEARCH_SECONDS * sample_rate) + hop]
    transient = (start + int(np.argmax(window))) / sample_rate
    return TransientFacts(len(attacks), bool(dominant), round(transient, 5))


def one_shot_verdict(override: bool | None, kind: str, words_say: bool | None, dominant: bool, duration: float) -> bool:
    """The decision: a sidecar's word first; never an ambience; the audio must hold one dominant hit;
    then impact words (footsteps, slam, knock, hit...) make it one, texture words (loop, hum...) do
    not, and a file without either counts when it is short."""
    if override is not None:
        return override
    if kind != "effect" or not dominant or words_say is False:
        return False
    return bool(words_say) or duration <= WORDS_ONLY_SECONDS
