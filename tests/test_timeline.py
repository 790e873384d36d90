"""Timelines into shots: media paths, track time, overlaps, nesting, speed, adapters and read errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from soundify_otio.errors import TimelineError
from soundify_otio.timeline.media import locate_media
from soundify_otio.timeline.reading import read_timeline
from soundify_otio.timeline.shots import find_shots
from soundify_otio.timeline.timecode import timeline_rate
from soundify_otio.vision.decode import probe_video

from helpers.synthetic import write_video
from helpers.timelines import SHARED_INTEROP

REPO = Path(__file__).resolve().parents[1]
BASE = Path("/project")


def _rt(frames: float, rate: float = 24) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, rate)


def _range(start: float, duration: float, rate: float = 24) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_rt(start, rate), _rt(duration, rate))


def _clip(
    name: str,
    start: float,
    duration: float,
    rate: float = 24,
    url: str | None = None,
    available: otio.opentime.TimeRange | None = None,
) -> otio.schema.Clip:
    """A clip of `duration` frames from frame `start` of /media/<name>.mp4 (or `url`)."""
    ref = otio.schema.ExternalReference(
        target_url=url or f"/media/{name}.mp4", available_range=available or _range(0, 1000, rate)
    )
    return otio.schema.Clip(name=name, media_reference=ref, source_range=_range(start, duration, rate))


def _gap(duration: float, rate: float = 24) -> otio.schema.Gap:
    return otio.schema.Gap(source_range=_range(0, duration, rate))


def _timeline(*tracks: list, rate: float = 24) -> otio.schema.Timeline:
    """Video tracks from lists of items, bottom track first."""
    timeline = otio.schema.Timeline(name="t", global_start_time=_rt(0, rate))
    for items in tracks:
        track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
        track.extend(items)
        timeline.tracks.append(track)
    return timeline


def _spans(shots) -> list[tuple[str, float, float, float]]:
    """(clip, timeline start, duration, media start) of each shot, rounded to microseconds."""
    return [(s.clip_name, round(s.timeline_start, 6), round(s.duration, 6), round(s.media_start, 6)) for s in shots]


# ---- media paths ------------------------------------------------------------------------------


def test_relative_media_path_resolves_against_the_timeline_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "media").mkdir(parents=True)
    (project / "media" / "a.mp4").write_bytes(b"")
    path = project / "cut.otio"
    otio.adapters.write_to_file(_timeline([_clip("a", 0, 24, url="media/a.mp4")]), str(path))
    shots, skipped = find_shots(read_timeline(path), path.parent)
    assert skipped == []
    assert [s.media_path for s in shots] == [project / "media" / "a.mp4"]
    assert shots[0].media_path.is_file()


def test_file_urls_with_spaces_and_escapes(tmp_path: Path) -> None:
    assert locate_media("file:///tmp/x/My%20Clip%231.mp4", BASE) == Path("/tmp/x/My Clip#1.mp4")
    assert locate_media("file://localhost/tmp/x/a%20b.mov", BASE) == Path("/tmp/x/a b.mov")
    assert locate_media("file:///tmp/x/Take #2.mov", BASE) == Path("/tmp/x/Take #2.mov")
    assert locate_media("file:///C:/Media/a%20b.mov", BASE) == Path("C:/Media/a b.mov")
    real = tmp_path / "My Clip #1 100%.mp4"
    real.write_bytes(b"")
    assert locate_media(real.as_uri(), BASE) == real


def test_media_root_remaps_the_first_matching_prefix() -> None:
    roots = [("/Volumes/Shoot/day1", "/mnt/day1"), ("/Volumes/Shoot", "/mnt/shoot"), ("/Volumes", "/never")]
    assert locate_media("file:///Volumes/Shoot/day1/a.mov", BASE, roots) == Path("/mnt/day1/a.mov")
    assert locate_media("/Volumes/Shoot/day2/b.mov", BASE, roots) == Path("/mnt/shoot/day2/b.mov")
    # whole components only: /Volumes/Shoot does not match /Volumes/Shooting
    assert locate_media("/Volumes/Shooting/c.mov", BASE, roots[1:2]) == Path("/Volumes/Shooting/c.mov")
    assert locate_media("/Volumes/Shoot/c.mov", BASE, [("/Volumes/Shoot/", "/mnt/s/")]) == Path("/mnt/s/c.mov")
    assert locate_media("D:\\Media\\x\\c.mov", BASE, [("D:/Media", "/mnt/m")]) == Path("/mnt/m/x/c.mov")
    assert locate_media("file:///D:/Media/c.mov", BASE, [("D:\\Media", "/mnt/m")]) == Path("/mnt/m/c.mov")


def test_find_shots_applies_media_roots_and_reports_remote_urls() -> None:
    timeline = _timeline([_clip("a", 0, 24, url="file:///old/a.mp4"), _clip("b", 0, 24, url="https://cdn/b.mp4")])
    shots, skipped = find_shots(timeline, BASE, [("/old", "/new")])
    assert [s.media_path for s in shots] == [Path("/new/a.mp4")]
    assert [(s.clip_name, s.media) for s in skipped] == [("b", "https://cdn/b.mp4")]
    assert "https" in skipped[0].reason


# ---- placing clips in track time --------------------------------------------------------------


def test_gaps_place_clips_in_track_time() -> None:
    timeline = _timeline([_gap(12), _clip("a", 10, 24), _gap(36), _clip("b", 0, 48)])
    shots, skipped = find_shots(timeline, BASE)
    assert skipped == []
    assert _spans(shots) == [("a", 0.5, 1.0, round(10 / 24, 6)), ("b", 3.0, 2.0, 0.0)]
    assert [s.index for s in shots] == [0, 1]


def test_a_through_edit_is_no_cut() -> None:
    """Clips that go on from the next frame of the same file are one shot; a jump in the file, another
    file or a gap between them is a cut."""
    a = [_clip(name, start, n, url="/media/a.mp4") for name, start, n in [("a", 0, 10), ("a2", 10, 5), ("a3", 15, 1)]]
    after = [_clip("a4", 17, 4, url="/media/a.mp4"), _clip("a", 20, 10, url="/media/b.mp4"), _gap(2)]
    timeline = _timeline([*a, *after, _clip("a5", 21, 3, url="/media/a.mp4")])
    shots, _ = find_shots(timeline, BASE)
    assert _spans(shots) == [
        ("a", 0.0, round(16 / 24, 6), 0.0),
        ("a4", round(16 / 24, 6), round(4 / 24, 6), round(17 / 24, 6)),
        ("a", round(20 / 24, 6), round(10 / 24, 6), round(20 / 24, 6)),
        ("a5", round(32 / 24, 6), 0.125, 0.875),
    ]
    assert [s.media_path.name for s in shots] == ["a.mp4", "a.mp4", "b.mp4", "a.mp4"]


def test_transition_shots_meet_at_the_cut() -> None:
    transition = otio.schema.Transition(name="dissolve", in_offset=_rt(6), out_offset=_rt(6))
    timeline = _timeline([_clip("a", 0, 48), transition, _clip("b", 100, 24)])
    shots, _ = find_shots(timeline, BASE)
    assert _spans(shots) == [("a", 0.0, 2.0, 0.0), ("b", 2.0, 1.0, round(100 / 24, 6))]
    assert shots[0].timeline_start + shots[0].duration == shots[1].timeline_start  # exact: no overlap, no hole


def test_upper_track_wins_where_tracks_overlap() -> None:
    lower = [_clip("low", 0, 96)]  # 0-4 s
    upper = [_gap(24), _clip("up", 0, 24), _gap(72), _clip("up2", 0, 48)]  # 1-2 s and 5-7 s
    shots, _ = find_shots(_timeline(lower, upper), BASE)
    assert _spans(shots) == [
        ("low", 0.0, 1.0, 0.0),
        ("up", 1.0, 1.0, 0.0),
        ("low", 2.0, 2.0, 2.0),
        ("up2", 5.0, 2.0, 0.0),
    ]
    assert [s.track_index for s in shots] == [0, 1, 0, 1]


def test_upper_track_partially_over_the_lower_one() -> None:
    lower = [_clip("low", 0, 48)]  # 0-2 s
    upper = [_gap(24), _clip("up", 0, 48)]  # 1-3 s
    shots, _ = find_shots(_timeline(lower, upper), BASE)
    assert _spans(shots) == [("low", 0.0, 1.0, 0.0), ("up", 1.0, 2.0, 0.0)]


def test_trimmed_track_shows_only_its_source_range() -> None:
    timeline = _timeline([_clip("a", 0, 48), _clip("b", 0, 48)])
    timeline.tracks[0].source_range = _range(24, 48)  # the track shows its own 1-3 s at 0-2 s
    shots, _ = find_shots(timeline, BASE)
    assert _spans(shots) == [("a", 0.0, 1.0, 1.0), ("b", 1.0, 1.0, 0.0)]


def test_generator_clip_gives_nothing_and_hides_nothing() -> None:
    title = otio.schema.Clip(
        name="Title", media_reference=otio.schema.GeneratorReference(generator_kind="text"), source_range=_range(0, 24)
    )
    shots, skipped = find_shots(_timeline([_clip("low", 0, 48)], [title]), BASE)
    assert _spans(shots) == [("low", 0.0, 2.0, 0.0)]
    assert skipped == []


def test_missing_reference_is_skipped_and_still_hides_the_track_below() -> None:
    offline = otio.schema.Clip(
        name="Offline", media_reference=otio.schema.MissingReference(), source_range=_range(0, 24)
    )
    shots, skipped = find_shots(_timeline([_clip("low", 0, 48)], [_gap(24), offline]), BASE)
    assert _spans(shots) == [("low", 0.0, 1.0, 0.0)]
    assert [(s.clip_name, s.media) for s in skipped] == [("Offline", "")]
    assert "no media" in skipped[0].reason


def test_hidden_offline_clip_is_not_reported() -> None:
    offline = otio.schema.Clip(
        name="Offline", media_reference=otio.schema.MissingReference(), source_range=_range(0, 24)
    )
    shots, skipped = find_shots(_timeline([offline], [_clip("up", 0, 24)]), BASE)
    assert [s.clip_name for s in shots] == ["up"]
    assert skipped == []


def test_disabled_clip_and_track_are_ignored() -> None:
    off = _clip("off", 0, 24)
    off.enabled = False
    timeline = _timeline([off, _clip("b", 0, 24)], [_clip("hidden-track", 0, 96)])
    timeline.tracks[1].enabled = False
    shots, skipped = find_shots(timeline, BASE)
    assert _spans(shots) == [("b", 1.0, 1.0, 0.0)]  # the disabled clip keeps its place
    assert skipped == []


def test_media_at_25_fps_under_a_24_fps_timeline(tmp_path: Path) -> None:
    video = write_video(tmp_path / "m25.mp4", lambda i: np.full((16, 16, 3), i * 2, np.uint8), 120, 25, 16, 16)
    clip = _clip("m25", 50, 75, rate=25, url=str(video), available=_range(0, 120, 25))  # 2 s from 2 s
    shots, _ = find_shots(_timeline([_clip("a", 0, 36), clip, _clip("c", 0, 24)]), BASE)
    assert _spans(shots) == [("a", 0.0, 1.5, 0.0), ("m25", 1.5, 3.0, 2.0), ("c", 4.5, 1.0, 0.0)]
    assert timeline_rate(_timeline([_clip("a", 0, 36), clip, _clip("c", 0, 24)])) == 24
    fps = probe_video(video).fps  # the frames the pipeline decodes: round(media_start * fps) onwards
    assert (round(shots[1].media_start * fps), round(shots[1].duration * fps)) == (50, 75)


def test_source_timecode_counts_from_the_media_start() -> None:
    hour = 86400  # 01:00:00:00 at 24 fps
    clip = _clip("tc", hour + 48, 24, available=_range(hour, 240))
    shots, _ = find_shots(_timeline([clip]), BASE)
    assert _spans(shots) == [("tc", 0.0, 1.0, 2.0)]


def test_timeline_start_timecode_does_not_shift_track_time() -> None:
    timeline = _timeline([_gap(24), _clip("a", 0, 24)])
    timeline.global_start_time = _rt(86400)
    shots, _ = find_shots(timeline, BASE)
    assert _spans(shots) == [("a", 1.0, 1.0, 0.0)]


def test_nested_stack_is_opened_and_trimmed() -> None:
    inner_low = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    inner_low.append(_clip("in-low", 0, 96))  # stack time 0-4 s
    inner_up = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    inner_up.extend([_gap(48), _clip("in-up", 0, 24)])  # stack time 2-3 s
    compound = otio.schema.Stack(name="compound", source_range=_range(24, 72))  # shows stack time 1-4 s
    compound.extend([inner_low, inner_up])
    timeline = _timeline([_clip("a", 0, 24), compound, _clip("c", 0, 24)], [_gap(96), _clip("top", 0, 24)])
    shots, skipped = find_shots(timeline, BASE)
    assert _spans(shots) == [
        ("a", 0.0, 1.0, 0.0),
        ("in-low", 1.0, 1.0, 1.0),
        ("in-up", 2.0, 1.0, 0.0),
        ("in-low", 3.0, 1.0, 3.0),
        ("top", 4.0, 1.0, 0.0),
    ]
    assert [s.track_index for s in shots] == [0, 0, 0, 0, 1]
    assert skipped == []  # "c" is wholly under "top"


def test_speed_changed_clip_is_skipped_with_its_speed() -> None:
    fast = _clip("fast", 0, 24)
    fast.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    plain = _clip("plain", 0, 24)
    plain.effects.append(otio.schema.LinearTimeWarp(time_scalar=1.0))
    frozen = _clip("frozen", 0, 24)
    frozen.effects.append(otio.schema.FreezeFrame())
    shots, skipped = find_shots(_timeline([_clip("low", 0, 72)], [fast, plain, frozen]), BASE)
    assert _spans(shots) == [("plain", 1.0, 1.0, 0.0)]
    assert [(s.clip_name, s.media) for s in skipped] == [("fast", "/media/fast.mp4"), ("frozen", "/media/frozen.mp4")]
    assert "speed 200%" in skipped[0].reason
    assert "freeze" in skipped[1].reason


def test_fcp7_time_remap_filter(tmp_path: Path) -> None:
    remap = (
        "<filter><effect><name>Time Remap</name><effectid>timeremap</effectid><mediatype>video</mediatype>"
        "<parameter><parameterid>speed</parameterid><name>speed</name><value>{}</value></parameter>"
        "</effect></filter>"
    )
    xml = (REPO / "sample_projects" / "street.xml").read_text()
    at = xml.index("<in>140</in>")
    (tmp_path / "slow.xml").write_text(xml[:at] + remap.format(50) + xml[at:])
    (tmp_path / "same.xml").write_text(xml[:at] + remap.format(100) + xml[at:])
    shots, skipped = find_shots(read_timeline(tmp_path / "slow.xml"), tmp_path)
    assert [(s.clip_name, s.reason) for s in skipped] == [("Street through the fence", skipped[0].reason)]
    assert "speed 50%" in skipped[0].reason
    assert len(shots) == 4
    shots, skipped = find_shots(read_timeline(tmp_path / "same.xml"), tmp_path)
    assert skipped == []
    assert len(shots) == 5


# ---- adapters ---------------------------------------------------------------------------------


def test_sample_otio_and_fcp7_xml_give_the_same_shots() -> None:
    folder = REPO / "sample_projects"
    from_otio = find_shots(read_timeline(folder / "street.otio"), folder)
    from_xml = find_shots(read_timeline(folder / "street.xml"), folder)
    assert from_otio == from_xml
    shots, skipped = from_otio
    assert skipped == []
    assert {s.media_path for s in shots} == {folder / "media" / "bikes.mp4"}
    assert _spans(shots) == [
        ("Street through the fence", 0.0, 1.84, 5.6),
        ("Taxi and cyclist", 1.84, 2.0, 3.2),
        ("Feet past a bike", 3.84, 1.64, 7.8),
        ("Road, then rider", 5.96, 1.6, 0.4),
        ("Taxi sign", 7.56, 0.96, 2.08),
    ]
    assert timeline_rate(read_timeline(folder / "street.xml")) == 25


FCPXML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.8">
  <resources>
    <format id="r1" frameDuration="1/25s" width="1920" height="1080"/>
    <asset id="r2" name="A" src="file:///shoot/My%20Clip%231.mov" start="0s" duration="10s" hasVideo="1" format="r1"/>
    <asset id="r3" name="B" src="file:///shoot/other.mov" start="0s" duration="10s" hasVideo="1" format="r1"/>
  </resources>
  <library><event name="Event"><project name="Cut">
    <sequence format="r1" duration="5s" tcStart="0s"><spine>
      <asset-clip name="A" ref="r2" offset="0s" start="1s" duration="2s" format="r1">
        <asset-clip name="B" lane="1" ref="r3" offset="2s" start="4s" duration="1s" format="r1"/>
      </asset-clip>
      <gap name="Gap" offset="2s" start="0s" duration="1s"/>
      <asset-clip name="C" ref="r3" offset="3s" start="0s" duration="2s" format="r1"/>
    </spine></sequence>
  </project></event></library>
</fcpxml>
"""


