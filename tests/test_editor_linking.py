"""What each editor links (issue 8): conformed media, stereo layouts, absolute URLs, any frame rate.

Every output is read back with an independent parser (lxml, pyaaf2, the `rpp` package, the stock
OTIO adapters) and, where ../shared/interop has them, compared with the editors' own exports.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import aaf2
import numpy as np
import opentimelineio as otio
import pytest
import rpp
import soundfile
from lxml import etree

from soundify_otio.errors import OutputError
from soundify_otio.exporters import WRITERS, check_format, write_output
from soundify_otio.exporters.conform import (
    conform_media,
    media_folder,
    read_bext_description,
    sounds_to_conform,
    wants_conform,
)
from soundify_otio.exporters.resolve import add_resolve_effects
from soundify_otio.timeline.metadata import all_markers

from helpers.timelines import SHARED_INTEROP, append_sfx_track, generated_clips, sound_clip, write_tone

COMBINER = "6b46dd7a-132d-4856-ab21-8b751d8462ec"


def _library_sounds(folder: Path) -> dict[str, Path]:
    """One sound of each kind the library may hold."""
    folder.mkdir(exist_ok=True)
    sounds = {
        "flac16": write_tone(folder / "bell.flac", 0.5, 44100, 1),
        "wav48": write_tone(folder / "door.wav", 0.5, 48000, 2),
        "wav22": write_tone(folder / "birds.wav", 0.5, 22050, 2),
    }
    ogg = folder / "engine idle.ogg"
    soundfile.write(str(ogg), soundfile.read(str(sounds["wav48"]))[0], 48000, format="OGG", subtype="VORBIS")
    sounds["ogg"] = ogg
    return sounds


def _timeline_of(sounds: dict[str, Path], rate: float) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="conform")
    track = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    track.metadata["soundify"] = {"generated": True, "role": "effects"}
    for name, path in sounds.items():
        info = soundfile.info(str(path))
        track.append(
            sound_clip(
                path,
                name,
                "effect",
                0.0,
                0.25,
                [[0, 0], [0.25, 0]],
                [[0, 0], [0.25, 0]],
                info.samplerate,
                info.channels,
                info.duration,
            )
        )
    timeline.tracks.append(track)
    return timeline


def test_conform_writes_linkable_wav_once(tmp_path):
    sounds = _library_sounds(tmp_path / "library")
    before = {p: p.read_bytes() for p in sounds.values()}
    out = tmp_path / "cut.aaf"
    timeline = _timeline_of(sounds, 24.0)
    assert sounds_to_conform(timeline)
    created = conform_media(timeline, out)
    assert len(created) == 3  # the 48 kHz WAV is used as it is
    assert not sounds_to_conform(timeline)  # a write of it now makes no copy to conform
    by_name = {c.name: (c, m) for _t, c, m in generated_clips(timeline)}
    assert by_name["wav48"][0].media_reference.target_url == sounds["wav48"].resolve().as_uri()
    expected = {"flac16": (44100, 1, "PCM_16"), "ogg": (48000, 2, "PCM_24"), "wav22": (48000, 2, "PCM_16")}
    for name, (rate, channels, subtype) in expected.items():
        clip, meta = by_name[name]
        path = Path(unquote(urlparse(clip.media_reference.target_url).path))
        assert path.parent == media_folder(out)
        assert path.suffix == ".wav"
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (rate, channels, subtype)
        assert info.duration == pytest.approx(0.5, abs=1e-3)
        assert meta["sound"]["path"] == str(path)
        assert meta["sound"]["sample_rate"] == rate
        assert meta["sound"]["original"] == str(sounds[name])
        assert clip.media_reference.available_range.duration.rate == rate
        description = read_bext_description(path)
        assert name in description
        assert str(sounds[name]) in description
    assert {p: p.read_bytes() for p in sounds.values()} == before  # the library is never touched
    again = _timeline_of(sounds, 24.0)
    stamps = {p: p.stat().st_mtime_ns for p in created}
    assert conform_media(again, out) == []  # content-addressed: nothing is encoded twice
    assert {p: p.stat().st_mtime_ns for p in created} == stamps
    assert [c.media_reference.target_url for c in again.find_clips()] == [
        c.media_reference.target_url for c in timeline.find_clips()
    ]


def test_conform_default_by_format_and_target(tmp_path):
    assert all(wants_conform(tmp_path / f"x{s}", ["resolve"], None) for s in (".aaf", ".xml", ".fcpxml", ".rpp"))
    assert wants_conform(tmp_path / "x.otio", ["resolve", "premiere"], None)
    assert not wants_conform(tmp_path / "x.otio", ["resolve"], None)
    assert not wants_conform(tmp_path / "x.aaf", ["resolve"], "none")
    assert wants_conform(tmp_path / "x.otio", ["resolve"], "wav")


def _relative_video_timeline(tmp_path: Path, rate: float) -> otio.schema.Timeline:
    """A timeline whose picture is a relative path with a space, plus a stereo SFX track."""
    (tmp_path / "media dir").mkdir()
    (tmp_path / "media dir" / "shot 1.mp4").write_bytes(b"")
    timeline = otio.schema.Timeline(name="urls", global_start_time=otio.opentime.RationalTime(0, rate))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(
        otio.schema.Clip(
            name="shot 1",
            media_reference=otio.schema.ExternalReference(
                target_url="media dir/shot 1.mp4",
                available_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(10 * rate, rate)
                ),
            ),
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(rate, rate), otio.opentime.RationalTime(4 * rate, rate)
            ),
        )
    )
    timeline.tracks.append(video)
    append_sfx_track(timeline, tmp_path, rate)
    return timeline


def _urls(path: Path) -> list[str]:
    """Every media reference in a written file, read with that format's own parser."""
    suffix = path.suffix
    if suffix == ".xml":
        return [e.text for e in etree.parse(str(path)).iter("pathurl")]
    if suffix == ".fcpxml":
        return [e.get("src") for e in etree.parse(str(path)).iter("media-rep")]
    if suffix == ".aaf":
        with aaf2.open(str(path)) as f:
            return [loc["URLString"].value for m in f.content.sourcemobs() for loc in m.descriptor["Locator"]]
    project = rpp.loads(path.read_text())
    return [e[1] for e in project.iter() if isinstance(e, list) and e and e[0] == "FILE"]


