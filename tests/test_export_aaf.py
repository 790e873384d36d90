"""AAF export: read the written file back with pyaaf2 and the stock OTIO AAF adapter."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import aaf2
import opentimelineio as otio
import pytest

from soundify_otio.exporters.aaf import write_aaf
from soundify_otio.timeline.metadata import all_markers, mark_marker, picked_labels

from helpers.timelines import SHARED_INTEROP

GAIN = "9d2ea894-0968-11d3-8a38-0050040ef7d2"
PAN = "9d2ea893-0968-11d3-8a38-0050040ef7d2"
COMBINER = "6b46dd7a-132d-4856-ab21-8b751d8462ec"
RATE = 24


def _channels(descriptor) -> int:
    """Channel count of a sound descriptor: PCM's property, or the WAVE fmt chunk in its Summary."""
    if isinstance(descriptor, aaf2.essence.WAVEDescriptor):
        summary = bytes(descriptor["Summary"].value)
        return int.from_bytes(summary[22:24], "little")
    return descriptor["Channels"].value


def _positions(sequence: aaf2.components.Sequence) -> list[tuple[int, aaf2.components.Component]]:
    """(start frame, component) of each segment; transitions overlap their neighbours."""
    out, pos = [], 0
    for comp in sequence.components:
        if isinstance(comp, aaf2.components.Transition):
            pos -= comp.length
        else:
            out.append((pos, comp))
            pos += comp.length
    return out


def _points(group: aaf2.components.OperationGroup) -> list[tuple[float, float]]:
    (param,) = list(group.parameters)
    return [(float(p.time), float(p.value)) for p in param.pointlist]


def _soundify(timeline: otio.schema.Timeline) -> list[tuple[otio.schema.Track, list[otio.schema.Clip]]]:
    return [
        (t, [c for c in t.find_clips(shallow_search=True) if c.metadata.get("soundify", {}).get("generated")])
        for t in timeline.tracks
        if t.metadata.get("soundify", {}).get("generated")
    ]


@pytest.fixture
def written(annotated_timeline: otio.schema.Timeline, tmp_path: Path) -> Path:
    path = tmp_path / "out.aaf"
    write_aaf(annotated_timeline, path)
    return path


def test_soundify_clips_carry_gain_and_track_pan(annotated_timeline, written):
    with aaf2.open(str(written)) as f:
        comp = next(f.content.toplevel())
        slots = {slot.name: slot for slot in comp.slots}
        assert slots["TC"].segment.start == 86400
        for track, clips in _soundify(annotated_timeline):
            slot = slots[track.name]
            assert slot.edit_rate == RATE
            pan_group = slot.segment
            assert str(pan_group.operation.auid) == PAN
            sequence = pan_group.segments[0]
            pan_points = _points(pan_group)
            groups = [
                (pos, c)
                for pos, c in _positions(sequence)
                if isinstance(c, aaf2.components.OperationGroup) and str(c.operation.auid) == GAIN
            ]
            assert len(groups) == len(clips)
            for clip, (pos, group) in zip(clips, groups):
                meta = clip.metadata["soundify"]
                start = clip.range_in_parent().start_time.to_seconds() * RATE
                end = start + clip.duration().to_seconds() * RATE
                assert pos <= start + 1
                assert pos + group.length >= end - 1
                source = group.segments[0]
                stereo_track = slot["TimelineMobAttributeList"].value[0].value == 2
                if stereo_track:  # Premiere's layout: a channel combiner over one SourceClip per channel
                    assert str(source.operation.auid) == COMBINER
                    channels = list(source.segments)
                    assert [c.slot_id for c in channels] == [1, 2 if meta["sound"]["channels"] == 2 else 1]
                    source = channels[0]
                assert abs(source.start + (start - pos) - clip.source_range.start_time.to_seconds() * RATE) <= 1
                file_mob = source.mob.slot_at(1).segment.mob
                assert file_mob.descriptor["Locator"][0]["URLString"].value == clip.media_reference.target_url
                assert float(file_mob.descriptor["SampleRate"].value) == meta["sound"]["sample_rate"]
                assert _channels(file_mob.descriptor) == meta["sound"]["channels"]
                gain = _points(group)
                for t, db in meta["keyframes"]["gain_db"]:
                    assert any(
                        abs(pos + time * group.length - (start + t * RATE)) <= 1
                        and abs(20 * math.log10(value) - db) <= 0.1
                        for time, value in gain
                    ), (clip.name, t)
                for t, pan in meta["keyframes"]["pan"]:
                    assert any(
                        abs(time * sequence.length - (start + t * RATE)) <= 1 and abs((2 * value - 1) - pan) <= 0.01
                        for time, value in pan_points
                    ), (clip.name, t)