@pytest.mark.parametrize("name", ["cut.fcpxml", "cut.xml"])
def test_handwritten_fcpxml_with_a_connected_clip(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(FCPXML)  # an FCPXML saved as .xml goes to the FCPXML adapter too
    shots, skipped = find_shots(read_timeline(tmp_path / name), tmp_path, [("/shoot", "/mnt")])
    assert skipped == []
    assert _spans(shots) == [("A", 0.0, 1.0, 1.0), ("B", 1.0, 1.0, 4.0), ("C", 3.0, 2.0, 0.0)]
    assert [s.media_path for s in shots] == [Path("/mnt/My Clip#1.mov"), Path("/mnt/other.mov"), Path("/mnt/other.mov")]


def test_fcpxmld_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "cut.fcpxmld"
    bundle.mkdir()
    (bundle / "Info.fcpxml").write_text(FCPXML)
    assert len(find_shots(read_timeline(bundle), tmp_path)[0]) == 3


def test_fcpxml_lanes_are_ordered_numerically(tmp_path: Path) -> None:
    lanes = "".join(
        f'<asset-clip name="L{n}" lane="{n}" ref="r3" offset="0s" start="0s" duration="1s" format="r1"/>'
        for n in (2, 10, -1)
    )
    text = FCPXML.replace('<asset-clip name="B" lane="1"', lanes + '<asset-clip name="B" lane="1"')
    (tmp_path / "lanes.fcpxml").write_text(text)
    timeline = read_timeline(tmp_path / "lanes.fcpxml")
    assert [t.name for t in timeline.tracks] == ["-1", "0", "1", "2", "10"]
    assert find_shots(timeline, tmp_path)[0][0].clip_name == "L10"


def _shared(relative: str) -> Path:
    path = SHARED_INTEROP / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared interop corpus is not checked out beside the repo)")
    return path


