"""An editor's cut (titles, a colour matte, a dissolve, gaps, a nested stack, a disabled and an
offline clip) written to all five formats and read back by independent readers: the stock OTIO
adapters, LibAAF's aaftool and, for .rpp, our adapter through `otioconvert`."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from soundify_otio.exporters import write_output
from soundify_otio.exporters.xml_text import xml_text

from helpers.aaftool import run_aaftool
from helpers.timelines import SHARED_INTEROP, editor_cut, sound_clip, time_range, write_tone

SUFFIXES = (".otio", ".xml", ".fcpxml", ".aaf", ".rpp")


def _frames(item: otio.core.Item) -> tuple[int, int]:
    span = item.range_in_parent()
    rate = 25.0
    return round(span.start_time.rescaled_to(rate).value), round(span.duration.rescaled_to(rate).value)


def _read(path: Path) -> otio.schema.Timeline:
    """The file read by the stock adapter for its suffix (FCPXML's comes in a collection)."""
    read = otio.adapters.read_from_file(str(path))
    return (
        read
        if isinstance(read, otio.schema.Timeline)
        else next(iter(read.find_children(descended_from_type=otio.schema.Timeline)))
    )


def _picture(timeline: otio.schema.Timeline) -> otio.schema.Track:
    return timeline.tracks[0]  # the cut's V1 (REAPER reads a track of generators, EMPTY items, as audio)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_generators_keep_place_and_length(suffix, tmp_path, caplog):
    timeline = editor_cut(tmp_path)
    out = tmp_path / f"cut{suffix}"
    with caplog.at_level(logging.WARNING):
        write_output(timeline, out)
    back = _read(out)
    title = next(c for c in timeline.find_clips() if c.name == "Opening title")
    matte = next(c for c in timeline.find_clips() if c.name == "Black matte")
    picture = _picture(back)
    if suffix == ".aaf":  # generators become fillers (the stock reader drops a trailing one): read the file
        import aaf2

        with aaf2.open(str(out)) as f:
            slot = next(s for s in next(f.content.toplevel()).slots if s.name == "V1")
            assert slot.segment.length == round(timeline.tracks[0].duration().rescaled_to(25).value)
    if suffix == ".fcpxml":  # the stock reader skips titles (and ignores tcStart): read the file itself
        titles = {t.get("name"): (t.get("offset"), t.get("duration")) for t in etree.parse(str(out)).iter("title")}
        assert titles["Opening title"] == ("3600s", "2s")
        assert titles["Black matte"] == ("3614s", "1s")
        clips = {c.get("name"): c.get("enabled", "1") for c in etree.parse(str(out)).iter("asset-clip")}
        assert clips["shot D (disabled)"] == "0"
        assert clips["shot A"] == "1"
    for generator in (title, matte) if suffix not in (".aaf", ".fcpxml") else ():
        start, length = _frames(generator)
        found = [i for i in picture if not isinstance(i, otio.schema.Transition) and _frames(i) == (start, length)]
        assert found, f"{suffix}: nothing at {start}+{length} for {generator.name}"
        kept = found[0]
        if suffix in (".otio", ".xml"):  # formats that hold a generator as one
            assert isinstance(kept.media_reference, otio.schema.GeneratorReference)
            assert kept.name == generator.name
    names = {c.name for c in back.find_clips()}
    assert {"shot A", "shot B", "rain"} <= names
    disabled = [c for c in back.find_clips() if c.name == "shot D (disabled)"]
    if suffix in (".otio", ".rpp"):
        assert [c.enabled for c in disabled] == [False]
    if suffix == ".xml":  # the stock reader keeps xmeml's <enabled> as metadata
        assert [c.metadata["fcp_xml"]["enabled"] for c in disabled] == ["FALSE"]
    assert suffix in (".fcpxml", ".aaf", ".rpp") or "offline shot" in names
    warned = " ".join(r.getMessage() for r in caplog.records)
    if suffix == ".aaf":
        assert "generator" in warned
        assert "'Black matte' on track 'V1' at 14.000 s" in warned
    if suffix == ".fcpxml":
        assert "transition" in warned
        assert "nested stack" in warned
    if suffix == ".rpp":
        assert "'nested' on track 'V1' at 11.000 s" in warned


@pytest.mark.interop
def test_aaftool_reads_the_editors_cut(aaftool, tmp_path):
    timeline = editor_cut(tmp_path)
    out = tmp_path / "cut.aaf"
    write_output(timeline, out)
    listing = run_aaftool(aaftool, out)
    assert listing.returncode == 0, listing.text[-2000:]
    sfx = listing.track("SFX 1")
    assert sfx.format == "STEREO"
    rain, knock = sfx.clips
    assert (rain.sources, rain.channels, rain.volume_automation) == (["rain", "rain_1"], 2, True)
    assert (rain.start, rain.length, rain.fade_in, rain.fade_out) == (
        "01:00:02:00",
        "00:00:03:00",
        "00:00:00:12",
        "00:00:00:12",
    )
    # a constant gain curve: LibAAF shows it as the clip's gain
    assert (knock.channels, knock.volume_automation, knock.gain) == (1, False, "-03.0 dB")
    assert (knock.start, knock.fade_in, knock.fade_out) == ("01:00:06:00", "00:00:00:05", "00:00:00:05")
    assert listing.markers == [("01:00:02:00", "scene 1")]


@pytest.mark.interop
def test_aaftool_reads_the_annotated_timeline(aaftool, annotated_timeline, tmp_path):
    out = tmp_path / "annotated.aaf"
    write_output(annotated_timeline, out)
    listing = run_aaftool(aaftool, out)
    assert listing.returncode == 0, listing.text[-2000:]
    for track in annotated_timeline.tracks:
        if not track.metadata.get("soundify", {}).get("generated"):
            continue
        clips = [c for c in track.find_clips(shallow_search=True)]
        read = listing.track(track.name)
        stereo = any(c.metadata["soundify"]["sound"]["channels"] == 2 for c in clips)
        assert read.format == ("STEREO" if stereo else "MONO")
        assert len(read.clips) == len(clips)
        for clip, seen in zip(clips, read.clips, strict=True):
            assert seen.channels == (2 if stereo else 1)
            items = list(track)
            i = items.index(clip)
            for side, fade, neighbour in (
                ("in", seen.fade_in, items[i - 1] if i else None),
                ("out", seen.fade_out, items[i + 1] if i + 1 < len(items) else None),
            ):
                if isinstance(neighbour, otio.schema.Transition):
                    continue  # a crossfade, not a fade
                frames = round(clip.metadata["soundify"][f"fade_{side}"] * 24)
                assert fade == (f"00:00:00:{frames:02d}" if frames else None), (clip.name, side)
            gains = {v for _, v in clip.metadata["soundify"]["keyframes"]["gain_db"]}
            assert seen.volume_automation == (len(gains) > 1), (track.name, clip.name)


@pytest.mark.interop
@pytest.mark.parametrize("rate", [10.0, 15.0])
def test_aaftool_reads_low_rate_media(aaftool, tmp_path, rate):
    tone = write_tone(tmp_path / "hum.wav", 3.0, 48000, 1)
    timeline = otio.schema.Timeline(name="low rate", global_start_time=otio.opentime.RationalTime(0, rate))
    picture = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    picture.append(otio.schema.Gap(source_range=time_range(0.0, 3.0, rate)))
    timeline.tracks.append(picture)
    sfx = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    sfx.metadata["soundify"] = {"generated": True, "role": "effects"}
    clip = sound_clip(
        tone, "hum", "effect", 0.0, 2.0, [[0.0, 0.0]], [[0.0, -20.0], [2.0, 0.0]], 48000, 1, 3.0, 0.4, 0.4
    )
    clip.source_range = time_range(0.0, 2.0, rate)
    sfx.append(clip)
    timeline.tracks.append(sfx)
    out = tmp_path / "low.aaf"
    write_output(timeline, out)
    listing = run_aaftool(aaftool, out, "samples")  # timecode would count at 24 fps, the nearest SMPTE rate
    assert listing.returncode == 0, listing.text[-2000:]
    (seen,) = listing.track("SFX 1").clips
    fade = str(round(round(0.4 * rate) / rate * 48000))
    assert (seen.volume_automation, seen.fade_in, seen.fade_out) == (True, fade, fade)
    assert seen.length == str(2 * 48000)


@pytest.mark.slow
@pytest.mark.interop
def test_aaftool_reads_the_sample_projects_aaf(aaftool, project, tmp_path):
    from soundify_otio.cli import main

    out = tmp_path / "sample.aaf"
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "--quiet",
                "annotate",
                str(project.timeline_otio),
                "--library",
                str(project.library),
                "-o",
                str(out),
                "--pretrained",
                "none",
                "--no-cache",
            ]
        )
    assert exited.value.code == 0
    listing = run_aaftool(aaftool, out)
    assert listing.returncode == 0, listing.text[-2000:]
    import aaf2

    with aaf2.open(str(out)) as f:  # pyaaf2's view of the same file: each soundify clip is one gain group
        slots = [s for s in next(f.content.toplevel()).slots if str(s.name).startswith(("SFX", "AMB"))]
        written = {
            str(s.name): sum(
                isinstance(c, aaf2.components.OperationGroup) and c.operation.name == "Audio Gain"
                for c in s.segment.segments[0].components
            )
            for s in slots
        }
    assert written
    for name, count in written.items():
        read = listing.track(name)
        assert len(read.clips) == count > 0
        assert all(c.channels == (2 if read.format == "STEREO" else 1) and c.sources for c in read.clips)
    assert any(c.volume_automation for name in written for c in listing.track(name).clips)


