"""Shared fixtures: a hand-built annotated timeline that follows docs/metadata.md."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import opentimelineio as otio
import pytest

from helpers import synthetic
from helpers.timelines import RATE, rt, sound_clip, time_range, write_tone


@pytest.fixture(autouse=True)
def _loggers_as_they_were() -> Iterator[None]:
    """A test that runs the CLI in-process points the package logger at the CLI's own handler, stops it
    propagating and sets the root level: put all three back, so a later test's caplog sees its warnings."""
    package, root = logging.getLogger("soundify_otio"), logging.getLogger()
    handlers, propagate, level, root_level = package.handlers[:], package.propagate, package.level, root.level
    yield
    package.handlers[:] = handlers
    package.propagate = propagate
    package.setLevel(level)
    root.setLevel(root_level)


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory):
    """The sample project (street footage, its edit, the generated library), built once per session."""
    from soundify_otio.sample.project import build_sample_project

    return build_sample_project(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frame cache shared by the end-to-end tests, so each shot is encoded once per session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def square(tmp_path_factory: pytest.TempPathFactory) -> synthetic.SquareVideo:
    """A red square moving across 60 frames (tests/helpers/synthetic.py), written once per test module."""
    return synthetic.moving_square(tmp_path_factory.mktemp("media") / "square.mp4", n_frames=60)


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
                source_range=time_range(start, dur),
                media_reference=otio.schema.ExternalReference(
                    target_url=video.as_uri(), available_range=time_range(0.0, 60.0)
                ),
            )
        )
    picture[0].markers.append(otio.schema.Marker(name="note", marked_range=time_range(11.0, 0.0)))
    timeline.tracks.append(picture)

    sfx1 = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    sfx1.metadata["soundify"] = {"generated": True, "role": "effects"}
    sfx1.append(otio.schema.Gap(source_range=time_range(0.0, 1.0)))
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
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve, in_offset=rt(0.25), out_offset=rt(0.25)
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
    sfx2.append(otio.schema.Gap(source_range=time_range(0.0, 2.0)))
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


@pytest.fixture(scope="session")
def aaftool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LibAAF's aaftool, built once into pytest's cache folder (kept between sessions); skips the
    test where it cannot be built (no compiler or cmake, no ../shared)."""
    from helpers.aaftool import build_aaftool

    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = cache.mkdir("libaaf-aaftool") if cache is not None else tmp_path_factory.mktemp("libaaf-aaftool")
    tool, why = build_aaftool(Path(folder))
    if tool is None:
        pytest.skip(why)
    return tool
