"""Our tracks and their automation, recovered from a timeline an editor (or a reader) gave back.

Editors drop our metadata: Resolve keeps only a few track keys, xmeml has no track names, the
stock readers of our .xml/.rpp outputs return each format's own encoding of the keyframes. This
module finds our tracks by the conventions of timeline/metadata.py and rebuilds each clip's record
(keyframes, fades, the sound's format) from what the format itself carries:

* REAPER take envelopes (the adapter reads them into `metadata["soundify"]["keyframes"]`) and fades;
* FCP7 "Audio Levels" / "Audio Pan" filters (linear level, -1..1 pan, `<when>` on the source axis);
* AAF clip gain (MonoAudioGain Amplitude points, time normalised over the group, which starts a
  transition's overlap before the clip) and track pan (MonoAudioPan, normalised over the track,
  0 = left); a stereo clip the stock reader returns as a Stack (the channel combiner) becomes a clip
  of its first channel again.

Clips whose format carries no automation keep 0 dB and centre pan.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import opentimelineio as otio
import soundfile

from soundify_otio.exporters.keyframes import gain_to_db
from soundify_otio.timeline.metadata import (
    NAMESPACE,
    ClipInfo,
    SoundInfo,
    clip_info,
    is_generated,
    is_our_track,
    mark_track,
    set_clip_info,
    track_role,
)
from soundify_otio.timeline.reading import MediaRoots, resolve_media_path

Keys = list[list[float]]


def recovered(timeline: otio.schema.Timeline, base_dir: Path, media_roots: MediaRoots = ()) -> otio.schema.Timeline:
    """A copy of the timeline whose tracks of ours all carry our metadata again (found by name and
    markers where an editor dropped it), every clip on them with a record rebuilt from the format."""
    copy = timeline.deepcopy()
    for track in copy.tracks:
        if not isinstance(track, otio.schema.Track) or not is_our_track(track, copy):
            continue
        if not is_generated(track):
            mark_track(track, track_role(track) or "effects")
        _flatten_channel_stacks(track)
        for clip in track.find_clips(shallow_search=True):
            if clip_info(clip) is None:
                _rebuild(clip, track, base_dir, media_roots)
    return copy


def _flatten_channel_stacks(track: otio.schema.Track) -> None:
    """Each Stack item (a stereo clip as the stock AAF reader returns it) replaced by a clip of its
    first channel over the stack's range, carrying the stack's effects."""
    for index, item in enumerate(list(track)):
        if not isinstance(item, otio.schema.Stack):
            continue
        inner = next(iter(item.find_clips()), None)
        if inner is None:
            continue
        clip = inner.deepcopy()
        clip.source_range = otio.opentime.TimeRange(inner.trimmed_range().start_time, item.duration())
        clip.effects[:] = [e.deepcopy() for e in item.effects] + [e.deepcopy() for e in inner.effects]
        clip.name = item.name or inner.name
        del track[index]
        track.insert(index, clip)


def _rebuild(clip: otio.schema.Clip, track: otio.schema.Track, base_dir: Path, media_roots: MediaRoots) -> None:
    duration = clip.duration().to_seconds()
    gain_db, pan = _format_keys(clip)
    aaf_gain, aaf_pan = _aaf_keys(clip, track)
    gain_db, pan = gain_db or aaf_gain, pan or aaf_pan
    own = clip.metadata.get(NAMESPACE)
    keys = own.get("keyframes", {}) if hasattr(own, "get") else {}
    gain_db = _keys(keys.get("gain_db")) or gain_db or [[0.0, 0.0], [duration, 0.0]]
    pan = _keys(keys.get("pan")) or pan or [[0.0, 0.0], [duration, 0.0]]
    rpp = clip.metadata.get("rpp")
    before, after = _neighbours(clip, track)
    # an item's fade beside a transition is the crossfade itself, which render plays from the transition
    fade_in = float(rpp.get("fade_in", 0.0)) if hasattr(rpp, "get") and not before else 0.0
    fade_out = float(rpp.get("fade_out", 0.0)) if hasattr(rpp, "get") and not after else 0.0
    set_clip_info(
        clip,
        ClipInfo(
            label=clip.name,
            kind="ambient" if track_role(track) == "ambient" else "effect",
            score=0.0,
            alternatives=[],
            scene=0,
            scene_id="",
            model="",
            weights="",
            pipeline_check=False,
            sound=_sound(clip, base_dir, media_roots),
            pan=pan,
            gain_db=gain_db,
            fade_in=fade_in,
            fade_out=fade_out,
        ),
    )


def _neighbours(clip: otio.schema.Clip, track: otio.schema.Track) -> tuple[bool, bool]:
    """Whether a transition comes right before / after the clip on its track."""
    items = list(track)
    i = next(n for n, item in enumerate(items) if item is clip or item == clip)
    before = i > 0 and isinstance(items[i - 1], otio.schema.Transition)
    after = i + 1 < len(items) and isinstance(items[i + 1], otio.schema.Transition)
    return before, after


_AAF_GAIN = "9d2ea894-0968-11d3-8a38-0050040ef7d2"
_AAF_PAN = "9d2ea893-0968-11d3-8a38-0050040ef7d2"


def _aaf_points(effect: otio.schema.Effect, op_id: str) -> tuple[list[tuple[float, float]], float] | None:
    """(normalised time, value) points of an AAF gain/pan effect as the stock reader keeps them, and
    the length of the group they are normalised over (edit units)."""
    aaf = effect.metadata.get("AAF")
    if not hasattr(aaf, "get") or str(aaf.get("Operation", {}).get("Identification", "")) != op_id:
        return None
    for value in aaf.get("Parameters", {}).values():
        if hasattr(value, "get") and value.get("_aaf_keyframed_property"):
            points = [(float(t), float(v)) for t, v in value.get("keyframe_values", [])]
            return points, float(aaf.get("Length") or 0)
    return None


def _aaf_keys(clip: otio.schema.Clip, track: otio.schema.Track) -> tuple[Keys, Keys]:
    """(gain_db, pan) keys from the clip's AAF gain group and its track's pan group."""
    rate = clip.duration().rate
    items = list(track)
    index = next(n for n, item in enumerate(items) if item is clip or item == clip)
    before = items[index - 1] if index and isinstance(items[index - 1], otio.schema.Transition) else None
    head = before.in_offset.rescaled_to(rate).value if before is not None else 0.0
    gain: Keys = []
    for effect in clip.effects:
        found = _aaf_points(effect, _AAF_GAIN)
        if found and found[1]:
            points, length = found
            gain = [[(t * length - head) / rate, gain_to_db(v)] for t, v in points]
    pan: Keys = []
    start = clip.range_in_parent().start_time.to_seconds()
    end = start + clip.duration().to_seconds()
    for effect in track.effects:
        found = _aaf_points(effect, _AAF_PAN)
        if found and found[1]:
            points, length = found
            on_track = [(t * length / rate, 2.0 * v - 1.0) for t, v in points]
            inside = [[t - start, v] for t, v in on_track if start - 1e-6 <= t <= end + 1e-6]
            pan = inside if len(inside) >= 1 else []
    return gain, pan


def _keys(raw: Any) -> Keys:
    try:
        return [[float(t), float(v)] for t, v in raw] if raw else []
    except (TypeError, ValueError):
        return []


def _sound(clip: otio.schema.Clip, base_dir: Path, media_roots: MediaRoots) -> SoundInfo:
    """The clip's sound file as it is on disk (zeros where it cannot be read: render reports it)."""
    ref = clip.media_reference
    url = ref.target_url if isinstance(ref, otio.schema.ExternalReference) else ""
    path = resolve_media_path(url, base_dir, media_roots) if url else Path(clip.name)
    try:
        info = soundfile.info(str(path))
        return SoundInfo(str(path), info.samplerate, info.channels, info.duration)
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        return SoundInfo(str(path), 48000, 1, 0.0)