@pytest.mark.interop
def test_shared_fcpxml_reads_through_the_stock_adapter() -> None:
    timeline = read_timeline(_shared("fcpxml/DAWFileKit_SyncClipRoles2.fcpxml"))
    assert len(timeline.video_tracks()) == 2
    shots, skipped = find_shots(timeline, BASE)
    assert shots == []  # the adapter gives sync-clips no media reference
    assert [s.clip_name for s in skipped] == ["ILA_005_0015_techfinal_v001", "B003C011_200304_RO6B"]


@pytest.mark.interop
def test_shared_premiere_xml_honours_disabled_clips_and_tracks() -> None:
    timeline = read_timeline(_shared("fcp7xml/otio-fcp-adapter_premiere_enable_property.xml"))
    shots, _ = find_shots(timeline, BASE)
    assert not any("disabled" in s.clip_name for s in shots)
    assert _spans(shots) == [
        ("source.mp4", 0.0, 3.24, 0.0),
        ("source.mp4", 3.24, 3.84, 0.0),
        ("source3.mp4", 7.08, 1.72, 0.0),
    ]


# ---- read errors ------------------------------------------------------------------------------


def test_read_timeline_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TimelineError, match="not found") as caught:
        read_timeline(tmp_path / "nope.otio")
    assert caught.value.path == str(tmp_path / "nope.otio")