@pytest.mark.parametrize("suffix", [".xml", ".fcpxml", ".aaf", ".rpp"])
def test_every_reference_is_absolute_in_the_editors_form(tmp_path, suffix):
    timeline = _relative_video_timeline(tmp_path, 25.0)
    out = tmp_path / f"cut{suffix}"  # relative references are relative to OUT's folder
    write_output(timeline, out)
    urls = _urls(out)
    video = tmp_path / "media dir" / "shot 1.mp4"
    if suffix == ".rpp":  # REAPER's own files hold plain absolute paths
        wanted = {str(video), str(tmp_path / "whoosh.wav")}
        assert {u.strip("\"'`") for u in urls} == wanted
        return
    prefix = "file://localhost/" if suffix == ".xml" else "file:///"
    assert urls
    assert all(u.startswith(prefix) and " " not in u for u in urls)
    paths = {unquote(u[len(prefix) - 1 :]) for u in urls}
    assert str(video) in paths
    assert str(tmp_path / "whoosh.wav") in paths
    assert timeline.tracks[0][0].media_reference.target_url == "media dir/shot 1.mp4"  # the input is untouched


@pytest.mark.parametrize("rate", [10.0, 15.0])
@pytest.mark.parametrize("suffix", [".xml", ".fcpxml", ".aaf", ".rpp", ".otio"])
def test_any_frame_rate_exports(tmp_path, rate, suffix):
    timeline = _relative_video_timeline(tmp_path, rate)
    out = tmp_path / f"cut{suffix}"
    check_format(out, timeline)  # the probe before analysis agrees with the write
    write_output(timeline, out)
    adapter = {".xml": "fcp_xml", ".fcpxml": "fcpx_xml", ".aaf": "AAF", ".rpp": None, ".otio": "otio_json"}[suffix]
    if adapter is None:
        text = out.read_text()
        assert re.search(r"POSITION 1\b", text)  # the SFX clip a second in
        return
    back = otio.adapters.read_from_file(str(out), adapter_name=adapter)
    assert any(c.name == "whoosh" for c in back.find_clips())
    if suffix != ".fcpxml":  # the FCPXML reader nests connected clips under the storyline
        items = [i for t in back.tracks for i in t if i.name == "whoosh"]  # a Clip, or AAF's channel Stack
        placed = items[0].range_in_parent()
        assert placed.start_time.to_seconds() == pytest.approx(1.0, abs=1 / rate)
        assert placed.duration.to_seconds() == pytest.approx(2.0, abs=1 / rate)
    if suffix == ".xml":
        assert next(etree.parse(str(out)).iter("timebase")).text == str(int(rate))


