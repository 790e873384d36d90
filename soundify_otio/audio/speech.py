"""Where someone speaks: Silero VAD (MIT; its ONNX weights ship inside the `silero-vad` wheel) run
with ONNX Runtime on 16 kHz mono, 32 ms a window, then turned into speech regions.

The package's own module is not imported: it sets torch's thread count for the whole process on
import. Its model file is found on disk, and nothing is fetched from any network.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from soundify_otio.errors import ModelError
from soundify_otio.types import SpeechRegion

RATE = 16000
"""Samples per second the model hears."""
WINDOW = 512
"""Samples per model step (32 ms)."""
_CONTEXT = 64
"""Samples of the previous window the model sees before each window."""
_SECTION = 30 * RATE
"""Long signals are cut into sections this long, run side by side as one batch."""
_WARMUP = 2 * RATE
"""Each section after the first starts this much earlier, so its state has settled where it counts."""


@dataclass(frozen=True)
class RegionRules:
    """How window probabilities become speech regions (Silero's own rules, in seconds)."""

    threshold: float = 0.5
    min_speech: float = 0.25
    min_silence: float = 0.1
    pad: float = 0.03


def model_file() -> Path:
    """The Silero VAD ONNX model inside the installed package (ModelError when it is not installed)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the speech detector is not installed (pip install silero-vad)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise ModelError("the silero-vad package holds no ONNX model", path)
    return path


@cache
def _session() -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model_file()), options, providers=["CPUExecutionProvider"])


def probabilities(signal: np.ndarray) -> np.ndarray:
    """Speech probability of each 32 ms window of a 16 kHz mono signal (the last window zero-padded).

    A long signal runs as a batch of 30 s sections (each preceded by 2 s the model hears but whose
    windows are dropped), one ONNX call a window step for all of them."""
    windows = -(-len(signal) // WINDOW)
    if windows == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.zeros(windows * WINDOW, dtype=np.float32)
    padded[: len(signal)] = signal
    section_windows = _SECTION // WINDOW
    starts = list(range(0, windows, section_windows))
    lead = _WARMUP // WINDOW if len(starts) > 1 else 0
    steps = lead + min(windows, section_windows)
    batch = np.zeros((len(starts), steps * WINDOW + _CONTEXT), dtype=np.float32)
    for row, first in enumerate(starts):  # row: `lead` windows heard before its section, then the section
        begin = (first - lead) * WINDOW
        piece = padded[max(0, begin) : (first - lead + steps) * WINDOW]
        at = _CONTEXT + max(0, -begin)
        batch[row, at : at + len(piece)] = piece
    session = _session()
    state = np.zeros((2, len(starts), 128), dtype=np.float32)
    rate = np.array(RATE, dtype=np.int64)
    out = np.zeros((len(starts), steps), dtype=np.float32)
    for step in range(steps):
        chunk = batch[:, step * WINDOW : (step + 1) * WINDOW + _CONTEXT]
        prob, state = session.run(None, {"input": chunk, "state": state, "sr": rate})
        out[:, step] = prob[:, 0]
    result = np.zeros(windows, dtype=np.float32)
    for row, first in enumerate(starts):
        keep = min(section_windows, windows - first)
        result[first : first + keep] = out[row, lead : lead + keep]
    return result


def regions(probs: np.ndarray, rules: RegionRules, origin: float = 0.0) -> tuple[SpeechRegion, ...]:
    """Speech regions from window probabilities, with Silero's hysteresis: a region opens at a window
    at or above `threshold`, closes after `min_silence` below `threshold - 0.15`, is dropped when
    shorter than `min_speech`, and is padded by `pad` on each side. Confidence = its mean probability.
    Times in seconds from `origin` (the signal's first sample)."""
    step = WINDOW / RATE
    low = max(0.01, rules.threshold - 0.15)
    silence_windows = max(1, round(rules.min_silence / step))
    found: list[tuple[int, int]] = []
    start: int | None = None
    quiet = 0
    for i, p in enumerate(probs):
        if start is None:
            if p >= rules.threshold:
                start, quiet = i, 0
            continue
        quiet = quiet + 1 if p < low else 0
        if quiet >= silence_windows:
            found.append((start, i - quiet + 1))
            start = None
    if start is not None:
        found.append((start, len(probs) - quiet))
    total = len(probs) * step
    out = []
    for a, b in found:
        if (b - a) * step < rules.min_speech:
            continue
        out.append(
            SpeechRegion(
                origin + max(0.0, a * step - rules.pad),
                origin + min(total, b * step + rules.pad),
                float(np.mean(probs[a:b])),
            )
        )
    return tuple(out)
