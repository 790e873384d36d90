"""Shared fixtures: a hand-built annotated timeline that follows docs/metadata.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

SHARED_INTEROP = Path(__file__).resolve().parents[2] / "shared" / "interop"
RATE = 24.0


def _rt(seconds: float, rate: float = RATE) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(round(seconds * rate), rate)


def _range(start: float, duration: float, rate: float = RATE) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate))


def generated_clips(timeline: otio.schema.Timeline):
    """(track, clip, the clip's live metadata["soundify"] mapping) of every generated clip, read
    straight from the metadata (independent of the package's own reader)."""
    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.schema.Clip) and item.metadata.get("soundify", {}).get("generated"):
                yield track, item, item.metadata["soundify"]


def write_tone(path: Path, seconds: float, sample_rate: int, channels: int, freq: float = 440.0) -> Path:
    """Write a sine tone of the given shape (a stand-in sound file with known content)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.25 * np.sin(2 * np.pi * freq * t)
    data = np.repeat(mono[:, None], channels, axis=1)
    soundfile.write(path, data, sample_rate)
    return path


def sound_clip(
    path: Path,
    name: str,
    kind: str,
    source_start: float,
    duration: float,
    pan: list[list[float]],
    gain_db: list[list[float]],
    sample_rate: int,
    channels: int,
    file_seconds: float,
    fade_in: float = 0.5,
    fade_out: float = 0.5,
) -> otio.schema.Clip:
    """A soundify clip as the writer makes it (docs/metadata.md)."""
    ref = otio.schema.ExternalReference(
        target_url=path.resolve().as_uri(),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, sample_rate),
            otio.opentime.RationalTime(round(file_seconds * sample_rate), sample_rate),
        ),
    )
    clip = otio.schema.Clip(name=name, media_reference=ref, source_range=_range(source_start, duration))
    clip.metadata["soundify"] = {
        "generated": True,
        "label": name,
        "kind": kind,
        "score": 0.5,
        "alternatives": [[name, 0.5], ["other", 0.2]],
        "scene": 0,
        "scene_id": "video.mp4@0.000-4.000",
        "model": "RN50",
        "weights": "none",
        "pipeline_check": True,
        "sound": {
            "path": str(path.resolve()),
            "sample_rate": sample_rate,
            "channels": channels,
            "duration": file_seconds,
        },
        "keyframes": {"pan": pan, "gain_db": gain_db},
        "fade_in": fade_in,
        "fade_out": fade_out,
    }
    return clip


def append_sfx_track(timeline: otio.schema.Timeline, folder: Path, rate: float) -> otio.schema.Clip:
    """An SFX track with one keyframed 2 s stereo effect a second in (a stand-in soundify result)."""
    tone = write_tone(folder / "whoosh.wav", 3.0, 48000, 2)
    clip = sound_clip(
        tone, "whoosh", "effect", 0.0, 2.0, [[0.0, -1.0], [2.0, 1.0]], [[0.0, -20.0], [1.0, 0.0]], 48000, 2, 3.0
    )
    clip.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(2 * rate, rate)
    )
    sfx = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    sfx.metadata["soundify"] = {"generated": True, "role": "effects"}
    sfx.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(rate, rate))))
    sfx.append(clip)
    timeline.tracks.append(sfx)
    return clip


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory):
    """The sample project (street footage, its edit, the generated library), built once per session."""
    from soundify_otio.sample.project import build_sample_project

    return build_sample_project(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frame cache shared by the end-to-end tests, so each shot is encoded once per session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def annotated_timeline(tmp_path: Path) -> otio.schema.Timeline:
    """A 24 fps timeline, timecode 01:00:00:00, two video clips, a marker, SFX 1 (an effect
    repeated with a crossfade), SFX 2 (an overlapping effect) and AMB (one bed), media on disk."""
    video = tmp_path / "video.mp4"
    video.write_bytes(b"")  # picture content is irrelevant to the exporters
    bell = write_tone(tmp_path / "bell.wav", 1.5, 48000, 1, 880.0)
    traffic = write_tone(tmp_path / "traffic.flac", 6.0, 44100, 2, 110.0)
    street = write_tone(tmp_path / "street ambience.wav", 10.0, 22050, 2, 220.0)

    timeline = otio.schema.Timeline(name="fixture", global_start_time=otio.opentime.RationalTime(86400, RATE))
    picture = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for name, start, dur in (("shot A", 10.0, 4.0), ("shot B", 20.0, 4.0)):
        picture.append(
            otio.schema.Clip(
                name=name,
                source_range=_range(start, dur),
                media_reference=otio.schema.ExternalReference(
                    target_url=video.as_uri(), available_range=_range(0.0, 60.0)
                ),
            )
        )
    picture[0].markers.append(otio.schema.Marker(name="note", marked_range=_range(11.0, 0.0)))
    timeline.tracks.append(picture)

    sfx1 = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    sfx1.metadata["soundify"] = {"generated": True, "role": "effects"}
    sfx1.append(otio.schema.Gap(source_range=_range(0.0, 1.0)))
    sfx1.append(
        sound_clip(
            bell,
            "bicycle bell",
            "effect",
            0.0,
            1.25,
            [[0.0, -0.8], [1.0, -0.2]],
            [[0.0, -6.0], [1.0, 0.0]],
            48000,
            1,
            1.5,
            fade_out=0.0,
        )
    )
    sfx1.append(
        otio.schema.Transition(
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve, in_offset=_rt(0.25), out_offset=_rt(0.25)
        )
    )
    sfx1.append(
        sound_clip(
            bell,
            "bicycle bell",
            "effect",
            0.25,
            1.25,
            [[0.0, -0.2], [1.25, 0.6]],
            [[0.0, 0.0], [1.25, -3.0]],
            48000,
            1,
            1.5,
            fade_in=0.0,
        )
    )
    timeline.tracks.append(sfx1)

    sfx2 = otio.schema.Track(name="SFX 2", kind=otio.schema.TrackKind.Audio)
    sfx2.metadata["soundify"] = {"generated": True, "role": "effects"}
    sfx2.append(otio.schema.Gap(source_range=_range(0.0, 2.0)))
    sfx2.append(
        sound_clip(
            traffic,
            "traffic",
            "effect",
            1.0,
            4.0,
            [[0.0, 0.5], [2.0, 0.5], [4.0, -0.5]],
            [[0.0, -10.0], [4.0, 4.0]],
            44100,
            2,
            6.0,
        )
    )
    timeline.tracks.append(sfx2)

    amb = otio.schema.Track(name="AMB", kind=otio.schema.TrackKind.Audio)
    amb.metadata["soundify"] = {"generated": True, "role": "ambient"}
    amb.append(
        sound_clip(
            street,
            "city street",
            "ambient",
            0.0,
            8.0,
            [[0.0, 0.0], [8.0, 0.0]],
            [[0.0, -5.0], [8.0, -5.0]],
            22050,
            2,
            10.0,
        )
    )
    timeline.tracks.append(amb)
    timeline.metadata["soundify"] = {
        "version": "test",
        "model": "RN50",
        "weights": "none",
        "pipeline_check": True,
        "scenes": [],
        "skipped_shots": [],
    }
    return timeline