def test_errors_name_out_never_the_temp_file(tmp_path, monkeypatch):
    def broken(timeline, path, targets):
        raise ValueError(f"cannot encode {path}")

    monkeypatch.setitem(WRITERS, ".xml", broken)
    timeline = _relative_video_timeline(tmp_path, 24.0)
    out = tmp_path / "cut.xml"
    with pytest.raises(OutputError) as failure:
        write_output(timeline, out)
    assert failure.value.path == str(out)
    assert ".cut." not in str(failure.value)
    with pytest.raises(OutputError) as early:
        check_format(out, timeline)
    assert early.value.path == str(out)
    assert "probe" not in str(early.value)
    assert not out.exists()
    assert not list(tmp_path.glob(".cut.*"))


def test_resolve_track_keys_from_the_clips_each_track_holds(annotated_timeline):
    own = otio.schema.Track(name="Dialog", kind=otio.schema.TrackKind.Audio, metadata={"mine": 1})
    annotated_timeline.tracks.insert(1, own)
    add_resolve_effects(annotated_timeline)
    types = {t.name: t.metadata.get("Resolve_OTIO", {}).get("Audio Type") for t in annotated_timeline.tracks}
    assert types == {"V1": None, "Dialog": None, "SFX 1": "Mono", "SFX 2": "Stereo", "AMB": "Stereo"}
    assert dict(annotated_timeline.tracks[1].metadata) == {"mine": 1}  # the input's own track is untouched
    for _track, clip, meta in generated_clips(annotated_timeline):
        channels = clip.metadata["Resolve_OTIO"]["Channels"]
        assert [c["Source Channel ID"] for c in channels] == list(range(meta["sound"]["channels"]))


def _stereo_aaf_layout(path: Path) -> tuple:
    """How an AAF lays out a stereo clip: the slot's track format, the clip's segment chain down to its
    SourceClips (operation AUIDs), the channels those SourceClips read, and the file descriptor's kind."""
    with aaf2.open(str(path)) as f:
        comp = next(f.content.toplevel())
        for slot in comp.slots:
            found = slot.get("TimelineMobAttributeList") or slot.get("TimelineMobSlotAttributes")  # one AUID, 2 names
            attrs = {a.name: a.value for a in (found.value if found is not None else [])}
            if attrs.get("_TRACK_FORMAT") != 2:
                continue
            segment = slot.segment
            while isinstance(segment, aaf2.components.OperationGroup) and str(segment.operation.auid) != COMBINER:
                segment = segment.segments[0]
            if isinstance(segment, aaf2.components.Sequence):
                segment = next(c for c in segment.components if isinstance(c, aaf2.components.OperationGroup))
            while str(segment.operation.auid) != COMBINER:
                segment = segment.segments[0]
            sources = list(segment.segments)
            file_mob = sources[0].mob.slot_at(1).segment.mob
            summary = bytes(file_mob.descriptor["Summary"].value)
            return (
                2,
                len(sources),
                [s.slot_id for s in sources],
                type(file_mob.descriptor).__name__,
                summary[:4] + summary[8:16],
                len(file_mob.slots),
            )
    raise AssertionError(f"{path}: no stereo track")


@pytest.mark.interop
def test_aaf_stereo_layout_matches_premiere(annotated_timeline, tmp_path):
    out = tmp_path / "cut.aaf"
    conform_media(annotated_timeline, out)  # as annotate does: the FLAC becomes a linked WAV
    write_output(annotated_timeline, out)
    ours = _stereo_aaf_layout(out)
    assert ours == (2, 2, [1, 2], "WAVEDescriptor", b"RIFFWAVEfmt ", 2)
    with aaf2.open(str(out)) as f:
        for op in f.dictionary["OperationDefinitions"].values():
            wanted = {"9d2ea894": {"Amplitude"}, "9d2ea893": {"Pan"}}.get(str(op.auid)[:8])
            if wanted is not None:
                assert {p.name for p in op["ParametersDefined"].value} == wanted
    real = SHARED_INTEROP / "aaf" / "LibAAF_PR_Audio_Levels-noBTM.aaf"
    if not real.is_file():
        pytest.skip(f"{real} is absent (../shared/interop ships with the team's checkout only)")
    assert _stereo_aaf_layout(real) == ours


def _with_scene_marker(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """The fixture as annotate leaves it: a scene marker naming the picks, and a dialog track of the user's."""
    marker = otio.schema.Marker(
        name="SFX: bicycle bell, traffic | AMB: city street",
        marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(96, 24)),
    )
    marker.metadata["soundify"] = {"generated": True, "scene_id": "s0", "scene": 0, "effects": [], "ambients": []}
    timeline.tracks.markers.append(marker)
    return timeline


