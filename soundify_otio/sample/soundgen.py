"""Procedural sound effects and ambiences (numpy/scipy only), for the sample library and tests.

Every generator has the signature ``(seconds, sample_rate, rng) -> float32 array (n, channels)``:
mono sources return one channel, moving or diffuse ones two. Output is peak-normalised to
``PEAK`` (about -3 dBFS) so that lossy encoders and resampling do not clip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import interpolate, signal

from soundify_otio.types import Kind

PEAK = 0.7
Generator = Callable[[float, int, np.random.Generator], np.ndarray]


# ---------------------------------------------------------------- building blocks


def _n(seconds: float, sr: int) -> int:
    return max(1, round(seconds * sr))


def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _band(x: np.ndarray, sr: int, low: float | None, high: float | None, order: int = 4) -> np.ndarray:
    """Butterworth band/low/high-pass along axis 0 (a bound of None leaves that side open)."""
    nyq = sr / 2
    high = None if high is None or high >= nyq * 0.98 else high
    if low and high:
        sos = signal.butter(order, [low, high], "bandpass", fs=sr, output="sos")
    elif low:
        sos = signal.butter(order, low, "highpass", fs=sr, output="sos")
    elif high:
        sos = signal.butter(order, high, "lowpass", fs=sr, output="sos")
    else:
        return x
    return signal.sosfilt(sos, x, axis=0)


def _resonate(x: np.ndarray, sr: int, freq: float, q: float) -> np.ndarray:
    """A two-pole resonator (a formant or a body mode)."""
    b, a = signal.iirpeak(min(freq, sr * 0.45), q, fs=sr)
    return signal.lfilter(b, a, x, axis=0)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise by spectral shaping."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def _slow(n: int, sr: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random curve in 0..1 that changes about `rate_hz` times a second."""
    knots = max(4, int(n / sr * rate_hz) + 2)
    curve = interpolate.CubicSpline(np.linspace(0, n, knots), rng.standard_normal(knots))(np.arange(n))
    curve -= curve.min()
    return curve / (curve.max() or 1.0)


def _impulses(n: int, times: np.ndarray, sr: int, gains: np.ndarray | None = None) -> np.ndarray:
    out = np.zeros(n)
    idx = np.round(np.asarray(times) * sr).astype(int)
    keep = (idx >= 0) & (idx < n)
    np.add.at(out, idx[keep], 1.0 if gains is None else np.asarray(gains)[keep])
    return out


def _burst(
    sr: int, seconds: float, decay: float, rng: np.random.Generator, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """A noise burst with an exponential decay (`decay` = time constant in seconds)."""
    n = _n(seconds, sr)
    b = _band(rng.standard_normal(n), sr, low, high, order=2)
    return b * np.exp(-_t(n, sr) / decay)


def _place(n: int, grain: np.ndarray, times: np.ndarray, sr: int, gains: np.ndarray | None = None) -> np.ndarray:
    """Copies of `grain` starting at `times` (seconds), by convolution with an impulse train."""
    return signal.fftconvolve(_impulses(n, times, sr, gains), grain)[:n]


def _pan(mono: np.ndarray, pan: np.ndarray | float) -> np.ndarray:
    """Equal-power pan, -1 = left."""
    angle = (np.asarray(pan) + 1) * np.pi / 4
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)], axis=1)