def test_input_tracks_and_soundify_clips_read_back(annotated_timeline, written):
    back = otio.adapters.read_from_file(str(written), adapter_name="AAF")
    assert len(back.tracks) == len(annotated_timeline.tracks)
    for original, read in zip(annotated_timeline.tracks, back.tracks):
        assert read.kind == original.kind
        want = [(c.name, c.range_in_parent()) for c in original.find_clips(shallow_search=True)]
        # a stereo clip reads back as a Stack (the channel combiner), as Premiere's own AAF does
        got = [(c.name, c.range_in_parent()) for c in read if isinstance(c, (otio.schema.Clip, otio.schema.Stack))]
        assert [
            (n, round(r.start_time.to_seconds() * RATE), round(r.duration.to_seconds() * RATE)) for n, r in got
        ] == [(n, round(r.start_time.to_seconds() * RATE), round(r.duration.to_seconds() * RATE)) for n, r in want]
    transitions = [i for i in back.tracks[1] if isinstance(i, otio.schema.Transition)]
    assert any(t.in_offset.to_seconds() > 0 and t.out_offset.to_seconds() > 0 for t in transitions)


def test_stack_markers_are_written_as_media_composer_writes_them(annotated_timeline, tmp_path):
    """Scene markers (and a user's timeline marker) as DescriptiveMarkers in EventMobSlots on V1, read
    back by the stock adapter with their names, colours and picks (the interop export's layout)."""
    scenes = [("SFX: bicycle bell | AMB: rain light", 0.0), ("SFX: no effect | AMB: none", 2.5)]
    for name, start in scenes:
        marker = otio.schema.Marker(
            name=name, marked_range=otio.opentime.TimeRange(otio.opentime.from_seconds(start, RATE)), color="PURPLE"
        )
        mark_marker(marker, {"scene_id": name})
        annotated_timeline.tracks.markers.append(marker)
    annotated_timeline.tracks.markers.append(
        otio.schema.Marker(
            name="client note", marked_range=otio.opentime.TimeRange(otio.opentime.from_frames(90, RATE))
        )
    )
    path = tmp_path / "markers.aaf"
    write_aaf(annotated_timeline, path)
    with aaf2.open(str(path)) as f:
        comp = next(f.content.toplevel())
        picture = next(s for s in comp.slots if s.name == annotated_timeline.video_tracks()[0].name)
        events = [s for s in comp.slots if isinstance(s, aaf2.mobslots.EventMobSlot)]
        points = [s.segment.components[0] for s in events]
        assert [s.slot_id for s in events] == [1001, 1002, 1003]
        assert [p["Comment"].value for p in points] == [name for name, _ in scenes] + ["client note"]
        assert [p["Position"].value for p in points] == [0, round(2.5 * RATE), 90]
        assert all(p["DescribedSlots"].value == {picture.slot_id} for p in points)
    back = otio.adapters.read_from_file(str(path), adapter_name="AAF")
    read = {m.name: m.color for m in all_markers(back) if m.name in {n for n, _ in scenes} | {"client note"}}
    assert read == {scenes[0][0]: "MAGENTA", scenes[1][0]: "MAGENTA", "client note": "RED"}
    assert picked_labels(back) == {"bicycle bell", "rain light"}


def _gain(item: otio.core.Item) -> list:
    """Numeric MonoAudioGain parameters of an item (and the first clip of a nested stack)."""
    effects = list(item.effects)
    if isinstance(item, otio.schema.Stack):
        effects += list(next(iter(item.find_clips())).effects)
    out = []
    for effect in effects:
        aaf = effect.metadata.get("AAF", {})
        if aaf.get("Operation", {}).get("Identification") != GAIN:
            continue
        for name, value in aaf.get("Parameters", {}).items():
            if isinstance(value, str):
                out.append((name, round(float(Fraction(value)), 6)))
            elif hasattr(value, "get") and value.get("_aaf_keyframed_property"):
                out.append((name, tuple((round(t, 6), round(v, 6)) for t, v in value["keyframe_values"])))
    return sorted(out, key=repr)


def _layout(timeline: otio.schema.Timeline) -> list:
    return [
        [
            (
                isinstance(i, otio.schema.Gap),
                i.range_in_parent().start_time.value,
                i.duration().value,
                None if isinstance(i, otio.schema.Gap) else i.name,
                _gain(i),
            )
            for i in track
            if not isinstance(i, otio.schema.Transition)
        ]
        for track in timeline.tracks
    ]


AAF_SAMPLES = sorted((SHARED_INTEROP / "aaf").glob("*.aaf")) if (SHARED_INTEROP / "aaf").is_dir() else []


@pytest.mark.interop
@pytest.mark.skipif(not AAF_SAMPLES, reason=f"no AAF samples in {SHARED_INTEROP / 'aaf'}")
@pytest.mark.parametrize("sample", AAF_SAMPLES, ids=lambda p: p.name)
def test_real_aaf_keeps_clips_and_gain(sample: Path, tmp_path: Path):
    original = otio.adapters.read_from_file(str(sample), adapter_name="AAF")
    out = tmp_path / sample.name
    write_aaf(original, out)
    back = otio.adapters.read_from_file(str(out), adapter_name="AAF")
    assert _layout(back) == _layout(original)
