"""Write a run's placements back onto (a copy of) the editor's timeline as new audio tracks.

Layout and metadata follow docs/metadata.md: effect tracks `SFX 1`..`SFX n` (as many as
overlapping effects need), one `AMB` track, one marker per scene on the timeline's stack.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import opentimelineio as otio

from soundify_otio.timeline.metadata import (
    NAMESPACE,
    ClipInfo,
    HitInfo,
    SoundInfo,
    is_our_marker,
    is_our_track,
    mark_marker,
    mark_track,
    set_clip_info,
)
from soundify_otio.timeline.timecode import timeline_rate
from soundify_otio.types import Annotation, Curve, Placement, SceneResult
from soundify_otio.version import __version__


def strip_generated(timeline: otio.schema.Timeline) -> None:
    """Remove the tracks and markers an earlier run added, so re-annotating never stacks two sets;
    they are found by metadata or, after an editor dropped it, by their names (scene markers also
    where a reader attached them to a clip)."""
    for index in range(len(timeline.tracks) - 1, -1, -1):
        if is_our_track(timeline.tracks[index], timeline):
            del timeline.tracks[index]
    for holder in [timeline.tracks, *timeline.tracks.find_children()]:
        markers = getattr(holder, "markers", None)
        if markers is not None and any(is_our_marker(m) for m in markers):
            keep = [m for m in markers if not is_our_marker(m)]
            del markers[:]
            markers.extend(keep)


def with_absolute_media(timeline: otio.schema.Timeline, from_dir: Path, to_dir: Path) -> otio.schema.Timeline:
    """`timeline`, or where it has relative media paths (written for `from_dir`) and the output goes to another
    folder `to_dir`, a copy with them as absolute `file://` URLs, so the output finds the same files wherever
    it is opened from. Nothing to change, no copy (a copy of a long annotated timeline is hundreds of MB)."""
    if from_dir.resolve() == to_dir.resolve() or not any(_relative_url(c) for c in timeline.find_clips()):
        return timeline
    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        url = _relative_url(clip)
        if url is not None:
            clip.media_reference.target_url = (from_dir / unquote(url)).resolve().as_uri()
    return copy


def _relative_url(clip: otio.schema.Clip) -> str | None:
    """The clip's media URL when it is a relative path."""
    reference = clip.media_reference
    if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
        return None
    url = reference.target_url
    return None if urlparse(url).scheme or Path(unquote(url)).is_absolute() else url


def annotated_copy(timeline: otio.schema.Timeline, annotation: Annotation) -> otio.schema.Timeline:
    """The input's content unchanged plus soundify tracks, scene markers and run metadata."""
    result = timeline.deepcopy()
    strip_generated(result)
    rate = timeline_rate(result)
    run = {
        "version": __version__,
        "model": annotation.model,
        "weights": annotation.weights,
        "pipeline_check": annotation.pipeline_check,
    }
    effects = [p for p in annotation.placements if p.kind == "effect"]
    for number, lane in enumerate(_pack(effects, rate), start=1):
        result.tracks.append(_track(f"SFX {number}", "effects", lane, rate, run))
    ambients = [p for p in annotation.placements if p.kind == "ambient"]
    if ambients:
        result.tracks.append(_track("AMB", "ambient", sorted(ambients, key=lambda p: p.start), rate, run))
    for scene in annotation.scenes:
        result.tracks.markers.append(_scene_marker(scene, rate))
    result.metadata[NAMESPACE] = {
        **run,
        "image_tower": dict(annotation.image_tower),
        "scenes": [_scene_record(s) for s in annotation.scenes],
        "skipped_shots": [
            {"clip": s.clip_name, "media": s.media, "reason": s.reason} for s in annotation.skipped_shots
        ],
    }
    return result


def _frames(seconds: float, rate: float) -> int:
    return round(seconds * rate)


def _pack(placements: list[Placement], rate: float) -> list[list[Placement]]:
    """Effects into as few lanes as never overlap (first lane that is free at the start)."""
    lanes: list[list[Placement]] = []
    for placement in sorted(placements, key=lambda p: (p.start, p.end)):
        start = _frames(placement.start, rate)
        lane = next((free for free in lanes if _frames(free[-1].end, rate) <= start), None)
        if lane is None:
            lanes.append([placement])
        else:
            lane.append(placement)
    return lanes


def _track(name: str, role: str, placements: list[Placement], rate: float, run: dict) -> otio.schema.Track:
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    mark_track(track, role)
    cursor = 0
    for placement in placements:
        start, end = _frames(placement.start, rate), _frames(placement.end, rate)
        if end - start < 1:
            continue
        if start > cursor:
            track.append(otio.schema.Gap(source_range=_range(0, start - cursor, rate)))
        for item in _repeats(placement, start, end, rate, run):
            track.append(item)
        cursor = end
    return track


def _range(start: int, duration: int, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(duration, rate))


