"""Procedural sounds: shape, level, determinism, and that each family sounds like itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from soundify_otio.sample import soundgen

SR = 22050


def _centroid(x: np.ndarray, sr: int) -> float:
    power = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1 / sr)
    return float((power * freqs).sum() / power.sum())


@pytest.fixture(scope="module")
def rendered() -> dict[str, np.ndarray]:
    return {
        name: soundgen.generate(name, seconds=min(spec.seconds, 4.0), sample_rate=SR, seed=3)
        for name, spec in soundgen.GENERATORS.items()
    }


def test_required_families_present() -> None:
    wanted = {
        "traffic",
        "car passing",
        "engine idle",
        "bicycle",
        "bicycle bell",
        "footsteps",
        "door slam",
        "door creak",
        "dog bark",
        "city street",
        "wind",
        "rain",
        "birds",
        "crowd murmur",
        "room tone",
    }
    assert wanted <= set(soundgen.GENERATORS)
    kinds = {name: spec.kind for name, spec in soundgen.GENERATORS.items()}
    assert kinds["rain"] == kinds["city street"] == "ambient"
    assert kinds["bicycle bell"] == "effect"


def test_shape_level_and_headroom(rendered: dict[str, np.ndarray]) -> None:
    for name, x in rendered.items():
        seconds = min(soundgen.GENERATORS[name].seconds, 4.0)
        assert x.dtype == np.float32, name
        assert x.ndim == 2, name
        assert x.shape[1] in (1, 2), name
        assert x.shape[0] == round(seconds * SR), name
        assert np.isfinite(x).all(), name
        assert np.abs(x).max() == pytest.approx(soundgen.PEAK, abs=1e-3), name
        assert np.sqrt((x**2).mean()) > 0.01, f"{name} is nearly silent"
        assert abs(float(x.mean())) < 0.01, f"{name} has DC"


def test_deterministic_per_seed() -> None:
    a = soundgen.generate("rain", seconds=1.0, sample_rate=SR, seed=1)
    b = soundgen.generate("rain", seconds=1.0, sample_rate=SR, seed=1)
    c = soundgen.generate("rain", seconds=1.0, sample_rate=SR, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_spectra_differ_between_families(rendered: dict[str, np.ndarray]) -> None:
    c = {name: _centroid(x, SR) for name, x in rendered.items()}
    assert c["rain"] > 3 * c["engine idle"]
    assert c["rain"] > 2 * c["wind"]
    assert c["birds"] > 2 * c["crowd murmur"]
    assert c["bicycle bell"] > 2 * c["door slam"]
    assert c["bicycle"] > c["traffic"]
    engine = rendered["engine idle"].mean(axis=1)
    power = np.abs(np.fft.rfft(engine)) ** 2
    freqs = np.fft.rfftfreq(engine.size, 1 / SR)
    assert power[freqs < 250].sum() > 0.5 * power.sum()
    assert power[freqs < 1000].sum() > 0.9 * power.sum()


def test_car_passing_drops_in_pitch_and_pans_left_to_right() -> None:
    x = soundgen.generate("car passing", seconds=4.0, sample_rate=SR, seed=5)
    n = x.shape[0]
    head, tail = x[: n // 4], x[3 * n // 4 :]
    assert (head[:, 0] ** 2).sum() > 2 * (head[:, 1] ** 2).sum()
    assert (tail[:, 1] ** 2).sum() > 2 * (tail[:, 0] ** 2).sum()

    def engine_peak(part: np.ndarray) -> float:
        f, p = signal.welch(part.mean(axis=1), SR, nperseg=8192)
        band = (f > 50) & (f < 160)
        return float(f[band][np.argmax(p[band])])

    assert engine_peak(head) > engine_peak(tail) * 1.05


def test_footsteps_are_about_two_per_second() -> None:
    x = soundgen.generate("footsteps", seconds=4.0, sample_rate=SR, seed=2).mean(axis=1)
    env = signal.sosfiltfilt(signal.butter(2, 20, fs=SR, output="sos"), np.abs(x))
    peaks, _ = signal.find_peaks(env, height=0.3 * env.max(), distance=int(0.3 * SR))
    assert 6 <= len(peaks) <= 9


def test_to_channels() -> None:
    stereo = np.stack([np.ones(10), -np.ones(10)], axis=1).astype(np.float32)
    assert soundgen.to_channels(stereo, 1).shape == (10, 1)
    assert not soundgen.to_channels(stereo, 1).any()
    mono = np.ones((10, 1), np.float32)
    assert soundgen.to_channels(mono, 2).shape == (10, 2)