def _stereo(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.stack([left, right], axis=1)


def _fade(x: np.ndarray, sr: int, seconds: float = 0.02) -> np.ndarray:
    k = min(len(x) // 2, _n(seconds, sr))
    ramp = np.linspace(0.0, 1.0, k)
    x = x.copy()
    x[:k] *= ramp[:, None] if x.ndim == 2 else ramp
    x[len(x) - k :] *= ramp[::-1, None] if x.ndim == 2 else ramp[::-1]
    return x


def _finish(x: np.ndarray, sr: int) -> np.ndarray:
    """Remove DC, short edge fades, peak-normalise to PEAK, shape (n, channels) float32."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    x = _fade(x - x.mean(axis=0), sr)
    peak = np.abs(x).max()
    if peak > 0:
        x = x * (PEAK / peak)
    return x.astype(np.float32)


def to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Down-mix (mean) or up-mix (copy) an (n, c) array to `channels` channels."""
    if x.shape[1] == channels:
        return x
    mono = x.mean(axis=1, keepdims=True)
    return np.repeat(mono, channels, axis=1).astype(np.float32)


def _harmonic(freq: np.ndarray, sr: int, amps: tuple[float, ...], phase0: float = 0.0) -> np.ndarray:
    """Sum of harmonics for an instantaneous frequency curve (Hz), cut at Nyquist."""
    phase = 2 * np.pi * np.cumsum(freq) / sr + phase0
    out = np.zeros_like(phase)
    for k, a in enumerate(amps, start=1):
        out += a * np.sin(k * phase) * (k * freq < sr * 0.45)
    return out


# ---------------------------------------------------------------- vehicles


def _car_pass_parts(
    n: int, sr: int, rng: np.random.Generator, t0: float, speed: float, distance: float, direction: int
) -> tuple[np.ndarray, np.ndarray]:
    """One car passing: mono signal (engine with Doppler shift + tyre roar) and its pan curve."""
    t = _t(n, sr)
    x = direction * speed * (t - t0)
    r = np.sqrt(x**2 + distance**2)
    v_radial = direction * speed * x / r
    doppler = 343.0 / (343.0 + v_radial)
    f_engine = rng.uniform(70, 110) * doppler
    engine = _harmonic(f_engine, sr, (1.0, 0.7, 0.5, 0.35, 0.2, 0.12))
    tyres = _band(rng.standard_normal(n), sr, 300, 2500) * 1.8
    mono = (engine * 0.6 + tyres) / (r / distance) ** 1.3
    return mono, np.clip(x / 12.0, -1, 1)


def car_passing(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A car driving past left to right: Doppler pitch drop, loudness peak at mid-point."""
    n = _n(seconds, sample_rate)
    mono, pan = _car_pass_parts(n, sample_rate, rng, seconds / 2, rng.uniform(13, 18), 4.0, 1)
    return _finish(_pan(mono, pan), sample_rate)


def traffic(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Busy road: low rumble and a car passing every second or two in either direction."""
    n = _n(seconds, sample_rate)
    rumble = _band(_pink(n, rng), sample_rate, 30, 400)
    rumble /= np.abs(rumble).max() or 1
    out = _stereo(rumble, np.roll(rumble, sample_rate // 7)) * 0.35
    for t0 in np.arange(rng.uniform(-0.5, 0.5), seconds + 1.0, rng.uniform(1.0, 1.8)):
        mono, pan = _car_pass_parts(
            n,
            sample_rate,
            rng,
            t0 + rng.uniform(-0.3, 0.3),
            rng.uniform(9, 16),
            rng.uniform(4, 12),
            int(rng.choice([-1, 1])),
        )
        out += _pan(mono, pan) * rng.uniform(0.4, 1.0)
    return _finish(out, sample_rate)


def engine_idle(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A four-cylinder engine idling: ~25 firing pulses a second through an exhaust resonance."""
    n = _n(seconds, sample_rate)
    rate = rng.uniform(23, 28)
    times = np.cumsum(rng.normal(1 / rate, 0.03 / rate, int(seconds * rate) + 2))
    gains = rng.uniform(0.7, 1.0, times.size)
    pulse = _burst(sample_rate, 0.04, 0.008, rng, None, 900)
    pops = _place(n, pulse, times, sample_rate, gains)
    body = _resonate(pops, sample_rate, 110, 3) + _resonate(pops, sample_rate, 320, 5) * 0.5
    hum = _harmonic(np.full(n, rate * 2), sample_rate, (0.3, 0.15)) * np.abs(body).mean() * 6
    mech = _band(rng.standard_normal(n), sample_rate, 1500, 5000) * 0.02 * np.abs(body).max()
    return _finish(body + hum + mech, sample_rate)


def car_horn(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Two-tone car horn: two short honks and a long one."""
    n = _n(seconds, sample_rate)
    t = _t(n, sample_rate)
    tone = np.sum(
        [_harmonic(np.full(n, f), sample_rate, (1, 0.5, 0.6, 0.25, 0.3, 0.12, 0.1)) for f in (415, 520)], axis=0
    )
    tone = _resonate(tone, sample_rate, 1800, 1.5) + tone * 0.3
    gate = np.zeros(n)
    for start, length in ((0.1, 0.18), (0.38, 0.18), (0.7, min(1.0, max(0.2, seconds - 0.9)))):
        gate += (t >= start) & (t < start + length)
    gate = signal.sosfiltfilt(signal.butter(2, 60, fs=sample_rate, output="sos"), np.clip(gate, 0, 1))
    return _finish(tone * gate, sample_rate)


# ---------------------------------------------------------------- bicycle


def bicycle(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A bicycle coasting: freewheel pawl ticks slowing down, chain whirr and tyre hiss."""
    n = _n(seconds, sample_rate)
    t = _t(n, sample_rate)
    tick_rate = 22 * np.exp(-t / (seconds * 1.5)) + 6
    phase = np.cumsum(tick_rate) / sample_rate
    idx = np.nonzero(np.diff(np.floor(phase)) > 0)[0]
    tick = _burst(sample_rate, 0.012, 0.0015, rng, 2500, 9000)
    ticks = _place(n, tick, idx / sample_rate, sample_rate, rng.uniform(0.6, 1.0, idx.size))
    ticks = _resonate(ticks, sample_rate, 4200, 4) + ticks
    hiss = _band(rng.standard_normal(n), sample_rate, 800, 4000) * 0.03
    whirr = _band(rng.standard_normal(n), sample_rate, 150, 600) * 0.05 * (0.6 + 0.4 * np.sin(2 * np.pi * 1.4 * t))
    return _finish(ticks + hiss + whirr, sample_rate)


def bicycle_bell(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A thumb-bell 'ring-ring': inharmonic metal partials struck twice, ringing out."""
    n = _n(seconds, sample_rate)
    t = _t(n, sample_rate)
    f0 = rng.uniform(1900, 2300)
    ring = np.zeros(n)
    for ratio, amp, decay in (
        (1.0, 1.0, 0.9),
        (1.52, 0.45, 0.6),
        (2.71, 0.5, 0.4),
        (4.16, 0.25, 0.25),
        (5.43, 0.15, 0.15),
    ):
        if f0 * ratio < sample_rate * 0.45:
            ring += amp * np.sin(2 * np.pi * f0 * ratio * t + rng.uniform(0, 6.28)) * np.exp(-t / decay)
    strikes = np.concatenate([0.05 + np.arange(4) * 0.045, 0.45 + np.arange(4) * 0.045])
    hits = _impulses(n, strikes, sample_rate, rng.uniform(0.6, 1.0, strikes.size))
    struck = signal.fftconvolve(hits, ring)[:n]
    clank = _place(n, _burst(sample_rate, 0.01, 0.002, rng, 3000, None), strikes, sample_rate) * 0.5
    return _finish(struck + clank, sample_rate)


# ---------------------------------------------------------------- foley


def footsteps(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Shoes walking on pavement: heel thud then toe scuff, about two steps a second."""
    n = _n(seconds, sample_rate)
    steps = np.arange(0.15, seconds - 0.1, 1 / rng.uniform(1.7, 2.1))
    steps = steps + rng.normal(0, 0.015, steps.size)
    out = np.zeros(n)
    for i, s in enumerate(steps):
        heel = _burst(sample_rate, 0.08, 0.012, rng, 60, 1200) * 1.0
        heel = _resonate(heel, sample_rate, rng.uniform(120, 180), 4) * 0.4 + heel
        scuff = _burst(sample_rate, 0.12, 0.03, rng, 1500, 6000) * 0.35
        g = 1.0 if i % 2 == 0 else 0.8
        out += _place(n, heel, np.array([s]), sample_rate) * g
        out += _place(n, scuff, np.array([s + rng.uniform(0.05, 0.09)]), sample_rate) * g
    return _finish(out, sample_rate)


def door_slam(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A heavy door slamming: latch click, low body thump ringing out, a small rattle."""
    n = _n(seconds, sample_rate)
    t0 = min(0.3, seconds / 4)
    thump = _burst(sample_rate, 1.2, 0.05, rng, None, 400)
    body = sum(_resonate(thump, sample_rate, f, 8) * a for f, a in ((70, 1.0), (115, 0.7), (190, 0.5)))
    latch = _burst(sample_rate, 0.03, 0.004, rng, 2000, 8000) * 0.15
    rattle = _place(
        n,
        _burst(sample_rate, 0.02, 0.003, rng, 800, 4000),
        t0 + 0.08 + np.cumsum(rng.uniform(0.03, 0.07, 6)),
        sample_rate,
        np.geomspace(0.1, 0.02, 6),
    )
    out = _place(n, body * 1.0 + thump * 0.5, np.array([t0]), sample_rate)
    out += _place(n, latch, np.array([t0 - 0.01]), sample_rate) + rattle
    return _finish(out, sample_rate)


def door_creak(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A door swinging open on a dry hinge: stick-slip pulses of varying rate through wood resonances."""
    n = _n(seconds, sample_rate)
    t = _t(n, sample_rate)
    rate = 35 + 220 * _slow(n, sample_rate, 1.5, rng)
    phase = np.cumsum(rate * (1 + 0.08 * rng.standard_normal(n))) / sample_rate
    idx = np.nonzero(np.diff(np.floor(phase)) > 0)[0]
    pulses = _impulses(n, idx / sample_rate, sample_rate, rng.uniform(0.5, 1.0, idx.size))
    wood = sum(_resonate(pulses, sample_rate, f, q) * a for f, a, q in ((650, 1.0, 6), (1400, 0.7, 8), (2600, 0.4, 10)))
    swell = np.sin(np.pi * np.clip(t / (seconds * 0.95), 0, 1)) ** 0.7
    return _finish(wood * swell, sample_rate)


# ---------------------------------------------------------------- animals


def dog_bark(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A medium dog barking in pairs: short harsh voiced bursts with a falling pitch."""
    n = _n(seconds, sample_rate)
    out = np.zeros(n)
    starts = []
    s = 0.1
    while s < seconds - 0.3:
        starts += [s, s + rng.uniform(0.22, 0.3)]
        s += rng.uniform(0.9, 1.3)
    for s in starts:
        length = rng.uniform(0.15, 0.22)
        m = _n(length, sample_rate)
        u = np.linspace(0, 1, m)
        f0 = rng.uniform(420, 560) * (1.15 - 0.45 * u)
        voiced = _harmonic(f0 * (1 + 0.03 * rng.standard_normal(m)), sample_rate, tuple(1 / k for k in range(1, 16)))
        rough = _band(rng.standard_normal(m), sample_rate, 500, 4000) * 0.5
        env = np.minimum(u / 0.04, 1) * np.exp(-u * 3)
        grain = (voiced + rough) * env
        grain = _resonate(grain, sample_rate, 1100, 2.5) * 1.5 + _resonate(grain, sample_rate, 2400, 4) * 0.6
        out += _place(n, grain, np.array([s]), sample_rate) * rng.uniform(0.7, 1.0)
    return _finish(out, sample_rate)


def birds(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Songbirds in a park: trills and rising/falling chirps at 2-7 kHz, spread across the stereo field."""
    n = _n(seconds, sample_rate)
    leaves = _band(_pink(n, rng), sample_rate, 300, 3000)
    leaves = _stereo(leaves, np.roll(leaves, sample_rate // 3)) / (np.abs(leaves).max() or 1) * 0.04
    out = leaves
    for _ in range(int(seconds * 2.5)):
        start = rng.uniform(0, seconds - 0.4)
        notes = int(rng.integers(1, 7))
        f_lo, f_hi = sorted(rng.uniform(2000, min(7000, sample_rate * 0.4), 2))
        note_len = rng.uniform(0.04, 0.12)
        m = _n(notes * note_len * 1.3, sample_rate)
        u = (np.arange(m) / sample_rate) % (note_len * 1.3) / note_len
        sweep = f_lo + (f_hi - f_lo) * (u if rng.random() < 0.5 else 1 - u)
        vib = 1 + 0.04 * np.sin(2 * np.pi * rng.uniform(20, 60) * np.arange(m) / sample_rate)
        env = np.where(u < 1, np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0)
        chirp = _harmonic(np.clip(sweep * vib, 100, sample_rate * 0.45), sample_rate, (1, 0.15)) * env
        bird = np.zeros(n)
        a = _n(start, sample_rate)
        bird[a : a + m] = chirp[: n - a]
        out = out + _pan(bird, rng.uniform(-0.9, 0.9)) * rng.uniform(0.2, 1.0)
    return _finish(out, sample_rate)


# ---------------------------------------------------------------- ambiences


def wind(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Gusty wind: low roar with slow gusts and a moving whistle band."""
    n = _n(seconds, sample_rate)
    chans = []
    for _ in range(2):
        gust = 0.25 + 0.75 * _slow(n, sample_rate, 0.6, rng) ** 1.5
        roar = _band(_pink(n, rng), sample_rate, 40, 700)
        roar /= np.abs(roar).max() or 1
        hiss = _band(rng.standard_normal(n), sample_rate, 600, 1400, order=2)
        hiss /= np.abs(hiss).max() or 1
        chans.append(roar * gust + hiss * gust**2 * 0.35)
    return _finish(_stereo(*chans), sample_rate)


def rain(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Steady rain: a dense hiss of many small bright drop impacts."""
    n = _n(seconds, sample_rate)
    chans = []
    for _ in range(2):
        count = int(seconds * 1800)
        times = rng.uniform(0, seconds, count)
        gains = rng.lognormal(0.0, 0.5, count) * rng.choice([-1, 1], count)
        drop = _burst(sample_rate, 0.006, 0.0012, rng, 2500, None)
        drops = _place(n, drop, times, sample_rate, gains)
        drops /= np.abs(drops).max() or 1
        wash = _band(rng.standard_normal(n), sample_rate, 1500, None, order=2)
        chans.append(drops + wash / (np.abs(wash).max() or 1) * 0.5)
    return _finish(_stereo(*chans), sample_rate)


def crowd_murmur(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Many people talking at once: voiced babble with syllable rhythm through vowel formants."""
    n = _n(seconds, sample_rate)
    t = _t(n, sample_rate)
    out = np.zeros((n, 2))
    vowels = ((730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720))
    for _ in range(14):
        f0 = rng.uniform(95, 240) * (1 + 0.08 * (_slow(n, sample_rate, 3, rng) - 0.5))
        src = 2 * ((np.cumsum(f0) / sample_rate + rng.uniform(0, 1)) % 1.0) - 1  # sawtooth glottal source
        syll = rng.uniform(3, 5.5)
        gate = np.clip(np.sin(2 * np.pi * syll * t + rng.uniform(0, 6.28)) + rng.uniform(-0.2, 0.4), 0, None)
        talk = _slow(n, sample_rate, 0.5, rng) > 0.35
        f1, f2 = vowels[int(rng.integers(len(vowels)))]
        voice = _resonate(src, sample_rate, f1, 4) + _resonate(src, sample_rate, f2, 6) * 0.6
        voice = voice * gate * talk / (np.abs(voice).max() or 1)
        out += _pan(voice, rng.uniform(-0.8, 0.8)) * rng.uniform(0.3, 1.0)
    room = _band(_pink(n, rng), sample_rate, 100, 2000)
    out += room[:, None] * (np.abs(out).max() / (np.abs(room).max() or 1)) * 0.05
    return _finish(_band(out, sample_rate, 80, 4000), sample_rate)


def room_tone(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Quiet interior: ventilation air, faint mains hum, nothing else."""
    n = _n(seconds, sample_rate)
    air = _band(_pink(n, rng), sample_rate, 40, 1500)
    air /= np.abs(air).max() or 1
    hum = _harmonic(np.full(n, 50.0), sample_rate, (0.3, 0.15, 0.1))
    fan = _resonate(rng.standard_normal(n), sample_rate, 240, 20) * 0.02
    return _finish(air + hum * 0.2 + fan, sample_rate)


def city_street(seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A city street by day: distant traffic, passing cars, murmur of passers-by, a far horn."""
    mix = traffic(seconds, sample_rate, rng) * 0.8 + crowd_murmur(seconds, sample_rate, rng) * 0.25
    n = mix.shape[0]
    horn = car_horn(min(seconds, 1.8), sample_rate, rng)[:, 0]
    far_horn = _band(np.pad(horn, (0, n - horn.size)), sample_rate, None, 2500)
    mix += _pan(np.roll(far_horn, _n(rng.uniform(1, max(1.0, seconds - 2)), sample_rate)), -0.6) * 0.1
    return _finish(mix, sample_rate)


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class SoundSpec:
    """A generator and what it makes."""

    fn: Generator
    kind: Kind
    seconds: float
    """Default length in seconds."""


GENERATORS: dict[str, SoundSpec] = {
    "traffic": SoundSpec(traffic, "effect", 6.0),
    "car passing": SoundSpec(car_passing, "effect", 4.0),
    "engine idle": SoundSpec(engine_idle, "effect", 5.0),
    "car horn": SoundSpec(car_horn, "effect", 2.0),
    "bicycle": SoundSpec(bicycle, "effect", 4.0),
    "bicycle bell": SoundSpec(bicycle_bell, "effect", 2.0),
    "footsteps": SoundSpec(footsteps, "effect", 4.0),
    "door slam": SoundSpec(door_slam, "effect", 2.0),
    "door creak": SoundSpec(door_creak, "effect", 3.0),
    "dog bark": SoundSpec(dog_bark, "effect", 3.0),
    "city street": SoundSpec(city_street, "ambient", 10.0),
    "wind": SoundSpec(wind, "ambient", 10.0),
    "rain": SoundSpec(rain, "ambient", 10.0),
    "birds": SoundSpec(birds, "ambient", 10.0),
    "crowd murmur": SoundSpec(crowd_murmur, "ambient", 10.0),
    "room tone": SoundSpec(room_tone, "ambient", 10.0),
}


def generate(name: str, seconds: float | None = None, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """Render the named generator deterministically (default length from the table)."""
    spec = GENERATORS[name]
    return spec.fn(spec.seconds if seconds is None else seconds, sample_rate, np.random.default_rng(seed))