def _blocks_alike(a: np.ndarray, b: np.ndarray, seconds: float = 1.0, rate: int = 48000) -> int:
    """How many one-second blocks of two stereo renders have both channels' RMS within 1 dB."""
    size = round(seconds * rate)
    alike = 0
    for start in range(0, len(a) - size + 1, size):
        ra = np.sqrt((a[start : start + size] ** 2).mean(axis=0))
        rb = np.sqrt((b[start : start + size] ** 2).mean(axis=0))
        alike += bool(np.all(np.abs(20 * np.log10(np.maximum(rb, 1e-9) / np.maximum(ra, 1e-9))) < 1.0))
    return alike


@pytest.mark.parametrize("suffix", [".xml", ".rpp", ".fcpxml"])
def test_render_reads_our_own_outputs(annotated_timeline, tmp_path, suffix):
    from soundify_otio.preview.render import render_preview
    from soundify_otio.timeline.reading import read_timeline

    timeline = _with_scene_marker(annotated_timeline)
    out = tmp_path / f"cut{suffix}"
    write_output(timeline, out)
    back = read_timeline(out)
    assert not any(t.metadata.get("soundify") for t in back.tracks)  # the format kept none of our metadata
    ours = render_preview(timeline, tmp_path / "original.wav", base_dir=tmp_path)
    theirs = render_preview(back, tmp_path / "read back.wav", base_dir=tmp_path)
    assert theirs.clips == ours.clips
    assert theirs.tracks == ours.tracks
    a, _ = soundfile.read(str(tmp_path / "original.wav"))
    b, _ = soundfile.read(str(tmp_path / "read back.wav"))
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) <= 48000 / 24
    # the same mix: levels, pan and fades recovered from the format; FCPXML butt-joins the repeats
    # and xmeml fades are level keys, so one second (the crossfade) may differ
    assert _blocks_alike(a[:n], b[:n]) >= 7


@pytest.mark.parametrize("suffix", [".xml", ".rpp", ".fcpxml", ".otio"])
def test_reannotating_a_round_trip_replaces_our_tracks(annotated_timeline, tmp_path, suffix):
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.timeline.writeback import strip_generated

    timeline = _with_scene_marker(annotated_timeline)
    dialog = otio.schema.Track(name="AMB", kind=otio.schema.TrackKind.Audio)  # the user's own, named like ours
    tone = write_tone(tmp_path / "dialog.wav", 2.0, 48000, 1)
    two_seconds = otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(48, 24))
    reference = otio.schema.ExternalReference(tone.as_uri(), available_range=two_seconds)
    dialog.append(otio.schema.Clip(name="line 1", media_reference=reference, source_range=two_seconds))
    timeline.tracks.insert(1, dialog)
    out = tmp_path / f"cut{suffix}"
    write_output(timeline, out)
    back = read_timeline(out)
    if suffix == ".otio":  # as Resolve gives it back: only its own track keys survive
        for track in back.tracks:
            track.metadata.pop("soundify", None)
        for clip in back.find_clips():
            clip.metadata.pop("soundify", None)
    strip_generated(back)
    kept = sorted((t.kind, [c.name for c in t.find_clips()]) for t in back.tracks)  # FCPXML: lanes reordered
    assert kept == [("Audio", ["line 1"]), ("Video", ["shot A", "shot B"])]
    assert not [m for m in all_markers(back) if m.name.startswith("SFX:")]


def test_render_reads_our_own_aaf(annotated_timeline, tmp_path):
    from soundify_otio.preview.render import render_preview
    from soundify_otio.timeline.reading import read_timeline

    out = tmp_path / "cut.aaf"
    write_output(annotated_timeline, out)
    back = read_timeline(out)
    assert [t.name for t in back.tracks] == ["V1", "SFX 1", "SFX 2", "AMB"]  # slot names, not "Sequence"
    ours = render_preview(annotated_timeline, tmp_path / "original.wav", base_dir=tmp_path)
    theirs = render_preview(back, tmp_path / "read back.wav", base_dir=tmp_path)
    assert theirs.clips == ours.clips
    a, _ = soundfile.read(str(tmp_path / "original.wav"))
    b, _ = soundfile.read(str(tmp_path / "read back.wav"))
    n = min(len(a), len(b))
    assert _blocks_alike(a[:n], b[:n]) >= 7  # AAF fades are transitions against fillers: close, not identical


