"""Placements onto the timeline: lanes for overlapping effects, repeats joined by crossfades."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from soundify_otio.timeline.writeback import annotated_copy, strip_generated, with_absolute_media
from soundify_otio.types import Annotation, Placement, Scene, SceneResult, SoundEntry, Suggestion

from helpers.timelines import write_tone

RATE = 25.0


def _entry(path: Path, seconds: float) -> SoundEntry:
    write_tone(path, seconds, 48000, 1)
    return SoundEntry(
        path=path, label=path.stem, kind="effect", text=path.stem, sample_rate=48000, channels=1, duration=seconds
    )


def _placement(sound: SoundEntry, start: float, end: float, kind: str = "effect") -> Placement:
    length = end - start
    return Placement(
        label=sound.label,
        kind=kind,
        sound=sound,
        scene_index=0,
        scene_id="s0",
        start=start,
        end=end,
        score=0.5,
        alternatives=(Suggestion(sound.label, kind, 0.5),),
        pan=((0.0, -1.0), (length, 1.0)),
        gain_db=((0.0, -20.0), (length, 0.0)),
        fade_in=0.25,
        fade_out=0.25,
    )


def _timeline() -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="t", global_start_time=otio.opentime.RationalTime(0, RATE))
    video = otio.schema.Track(name="V1")
    video.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(250, RATE))))
    timeline.tracks.append(video)
    return timeline


def _annotation(*placements: Placement) -> Annotation:
    scene = Scene(0, "s0", 0, 0.0, 10.0, Path("v.mp4"), 0.0)
    result = SceneResult(scene, (), (), tuple(p.label for p in placements), None)
    return Annotation((result,), placements, (), "RN50", "none", True)


def test_short_sound_repeats_with_crossfades_covering_the_interval(tmp_path):
    bell = _entry(tmp_path / "bell.wav", 1.5)
    out = annotated_copy(_timeline(), _annotation(_placement(bell, 2.0, 7.0)))
    sfx = next(t for t in out.tracks if t.name == "SFX 1")
    clips = [i for i in sfx if isinstance(i, otio.schema.Clip)]
    transitions = [i for i in sfx if isinstance(i, otio.schema.Transition)]
    assert len(clips) >= 4
    assert len(transitions) == len(clips) - 1
    assert clips[0].range_in_parent().start_time.to_seconds() == pytest.approx(2.0)
    assert clips[-1].range_in_parent().end_time_exclusive().to_seconds() == pytest.approx(7.0)
    file_frames = 1.5 * RATE
    for clip, after in zip(clips, [*transitions, None]):
        source = clip.source_range
        tail = after.in_offset.value if after is not None else 0
        assert source.start_time.value >= 0
        assert source.end_time_exclusive().value + tail <= file_frames
    for before, transition in zip(clips[1:], transitions):
        assert before.source_range.start_time.value >= transition.out_offset.value  # head handle exists
    metas = [c.metadata["soundify"] for c in clips]
    assert metas[0]["fade_in"] == 0.25
    assert metas[-1]["fade_out"] == 0.25
    assert all(m["fade_out"] == 0.0 for m in metas[:-1])
    assert all(m["fade_in"] == 0.0 for m in metas[1:])
    # the pan sweep continues across the joins: each clip starts where the previous one ended
    pans = [m["keyframes"]["pan"] for m in metas]
    for previous, following in itertools.pairwise(pans):
        assert previous[-1][1] == pytest.approx(following[0][1], abs=1e-6)
    assert pans[0][0][1] == pytest.approx(-1.0)
    assert pans[-1][-1][1] == pytest.approx(1.0)
    assert all(np.all(np.diff([k[1] for k in p]) >= 0) for p in pans)


def test_overlapping_effects_get_their_own_lanes(tmp_path):
    a, b = _entry(tmp_path / "a.wav", 10.0), _entry(tmp_path / "b.wav", 10.0)
    out = annotated_copy(
        _timeline(), _annotation(_placement(a, 1.0, 4.0), _placement(b, 3.0, 6.0), _placement(a, 5.0, 8.0))
    )
    lanes = {t.name: [c.name for c in t.find_clips()] for t in out.tracks if t.name.startswith("SFX")}
    assert lanes == {"SFX 1": ["a", "a"], "SFX 2": ["b"]}


def test_strip_generated_removes_only_soundify_tracks_and_markers(tmp_path):
    a = _entry(tmp_path / "a.wav", 10.0)
    timeline = _timeline()
    timeline.tracks.markers.append(otio.schema.Marker(name="editor's note"))
    out = annotated_copy(timeline, _annotation(_placement(a, 1.0, 4.0)))
    strip_generated(out)
    assert [t.name for t in out.tracks] == ["V1"]
    assert [m.name for m in out.tracks.markers] == ["editor's note"]


def _hit(sound: SoundEntry, onset: float, transient: float, head: float = 0.0) -> Placement:
    start = onset - transient + head
    length = sound.duration - head
    return replace(
        _placement(sound, start, start + length),
        pan=((0.0, 0.4), (length, 0.4)),
        gain_db=((0.0, -3.0), (length, -3.0)),
        fade_in=0.0,
        fade_out=0.0,
        source_start=head,
        onset=onset,
    )


def test_hits_are_single_clips_starting_where_their_transient_meets_the_onset(tmp_path):
    thud = replace(_entry(tmp_path / "thud.wav", 0.6), one_shot=True, transient=0.08)
    hits = (_hit(thud, 1.0, 0.08), _hit(thud, 2.0, 0.08), _hit(thud, 0.04, 0.08, head=0.04))
    result = annotated_copy(_timeline(), _annotation(*hits))
    clips = [c for c in result.tracks[1] if isinstance(c, otio.schema.Clip)]
    assert len(clips) == 3
    assert not [t for t in result.tracks[1] if isinstance(t, otio.schema.Transition)]
    for clip in clips:
        hit = clip.metadata["soundify"]["hit"]
        start = clip.range_in_parent().start_time.to_seconds()
        heard = start + hit["transient"] - clip.source_range.start_time.to_seconds()
        assert abs(heard - hit["onset"]) <= 0.5 / RATE + 1e-9  # on the onset's frame, to half a frame
    trimmed, whole = clips[0], clips[1]  # track order: the hit at 0.04 s had its head cut at the timeline's start
    assert trimmed.source_range.start_time.value == 1
    assert trimmed.range_in_parent().start_time.value == 0
    assert whole.source_range.start_time.value == 0
    assert whole.metadata["soundify"]["fade_in"] == 0.0
    assert whole.source_range.duration.value == round(0.6 * RATE)  # the whole one-shot


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".fcpxml", ".aaf", ".rpp"])
def test_every_exporter_writes_each_hit_as_its_own_clip(tmp_path, suffix):
    from soundify_otio.exporters import write_output

    thud = replace(_entry(tmp_path / "thud.wav", 0.6), one_shot=True, transient=0.08)
    result = annotated_copy(_timeline(), _annotation(*(_hit(thud, t, 0.08) for t in (1.0, 2.0, 3.0, 4.5))))
    out = tmp_path / f"out{suffix}"
    write_output(result, out)
    assert out.is_file()
    assert out.stat().st_size > 0
    if suffix in (".otio", ".xml"):
        back = otio.adapters.read_from_file(str(out))
        starts = sorted(
            round(c.range_in_parent().start_time.to_seconds(), 3) for c in back.find_clips() if c.name == "thud"
        )
        expected = {round(round((t - 0.08) * RATE) / RATE, 3) for t in (1.0, 2.0, 3.0, 4.5)}
        assert len(starts) >= 4
        assert expected <= set(starts)


def test_relative_media_become_absolute_in_a_copy_and_absolute_ones_cost_no_copy(tmp_path):
    def timeline(url: str) -> otio.schema.Timeline:
        track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
        track.append(otio.schema.Clip(name="c", media_reference=otio.schema.ExternalReference(target_url=url)))
        result = otio.schema.Timeline(name="t")
        result.tracks.append(track)
        return result

    elsewhere = tmp_path / "out"
    absolute = timeline((tmp_path / "media" / "a b.mp4").as_uri())
    assert with_absolute_media(absolute, tmp_path, elsewhere) is absolute
    relative = timeline("media/a%20b.mp4")
    assert with_absolute_media(relative, tmp_path, tmp_path) is relative  # written beside the input
    moved = with_absolute_media(relative, tmp_path, elsewhere)
    assert moved is not relative
    assert moved.find_clips()[0].media_reference.target_url == (tmp_path / "media" / "a b.mp4").as_uri()
    assert relative.find_clips()[0].media_reference.target_url == "media/a%20b.mp4"