def _repeats(placement: Placement, start: int, end: int, rate: float, run: dict) -> list[otio.core.Composable]:
    """The placement as clips of its sound; a sound shorter than the span repeats, joined by
    crossfades (Transitions) that use the file's own head and tail as handles."""
    length = int(np.floor(placement.sound.duration * rate))
    total = end - start
    head = _frames(placement.source_start, rate)
    # one clip: a hit, a one-shot placed once, a sound that fits, or one too short to crossfade
    if placement.onset is not None or placement.once or length >= total or length < 4:
        return [_clip(placement, start, start, min(total, max(length - head, 1)), head, rate, run, True, True)]
    half = max(1, min(_frames(placement.fade_in + placement.fade_out, rate) // 2, length // 4))
    spans: list[tuple[int, int]] = []  # (source in, duration) per repeat
    position = 0
    while position < total:
        source_in = 0 if not spans else half
        room = length - source_in - half  # leaves a tail handle for the next crossfade
        remaining = total - position
        if remaining <= length - source_in:
            spans.append((source_in, remaining))
            break
        spans.append((source_in, room))
        position += room
    if len(spans) > 1 and spans[-1][1] < half + 1:  # a last repeat too short for its crossfade
        short = half + 1 - spans[-1][1]
        spans[-2] = (spans[-2][0], spans[-2][1] - short)
        spans[-1] = (spans[-1][0], spans[-1][1] + short)
    items: list[otio.core.Composable] = []
    offset = start
    for i, (source_in, duration) in enumerate(spans):
        if i:
            items.append(
                otio.schema.Transition(
                    name="soundify crossfade",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=otio.opentime.RationalTime(half, rate),
                    out_offset=otio.opentime.RationalTime(half, rate),
                )
            )
        items.append(_clip(placement, start, offset, duration, source_in, rate, run, i == 0, i == len(spans) - 1))
        offset += duration
    return items


def _slice(curve: Curve, origin: float, length: float) -> list[list[float]]:
    """The part of a placement curve under one clip, re-timed to the clip's start, ends included."""
    times = np.array([t for t, _ in curve])
    values = np.array([v for _, v in curve])
    inner = [[round(t - origin, 6), float(v)] for t, v in curve if origin < t < origin + length]
    head = [0.0, float(np.interp(origin, times, values))]
    tail = [round(length, 6), float(np.interp(origin + length, times, values))]
    return [head, *inner, tail]


def _clip(
    placement: Placement,
    placement_start: int,
    start: int,
    duration: int,
    source_in: int,
    rate: float,
    run: dict,
    first: bool,
    last: bool,
) -> otio.schema.Clip:
    sound = placement.sound
    sample_count = round(sound.duration * sound.sample_rate)
    reference = otio.schema.ExternalReference(
        target_url=sound.path.resolve().as_uri(), available_range=_range(0, sample_count, sound.sample_rate)
    )
    clip = otio.schema.Clip(
        name=placement.label, media_reference=reference, source_range=_range(source_in, duration, rate)
    )
    origin = (start - placement_start) / rate
    info = ClipInfo(
        label=placement.label,
        kind=placement.kind,
        score=round(placement.score, 6),
        alternatives=[[s.label, round(s.score, 6)] for s in placement.alternatives],
        scene=placement.scene_index,
        scene_id=placement.scene_id,
        model=run["model"],
        weights=run["weights"],
        pipeline_check=run["pipeline_check"],
        sound=SoundInfo(str(sound.path.resolve()), sound.sample_rate, sound.channels, sound.duration),
        pan=_slice(placement.pan, origin, duration / rate),
        gain_db=_slice(placement.gain_db, origin, duration / rate),
        fade_in=placement.fade_in if first else 0.0,
        fade_out=placement.fade_out if last else 0.0,
        hit=HitInfo(placement.onset, sound.transient or 0.0) if placement.onset is not None else None,
    )
    set_clip_info(clip, info)
    return clip


def _scene_marker(scene: SceneResult, rate: float) -> otio.schema.Marker:
    """A marker over the scene named for its picks; the comment lists the ranked candidates."""
    picks = ", ".join(scene.picked_effects) or "no effect"
    name = f"SFX: {picks} | AMB: {scene.picked_ambient or 'none'}"
    comment = "effects: " + ", ".join(f"{s.label} {s.score:.2f}" for s in scene.effects)
    comment += " / ambients: " + ", ".join(f"{s.label} {s.score:.2f}" for s in scene.ambients)
    comment += "".join(f" / {note}" for note in scene.notes)
    start = _frames(scene.scene.start, rate)
    marker = otio.schema.Marker(
        name=name,
        marked_range=_range(start, max(1, _frames(scene.scene.end, rate) - start), rate),
        color=otio.schema.MarkerColor.PURPLE,
        comment=comment,
    )
    mark_marker(
        marker,
        {
            "scene_id": scene.scene.id,
            "scene": scene.scene.index,
            "effects": [[s.label, round(s.score, 6)] for s in scene.effects],
            "ambients": [[s.label, round(s.score, 6)] for s in scene.ambients],
            **({"notes": list(scene.notes)} if scene.notes else {}),
        },
    )
    return marker


def _scene_record(scene: SceneResult) -> dict:
    return {
        "id": scene.scene.id,
        "index": scene.scene.index,
        "start": round(scene.scene.start, 6),
        "end": round(scene.scene.end, 6),
        "effects": [[s.label, round(s.score, 6)] for s in scene.effects],
        "ambients": [[s.label, round(s.score, 6)] for s in scene.ambients],
        "picks": {"effects": list(scene.picked_effects), "ambient": scene.picked_ambient},
        "intervals": {
            label: [[round(i.start, 6), round(i.end, 6)] for i in found] for label, found in scene.intervals.items()
        },
        **({"notes": list(scene.notes)} if scene.notes else {}),
    }
