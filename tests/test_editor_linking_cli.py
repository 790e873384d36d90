"""Issue 8 end to end on the sample project: what annotate writes for each editor links, re-uses its
conformed media, survives a round trip, and fails on OUT's format before the analysis."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import aaf2
import opentimelineio as otio
import pytest
import soundfile
from lxml import etree

from soundify_otio.exporters import WRITERS
from soundify_otio.exporters.conform import USABLE_RATES, media_folder
from soundify_otio.timeline.metadata import is_our_track
from soundify_otio.timeline.reading import read_timeline

from helpers.cli import analysis_args, run


def _annotate(capsys, project, timeline: Path, out: Path, cache_dir: Path, *extra: str) -> tuple[int, str]:
    code, _, err = run(capsys, "annotate", timeline, "-o", out, *analysis_args(project, cache_dir), *extra)
    return code, err


def _local(url: str, prefix: str) -> Path:
    assert url.startswith(prefix), url
    return Path(unquote(url[len(prefix) - 1 :]))


def test_sample_project_links_in_every_editor(capsys, project, cache_dir, tmp_path):
    aaf_out = tmp_path / "street.aaf"
    code, err = _annotate(capsys, project, project.timeline_otio, aaf_out, cache_dir)
    assert code == 0, err
    media = media_folder(aaf_out)
    conformed = sorted(media.iterdir())
    assert conformed
    assert all(p.suffix == ".wav" for p in conformed)
    with aaf2.open(str(aaf_out)) as f:
        for mob in f.content.sourcemobs():
            descriptor = mob.descriptor
            path = _local(descriptor["Locator"][0]["URLString"].value, "file:///")
            assert path.is_file(), path
            if path.suffix != ".mp4":
                assert type(descriptor).__name__ == "WAVEDescriptor"
                assert path.parent == media or (
                    path.suffix == ".wav" and soundfile.info(str(path)).samplerate in USABLE_RATES
                )
    stamps = {p: p.stat().st_mtime_ns for p in conformed}

    xml_out = tmp_path / "street.xml"
    code, err = _annotate(capsys, project, project.timeline_otio, xml_out, cache_dir)
    assert code == 0, err
    xml_media = media_folder(xml_out)
    urls = [e.text for e in etree.parse(str(xml_out)).iter("pathurl")]
    sounds = {_local(u, "file://localhost/") for u in urls}
    assert all(p.is_file() for p in sounds)
    assert {p.suffix for p in sounds} <= {".wav", ".mp4"}  # no FLAC, OGG or AIFF reaches the editor
    assert {p.stat().st_mtime_ns for p in conformed} == set(stamps.values())  # the .aaf's copies untouched
    assert sorted(p.name for p in xml_media.iterdir()) == sorted(p.name for p in conformed)  # same content

    # re-annotate what an editor gives back (the xmeml, our metadata gone): ours replaced, not stacked
    again = tmp_path / "again.rpp"
    code, err = _annotate(capsys, project, xml_out, again, cache_dir)
    assert code == 0, err
    first, second = read_timeline(xml_out), read_timeline(again)
    ours_first = [t for t in first.tracks if is_our_track(t, first)]
    ours_second = [t for t in second.tracks if t.name.startswith(("SFX", "AMB"))]
    assert ours_first
    assert len(ours_second) == len({t.metadata["fcp_xml"]["@MZ.TrackName"] for t in ours_first})
    assert [t.kind for t in second.tracks].count(otio.schema.TrackKind.Video) == 1


@pytest.mark.parametrize("rate", [15])  # 10 fps too at the exporter level (test_editor_linking)
def test_low_frame_rate_timeline_annotates_to_xml(capsys, project, cache_dir, tmp_path, rate):
    sample = read_timeline(project.timeline_otio)
    timeline = otio.schema.Timeline(name="low rate", global_start_time=otio.opentime.RationalTime(0, rate))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for clip in sample.video_tracks()[0].find_clips():
        source = clip.source_range
        reference = clip.media_reference.deepcopy()
        reference.target_url = project.video.resolve().as_uri()
        track.append(
            otio.schema.Clip(
                name=clip.name,
                media_reference=reference,
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(round(source.start_time.to_seconds() * rate), rate),
                    otio.opentime.RationalTime(round(source.duration.to_seconds() * rate), rate),
                ),
            )
        )
    timeline.tracks.append(track)
    source = tmp_path / f"cut{rate}.otio"
    otio.adapters.write_to_file(timeline, str(source))
    out = tmp_path / f"cut{rate}.xml"
    code, err = _annotate(capsys, project, source, out, cache_dir)
    assert code == 0, err
    back = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml")
    root = etree.parse(str(out)).getroot()
    assert root.findtext(".//sequence/rate/timebase") == str(rate)
    assert {c.findtext("rate/timebase") for c in root.iter("clipitem")} == {str(rate)}
    assert any(t.kind == otio.schema.TrackKind.Audio and len(list(t.find_clips())) for t in back.tracks)


def test_unwritable_format_fails_before_the_analysis(capsys, project, tmp_path, monkeypatch):
    def cannot(timeline, path, targets):
        raise ValueError(f"this timeline does not fit {path}")

    monkeypatch.setitem(WRITERS, ".xml", cannot)
    cache = tmp_path / "cache"
    cache.mkdir()
    out = tmp_path / "street.xml"
    code, err = _annotate(capsys, project, project.timeline_otio, out, cache)
    assert code == 6
    assert str(out) in err
    assert "probe" not in err
    assert ".street." not in err
    assert not out.exists()
    assert not list(cache.iterdir())  # no frame was analysed
