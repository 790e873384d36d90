"""A dialogue case with known answers: espeak-ng sentences placed at known times over street-like
noise, a music-only and a noise-only sound, a red square on a blue ground (the known-answer model's
"red car" effect and "blue sky" bed) and a two-sound library."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
import soundfile
from scipy.signal import lfilter, resample_poly

from helpers.synthetic import write_video

RATE = 48000
LINES = (
    "The last train leaves at nine tomorrow morning.",
    "Did you remember to bring the tickets?",
    "I left them on the kitchen table, next to the keys.",
    "Then we had better hurry back before it rains.",
)


def espeak(text: str, folder: Path, rate: int = RATE, voice: str = "en") -> np.ndarray:
    """The sentence spoken by espeak-ng, trimmed to its first and last audible sample (skip without it)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = folder / f"line{abs(hash((text, voice))) % 10**8}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True)
    data, sr = soundfile.read(path, dtype="float32")
    data = resample_poly(data, rate, sr).astype(np.float32)
    loud = np.flatnonzero(np.abs(data) > 0.02 * np.abs(data).max())
    return data[loud[0] : loud[-1] + 1] / np.abs(data).max()


def street_noise(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Traffic-like noise: rumbling brown noise swelling as cars pass, plus a hiss."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    rumble = lfilter([1.0], [1.0, -0.995], rng.standard_normal(n))
    rumble /= np.abs(rumble).max()
    t = np.arange(n) / rate
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / 4.7 + rng.uniform(0, 6)) ** 2
    hiss = rng.standard_normal(n) * 0.05
    return (0.25 * rumble * swell + hiss).astype(np.float32)


def music(seconds: float, rate: int = RATE) -> np.ndarray:
    """Chords of harmonic tones changing every half second over a kick drum (no voice)."""
    t = np.arange(round(seconds * rate)) / rate
    roots = (220.0, 261.63, 196.0, 246.94)
    out = np.zeros_like(t)
    for k, start in enumerate(np.arange(0.0, seconds, 0.5)):
        part = (t >= start) & (t < start + 0.5)
        for ratio in (1.0, 1.25, 1.5):
            f = roots[k % len(roots)] * ratio
            out[part] += sum(np.sin(2 * np.pi * f * h * t[part]) / h for h in (1, 2, 3)) / 6
        kick = t[part] - start
        out[part] += 0.6 * np.sin(2 * np.pi * 55 * kick) * np.exp(-kick * 18)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


@dataclass(frozen=True)
class DialogueCase:
    folder: Path
    timeline: otio.schema.Timeline
    video: Path
    library: Path
    lines: tuple[tuple[float, float], ...]
    """Timeline seconds of each spoken line (first to last audible sample)."""
    seconds: float


def dialogue_track(
    folder: Path,
    starts: tuple[float, ...],
    seconds: float,
    speech_gain: float = 0.5,
    voice: str = "en",
    seed: int = 0,
) -> tuple[Path, tuple[tuple[float, float], ...]]:
    """A WAV holding LINES at `starts` (seconds) over street noise; the lines' (start, end)."""
    signal = street_noise(seconds, seed=seed) * 0.5
    lines = []
    for start, text in zip(starts, LINES, strict=False):
        spoken = espeak(text, folder, voice=voice)
        at = round(start * RATE)
        signal[at : at + len(spoken)] += spoken * speech_gain
        lines.append((start, start + len(spoken) / RATE))
    path = folder / "dialogue.wav"
    soundfile.write(path, signal, RATE)
    return path, tuple(lines)


def square_video(path: Path, seconds: float, fps: int = 10, audio: np.ndarray | None = None) -> Path:
    """A red square on a blue ground, with `audio` (48 kHz mono) as its own sound stream when given."""
    width, height = 160, 96
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:] = (20, 40, 220)
    frame[36:60, 60:84] = (230, 10, 10)
    if audio is None:
        return write_video(path, lambda i: frame, round(seconds * fps), fps, width, height)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=RATE, layout="mono")
        for _frame in range(round(seconds * fps)):
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode())
        step = 1024
        for at in range(0, len(audio), step):
            piece = av.AudioFrame.from_ndarray(
                audio[None, at : at + step].astype(np.float32), format="fltp", layout="mono"
            )
            piece.sample_rate, piece.pts, piece.time_base = RATE, at, Fraction(1, RATE)
            container.mux(sound.encode(piece))
        container.mux(sound.encode())
    return path


def library(folder: Path) -> Path:
    """Two sounds: "red car" (effect) and "blue sky" (ambience), steady noise each."""
    rng = np.random.default_rng(1)
    (folder / "library" / "ambience").mkdir(parents=True)
    (folder / "library" / "effects").mkdir(parents=True)
    soundfile.write(folder / "library" / "ambience" / "blue sky.wav", 0.1 * rng.standard_normal((RATE * 30, 2)), RATE)
    soundfile.write(folder / "library" / "effects" / "red car.wav", 0.1 * rng.standard_normal((RATE * 30, 2)), RATE)
    return folder / "library"


def clip(name: str, path: Path, start: float, duration: float, file_seconds: float, rate: int = 24) -> otio.schema.Clip:
    def rt(s: float) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(round(s * rate), rate)

    return otio.schema.Clip(
        name=name,
        source_range=otio.opentime.TimeRange(rt(start), rt(duration)),
        media_reference=otio.schema.ExternalReference(
            target_url=path.resolve().as_uri(),
            available_range=otio.opentime.TimeRange(rt(0), rt(file_seconds)),
        ),
    )


def dialogue_case(
    folder: Path, seconds: float = 24.0, starts: tuple[float, ...] = (2.0, 7.5, 13.0, 19.0)
) -> DialogueCase:
    """One shot of `seconds` with a dialogue audio track (LINES at `starts` over street noise)."""
    folder.mkdir(parents=True, exist_ok=True)
    video = square_video(folder / "square.mp4", seconds)
    sound, lines = dialogue_track(folder, starts, seconds)
    timeline = otio.schema.Timeline(name="dialogue")
    picture = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    picture.append(clip("square", video, 0.0, seconds, seconds))
    talk = otio.schema.Track(name="Dialogue", kind=otio.schema.TrackKind.Audio)
    talk.append(clip("dialogue", sound, 0.0, seconds, seconds))
    timeline.tracks.extend([picture, talk])
    return DialogueCase(folder, timeline, video, library(folder), lines, seconds)