def test_read_timeline_unknown_suffix_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "cut.docx"
    path.write_text("hello")
    with pytest.raises(TimelineError) as caught:
        read_timeline(path)
    assert caught.value.path == str(path)
    assert "'.docx'" in caught.value.reason
    for suffix in (".otio", ".xml", ".fcpxml"):
        assert suffix in caught.value.reason


@pytest.mark.parametrize(
    "name, text",
    [("bad.otio", "{ not json"), ("bad.xml", "<xmeml><sequence>"), ("bad.fcpxml", "<fcpxml version='1.8'><library>")],
)
def test_read_timeline_corrupt_file_names_it(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TimelineError, match="cannot read it") as caught:
        read_timeline(path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)


def test_read_timeline_folder_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "cut.otio"
    folder.mkdir()
    with pytest.raises(TimelineError, match="folder"):
        read_timeline(folder)


def test_clip_without_any_range_is_a_timeline_error() -> None:
    clip = otio.schema.Clip(name="loose", media_reference=otio.schema.ExternalReference(target_url="/a.mp4"))
    with pytest.raises(TimelineError, match="loose"):
        find_shots(_timeline([clip]), BASE)


def test_copied_sample_resolves_media_beside_the_copy(tmp_path: Path) -> None:
    shutil.copy(REPO / "sample_projects" / "street.otio", tmp_path / "street.otio")
    shots, _ = find_shots(read_timeline(tmp_path / "street.otio"), tmp_path)
    assert {s.media_path for s in shots} == {tmp_path / "media" / "bikes.mp4"}