def _format_keys(clip: otio.schema.Clip) -> tuple[Keys, Keys]:
    """(gain_db, pan) keys from the clip's FCP7 filters, seconds from the clip's first frame."""
    gain: Keys = []
    pan: Keys = []
    rate = clip.source_range.start_time.rate if clip.source_range else 24.0
    media_in = clip.source_range.start_time.value if clip.source_range else 0.0
    available = clip.media_reference.available_range if clip.media_reference else None
    if available is not None:
        media_in -= available.start_time.rescaled_to(rate).value
    for effect in clip.effects:
        fcp = effect.metadata.get("fcp_xml")
        if not hasattr(fcp, "get"):
            continue
        parameter = fcp.get("parameter")
        if not hasattr(parameter, "get"):
            continue
        frames = parameter.get("keyframe") or []
        frames = [frames] if hasattr(frames, "get") else list(frames)
        keys = [[(float(k["when"]) - media_in) / rate, float(k["value"])] for k in frames]
        if fcp.get("effectid") == "audiolevels" and keys:
            gain = [[t, gain_to_db(v)] for t, v in keys]
        elif fcp.get("effectid") == "audiopan" and keys:
            pan = [[t, max(-1.0, min(1.0, v))] for t, v in keys if not math.isnan(v)]
    return gain, pan