def test_fcpxml_formats_and_fades_like_final_cut(annotated_timeline, tmp_path):
    out = tmp_path / "cut.fcpxml"
    write_output(annotated_timeline, out)
    root = etree.parse(str(out)).getroot()
    formats = {f.get("id"): f for f in root.iter("format")}
    sequence_format = formats[root.find(".//sequence").get("format")]
    assert sequence_format.get("name") == "FFVideoFormat1080p24"  # the video is unreadable: 1920x1080 assumed
    audio_clips = [c for c in root.iter("asset-clip") if c.get("audioRole") == "effects"]
    assert audio_clips
    for clip in audio_clips:
        assert formats[clip.get("format")].get("name") == "FFVideoFormatRateUndefined"
        assert clip.find("audio-channel-source") is not None
        keys = clip.findall(".//keyframe")
        assert keys
        assert {k.get("curve") for k in keys} == {"linear"}
    fade_types = {f.tag: f.get("type") for f in root.iter("fadeIn", "fadeOut")}
    assert fade_types == {"fadeIn": "easeIn", "fadeOut": "easeOut"}
    real = SHARED_INTEROP / "fcpxml" / "DAWFileKit_Complex.fcpxml"
    if not real.is_file():
        pytest.skip(f"{real} is absent (../shared/interop ships with the team's checkout only)")
    theirs = etree.parse(str(real)).getroot()
    their_formats = {f.get("id"): f for f in theirs.iter("format")}
    their_sequence = their_formats[theirs.find(".//sequence").get("format")]
    assert list(sequence_format.attrib) == list(their_sequence.attrib)  # id name frameDuration width height colorSpace
    audio_only = [
        c for c in theirs.iter("asset-clip") if c.get("format") and c.find("audio-channel-source") is not None
    ]
    assert audio_only
    assert their_formats[audio_only[0].get("format")].get("name") == "FFVideoFormatRateUndefined"
    assert {f.get("type") for f in theirs.iter("fadeIn")} == {fade_types["fadeIn"]}


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".rpp"])
def test_the_inputs_own_tracks_are_untouched(annotated_timeline, tmp_path, suffix):
    dialog = otio.schema.Track(name="Dialog", kind=otio.schema.TrackKind.Audio, metadata={"editor": {"lane": 3}})
    tone = write_tone(tmp_path / "line.wav", 2.0, 48000, 2)
    span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(48, 24))
    dialog.append(
        otio.schema.Clip(
            name="line 1",
            media_reference=otio.schema.ExternalReference(tone.as_uri(), available_range=span),
            source_range=span,
            metadata={"editor": {"take": 2}},
        )
    )
    annotated_timeline.tracks.insert(1, dialog)
    before = [otio.adapters.write_to_string(t, "otio_json") for t in list(annotated_timeline.tracks)[:2]]
    out = tmp_path / f"cut{suffix}"
    write_output(annotated_timeline, out)
    assert [otio.adapters.write_to_string(t, "otio_json") for t in list(annotated_timeline.tracks)[:2]] == before
    if suffix == ".otio":  # Resolve's and Premiere's keys go on our tracks and clips only
        back = otio.adapters.read_from_file(str(out))
        assert [otio.adapters.write_to_string(t, "otio_json") for t in list(back.tracks)[:2]] == before
        return
    back = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml" if suffix == ".xml" else None)
    line = next(c for c in back.find_clips() if c.name == "line 1")
    assert line.source_range.duration.to_seconds() == pytest.approx(2.0)
    assert not [e for e in line.effects if "Audio Levels" in (e.name or "")]  # no automation added to it


def test_a_failed_write_leaves_no_conformed_media(annotated_timeline, tmp_path, monkeypatch):
    from soundify_otio.exporters import write_with_media

    def broken(timeline, path, targets):
        raise ValueError("disk on fire")

    monkeypatch.setitem(WRITERS, ".aaf", broken)
    out = tmp_path / "cut.aaf"
    with pytest.raises(OutputError):
        write_with_media(annotated_timeline, out)  # the fixture's FLAC would be conformed
    assert not out.exists()
    assert not media_folder(out).exists()
    monkeypatch.undo()
    write_with_media(annotated_timeline, out)
    # the FLAC and the 22.05 kHz WAV are conformed; the 48 kHz WAV is used as it is
    assert out.is_file()
    assert [p.suffix for p in media_folder(out).iterdir()] == [".wav", ".wav"]
