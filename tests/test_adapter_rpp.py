"""REAPER .rpp adapter: write through the OTIO plugin, check with the independent `rpp` parser, read back."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest
import rpp

from helpers.timelines import SHARED_INTEROP

FRAME = 1 / 24
VENV_BIN = Path(sys.executable).parent


def _lines(element: rpp.Element, key: str) -> list[list[str]]:
    return [c[1:] for c in element if isinstance(c, list) and c and c[0] == key]


def _value(element: rpp.Element, key: str, index: int = 0) -> float:
    return float(_lines(element, key)[0][index])


def _chunks(element: rpp.Element, tag: str) -> list[rpp.Element]:
    return [c for c in element if isinstance(c, rpp.Element) and c.tag == tag]


def _strip(text: str) -> str:
    return text.strip("\"'`")


def _tracks(project: rpp.Element) -> dict[str, rpp.Element]:
    return {_strip(_lines(t, "NAME")[0][0]): t for t in _chunks(project, "TRACK")}


def _soundify(timeline: otio.schema.Timeline):
    return [
        (t, c)
        for t in timeline.tracks
        for c in t.find_clips(shallow_search=True)
        if c.metadata.get("soundify", {}).get("generated")
    ]


@pytest.fixture
def project(annotated_timeline: otio.schema.Timeline) -> rpp.Element:
    return rpp.loads(otio.adapters.write_to_string(annotated_timeline, adapter_name="rpp"))


def test_soundify_items_carry_take_envelopes(annotated_timeline, project):
    tracks = _tracks(project)
    clips = _soundify(annotated_timeline)
    assert clips
    by_track: dict[str, list] = {}
    for track, clip in clips:
        by_track.setdefault(track.name, []).append(clip)
    for name, track_clips in by_track.items():
        items = _chunks(tracks[name], "ITEM")
        assert len(items) == len(track_clips)
        for clip, item in zip(track_clips, items):
            meta = clip.metadata["soundify"]
            start = clip.range_in_parent().start_time.to_seconds()
            end = start + clip.duration().to_seconds()
            pos, length = _value(item, "POSITION"), _value(item, "LENGTH")
            assert pos <= start + FRAME
            assert pos + length >= end - FRAME
            assert abs(_value(item, "SOFFS") + (start - pos) - clip.source_range.start_time.to_seconds()) <= FRAME
            (source,) = _chunks(item, "SOURCE")
            assert _strip(_lines(source, "FILE")[0][0]) == meta["sound"]["path"]
            assert source.attrib[0] == {".wav": "WAVE", ".flac": "FLAC"}[Path(meta["sound"]["path"]).suffix]
            (vol,) = _chunks(item, "VOLENV")
            (pan,) = _chunks(item, "PANENV")
            assert not _lines(vol, "VOLTYPE")
            vol_pts = [(float(p[0]), float(p[1])) for p in _lines(vol, "PT")]
            pan_pts = [(float(p[0]), float(p[1])) for p in _lines(pan, "PT")]
            for t, db in meta["keyframes"]["gain_db"]:
                assert any(
                    abs(pos + pt - (start + t)) <= FRAME and abs(20 * math.log10(v) - db) <= 0.1 for pt, v in vol_pts
                ), (clip.name, t)
            for t, p in meta["keyframes"]["pan"]:
                assert any(abs(pos + pt - (start + t)) <= FRAME and abs(-v - p) <= 0.01 for pt, v in pan_pts), (
                    clip.name,
                    t,
                )
            if pos == pytest.approx(start) and meta["fade_in"]:
                assert _value(item, "FADEIN", 1) == pytest.approx(meta["fade_in"])
            if pos + length == pytest.approx(end) and meta["fade_out"]:
                assert _value(item, "FADEOUT", 1) == pytest.approx(meta["fade_out"])


def test_crossfade_becomes_overlapping_items_with_fades(project):
    first, second = _chunks(_tracks(project)["SFX 1"], "ITEM")
    overlap = _value(first, "POSITION") + _value(first, "LENGTH") - _value(second, "POSITION")
    assert overlap == pytest.approx(0.5)
    assert _value(first, "FADEOUT", 1) == pytest.approx(overlap)
    assert _value(second, "FADEIN", 1) == pytest.approx(overlap)


def test_input_tracks_kept(annotated_timeline, project):
    tracks = _tracks(project)
    assert list(tracks) == [t.name for t in annotated_timeline.tracks]
    video = annotated_timeline.tracks[0]
    items = _chunks(tracks[video.name], "ITEM")
    assert len(items) == len(video)
    for clip, item in zip(video, items):
        (source,) = _chunks(item, "SOURCE")
        assert source.attrib[0] == "VIDEO"
        assert _strip(_lines(source, "FILE")[0][0]) == otio.url_utils.filepath_from_url(clip.media_reference.target_url)
        assert _value(item, "POSITION") == pytest.approx(clip.range_in_parent().start_time.to_seconds())
        assert _value(item, "SOFFS") == pytest.approx(clip.source_range.start_time.to_seconds())
        assert _strip(_lines(item, "NAME")[0][0]) == clip.name
    assert _value(project, "PROJOFFS") == pytest.approx(3600.0)


def test_write_to_file_and_read_back(annotated_timeline, tmp_path):
    path = tmp_path / "x.rpp"
    otio.adapters.write_to_file(annotated_timeline, str(path))
    back = otio.adapters.read_from_file(str(path))
    assert [(t.name, t.kind) for t in back.tracks] == [(t.name, t.kind) for t in annotated_timeline.tracks]
    for original, read in zip(annotated_timeline.tracks, back.tracks):
        want = list(original.find_clips(shallow_search=True))
        got = list(read.find_clips(shallow_search=True))
        assert [c.name for c in got] == [c.name for c in want]
        for w, g in zip(want, got):
            assert (
                abs(g.range_in_parent().start_time.to_seconds() - w.range_in_parent().start_time.to_seconds()) <= FRAME
            )
            assert abs(g.duration().to_seconds() - w.duration().to_seconds()) <= FRAME
            assert abs(g.source_range.start_time.to_seconds() - w.source_range.start_time.to_seconds()) <= FRAME
            keys = w.metadata.get("soundify", {}).get("keyframes")
            if keys:
                read_keys = g.metadata["soundify"]["keyframes"]
                for (t0, v0), (t1, v1) in zip(keys["gain_db"], read_keys["gain_db"], strict=True):
                    assert abs(t0 - t1) <= FRAME
                    assert abs(v0 - v1) <= 0.1
                for (t0, v0), (t1, v1) in zip(keys["pan"], read_keys["pan"], strict=True):
                    assert abs(t0 - t1) <= FRAME
                    assert abs(v0 - v1) <= 0.01
    assert any(isinstance(i, otio.schema.Transition) for i in back.tracks[1])


def test_otioconvert_writes_rpp_and_adapter_stays_light(annotated_timeline, tmp_path):
    src, out = tmp_path / "in.otio", tmp_path / "out.rpp"
    otio.adapters.write_to_file(annotated_timeline, str(src))
    subprocess.run([str(VENV_BIN / "otioconvert"), "-i", str(src), "-o", str(out)], check=True, timeout=60)
    assert [_strip(_lines(t, "NAME")[0][0]) for t in _chunks(rpp.loads(out.read_text()), "TRACK")] == [
        t.name for t in annotated_timeline.tracks
    ]
    code = (
        "import sys, opentimelineio as otio; otio.adapters.from_name('rpp').module(); "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


RPP_DIR = SHARED_INTEROP / "rpp"
needs_rpp = pytest.mark.skipif(not RPP_DIR.is_dir(), reason=f"no REAPER samples in {RPP_DIR}")


def _all_items(element: rpp.Element) -> list[rpp.Element]:
    return [e for e in element.iter() if isinstance(e, rpp.Element) and e.tag == "ITEM"]


@pytest.mark.interop
@needs_rpp
@pytest.mark.parametrize(
    "name",
    [
        "FastTrackStudio_Template-with-takes-lanes.RPP",
        "FastTrackStudio_track_chunk_with_take_envelopes.rpp-chunk.txt",
        "rpp-editor_test2_track_vol_pan_envelopes.rpp",
    ],
)
def test_real_projects_keep_tracks_and_items(name):
    path = RPP_DIR / name
    reference = rpp.loads(path.read_text())
    tracks = [reference] if reference.tag == "TRACK" else _chunks(reference, "TRACK")
    timeline = otio.adapters.read_from_file(str(path), adapter_name="rpp")
    names = {t.name for t in timeline.tracks}
    assert all(_strip((_lines(t, "NAME") or [[""]])[0][0]) in names for t in tracks)
    assert len(timeline.tracks) >= len(tracks)
    assert len(list(timeline.find_clips())) == len(_all_items(reference))


@pytest.mark.interop
@needs_rpp
def test_real_take_envelopes_become_keyframes():
    path = RPP_DIR / "FastTrackStudio_track_chunk_with_take_envelopes.rpp-chunk.txt"
    reference = rpp.loads(path.read_text())
    timeline = otio.adapters.read_from_file(str(path), adapter_name="rpp")
    for item in _all_items(reference):
        vol = _chunks(item, "VOLENV")
        if not vol:
            continue
        points = _lines(vol[0], "PT")
        pos = _value(item, "POSITION")
        (clip,) = [c for c in timeline.find_clips() if abs(c.range_in_parent().start_time.to_seconds() - pos) <= FRAME]
        gain = clip.metadata["soundify"]["keyframes"]["gain_db"]
        assert len(gain) == len(points)
        for (t, db), p in zip(gain, points):
            assert t == pytest.approx(float(p[0]))
            assert db == pytest.approx(20 * math.log10(float(p[1])), abs=0.1) if float(p[1]) > 1e-5 else db <= -100
