"""Hear the dialogue: the timeline's own sound mixed to one 16 kHz signal, decoded once (cached with the
frame analysis), where its speech is (Silero VAD), and how loud the speech is per scene (BS.1770, on the
speech decoded again at full rate: the 16 kHz signal lacks what lies above 8 kHz, ~1 LU of a voice over noise)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opentimelineio as otio

from soundify_otio.audio import speech
from soundify_otio.audio.decode import SoundSource, mix
from soundify_otio.config import Config
from soundify_otio.pipeline.frame_cache import FrameCache, media_identity
from soundify_otio.timeline.media import MediaRoots
from soundify_otio.timeline.sound import timeline_sound
from soundify_otio.types import Shot, SpeechRegion

log = logging.getLogger(__name__)

_MIN_LOUDNESS_SECONDS = 0.4
"""BS.1770's gating block: less speech than this in a scene gives no loudness."""
LOUDNESS_RATE = 48000
"""The rate the speech's loudness is measured at (the full band a mix is heard in)."""


@dataclass(frozen=True)
class Dialogue:
    """The timeline's own sound as the analysis hears it (16 kHz mono, 0 = the stack's first frame)
    and the speech found in it."""

    signal: np.ndarray
    regions: tuple[SpeechRegion, ...]
    sources: tuple[SoundSource, ...]

    def speech_in(self, start: float, end: float) -> tuple[SpeechRegion, ...]:
        """The speech regions overlapping [start, end), cut to it."""
        return tuple(
            SpeechRegion(max(r.start, start), min(r.end, end), r.confidence)
            for r in self.regions
            if r.end > start and r.start < end
        )

    def loudness(self, regions: Sequence[SpeechRegion]) -> float | None:
        """Integrated loudness (LUFS, BS.1770 with its gates) of the sound during `regions`, decoded from
        the sources again at LOUDNESS_RATE (only those stretches); None when they hold less than 0.4 s
        or only silence."""
        import pyloudnorm

        if sum(r.end - r.start for r in regions) < _MIN_LOUDNESS_SECONDS:
            return None
        samples = np.concatenate([mix(self.sources, LOUDNESS_RATE, r.start, r.end)[0] for r in regions])
        value = float(pyloudnorm.Meter(LOUDNESS_RATE).integrated_loudness(samples.astype(np.float64)))
        return value if np.isfinite(value) else None


def listen(
    timeline: otio.schema.Timeline,
    shots: Sequence[Shot],
    base_dir: Path,
    media_roots: MediaRoots,
    cache: FrameCache,
    config: Config,
) -> Dialogue:
    """The timeline's sound and its speech regions; the mixed signal and the VAD's window
    probabilities come from the cache when the same sources were heard before."""
    sources = tuple(timeline_sound(timeline, shots, base_dir, media_roots))
    key = _key(sources)
    cached = cache.load_sound(key) if key is not None else None
    if cached is None:
        signal, problems = mix(sources, speech.RATE)
        for problem in problems:
            if "no audio stream" in problem.reason:  # a silent video file: common, and nothing to hear
                log.debug("no production sound: %s", problem)
            else:
                log.warning("the dialogue analysis cannot hear %s", problem)
        heard = len(problems) < len(sources)
        probs = speech.probabilities(signal) if heard else np.zeros(-(-len(signal) // speech.WINDOW), np.float32)
        if key is not None:
            cache.save_sound(key, signal, probs)
    else:
        signal, probs = cached
    rules = speech.RegionRules(config.speech_threshold, config.speech_min_seconds, config.speech_min_silence_seconds)
    return Dialogue(signal, speech.regions(probs, rules), sources)


def _key(sources: Sequence[SoundSource]) -> str | None:
    """What identifies the analysis: each source's content, range and level, and the model; None when
    a source's file cannot be read (it is then not cached)."""
    try:
        identity: list[tuple[object, ...]] = [
            (media_identity(s.media_path), s.media_start, s.timeline_start, s.duration, s.gain_db) for s in sources
        ]
    except OSError:
        return None
    model = speech.model_file()
    stat = model.stat()
    identity.append(("silero", model.name, stat.st_size, speech.RATE))
    return hashlib.sha1(repr(identity).encode()).hexdigest()