@pytest.mark.parametrize("rate", [25.0, 30000 / 1001])
def test_rpp_keeps_the_frame_rate(tmp_path, rate):
    timeline = editor_cut(tmp_path, rate)
    out = tmp_path / "cut.rpp"
    write_output(timeline, out)
    assert f"TIMEMODE 1 5 -1 {round(rate)} {0 if rate == 25.0 else 2} 0 -1" in out.read_text()
    back = _read(out)
    assert abs(back.global_start_time.rate - rate) < 1e-6
    before = {
        c.name: (round(c.range_in_parent().start_time.value), round(c.duration().value))
        for c in timeline.find_clips(shallow_search=False)
        if c.parent().name != "inner"
    }
    after = {
        c.name: (round(c.range_in_parent().start_time.value), round(c.duration().value)) for c in back.find_clips()
    }
    assert {k: after[k] for k in before} == before
    converted = tmp_path / "converted.otio"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "otioconvert"), "-i", str(out), "-o", str(converted)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    again = otio.adapters.read_from_file(str(converted))
    assert abs(again.global_start_time.rate - rate) < 1e-6
    assert {
        c.name: (round(c.range_in_parent().start_time.value), round(c.duration().value)) for c in again.find_clips()
    } == after


_NAMES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12) | st.text(
    st.sampled_from(["\x01", "\x1b", "\x00", "\ufffe", "\uffff", "<", "&", '"', "a", "é"]),
    min_size=1,
    max_size=8,
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES, label=_NAMES)
def test_any_name_writes_and_reads_back(tmp_path_factory, name, label):
    folder = tmp_path_factory.mktemp("names")
    timeline = editor_cut(folder)
    clip = next(c for c in timeline.find_clips() if c.name == "rain")
    clip.name = name
    clip.metadata["soundify"]["label"] = label
    timeline.tracks[0].name = label
    for suffix in SUFFIXES:
        out = folder / f"named{suffix}"
        write_output(timeline, out)
        if suffix in (".xml", ".fcpxml"):
            etree.parse(str(out), etree.XMLParser(resolve_entities=False))
        back = _read(out)
        names = {_lines(c.name) for c in back.find_clips()}
        kept = name.split("\x00")[0]  # OTIO itself ends a name at NUL (its JSON, and so every deepcopy)
        expected = _lines(xml_text(kept) if suffix != ".otio" else kept)
        if suffix == ".rpp":  # a project line holds no control characters: they become spaces
            assert len(back.tracks) == len(timeline.tracks)
        elif not kept:  # an empty name: the readers fill in their own ("Mob" for AAF)
            assert len(names) >= 5
        else:
            assert expected in names, (suffix, ascii(name), [ascii(n) for n in names])


def _lines(text: str) -> str:
    """Text with its line ends as an XML parser normalises them (CR LF and CR become LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


FCPXML_DTD = Path(os.environ.get("FCPXML_DTD", SHARED_INTEROP / "fcpxml" / "FCPXMLv1_10.dtd"))
"""Apple's FCPXML 1.10 DTD (as CommandPost/CommandPost ships it in src/extensions/cp/apple/fcpxml/dtd);
Apple's copyright, so not in this repository: the test runs where ../shared (or $FCPXML_DTD) holds it."""


@pytest.mark.interop
@pytest.mark.skipif(not FCPXML_DTD.is_file() or shutil.which("xmllint") is None, reason=f"no {FCPXML_DTD} or xmllint")
def test_fcpxml_is_valid_against_apples_dtd(tmp_path, annotated_timeline):
    for name, timeline in (("cut", editor_cut(tmp_path)), ("annotated", annotated_timeline)):
        out = tmp_path / f"{name}.fcpxml"
        write_output(timeline, out)
        done = subprocess.run(
            ["xmllint", "--noout", "--dtdvalid", str(FCPXML_DTD), str(out)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
