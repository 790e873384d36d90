"""Our tracks and their automation, recovered from a timeline an editor (or a reader) gave back.

Editors drop our metadata: Resolve keeps only a few track keys, xmeml has no track names, the
stock readers of our .xml/.rpp outputs return each format's own encoding of the keyframes. This
module finds our tracks by the conventions of timeline/metadata.py and rebuilds each clip's record
(keyframes, fades, the sound's format) from what the format itself carries:

* REAPER take envelopes (the adapter reads them into `metadata["soundify"]["keyframes"]`) and fades;
* FCP7 "Audio Levels" / "Audio Pan" filters (linear level, -1..1 pan, `<when>` on the source axis);
* FCPXML `<adjust-volume>` / `<adjust-panner>` keyframes and fades (`attach_fcpxml_automation`, run
  by read_timeline: the stock reader drops them);
* AAF clip gain (MonoAudioGain Amplitude points, time normalised over the group, which starts a
  transition's overlap before the clip) and track pan (MonoAudioPan, normalised over the track,
  0 = left); a stereo clip the stock reader returns as a Stack (the channel combiner) becomes a clip
  of its first channel again.

Clips whose format carries no automation keep 0 dB and centre pan.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import soundfile

from soundify_otio.audio.headers import BadHeader, checked_info
from soundify_otio.timeline.keyframes import gain_to_db
from soundify_otio.timeline.media import MediaRoots, locate_media
from soundify_otio.timeline.metadata import (
    AAF_GAIN,
    AAF_PAN,
    NAMESPACE,
    ClipInfo,
    FormatAutomation,
    Keys,
    SoundInfo,
    clip_info,
    format_automation,
    is_generated,
    is_our_track,
    mark_track,
    picked_labels,
    set_clip_info,
    set_format_automation,
    track_role,
)


def recovered(timeline: otio.schema.Timeline, base_dir: Path, media_roots: MediaRoots = ()) -> otio.schema.Timeline:
    """A copy of the timeline whose tracks of ours all carry our metadata again (found by name and
    markers where an editor dropped it), every clip on them with a record rebuilt from the format."""
    copy = timeline.deepcopy()
    ambients = picked_labels(copy, "ambient")  # where track names are gone (FCPXML lanes)
    for track in copy.tracks:
        if not isinstance(track, otio.schema.Track) or not is_our_track(track, copy):
            continue
        if not is_generated(track):
            mark_track(track, track_role(track) or "effects")
        _flatten_channel_stacks(track)
        for clip in track.find_clips(shallow_search=True):
            if clip_info(clip) is None:
                _rebuild(clip, track, ambients, base_dir, media_roots)
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


def _rebuild(
    clip: otio.schema.Clip, track: otio.schema.Track, ambients: set[str], base_dir: Path, media_roots: MediaRoots
) -> None:
    duration = clip.duration().to_seconds()
    gain_db, pan = _format_keys(clip)
    aaf_gain, aaf_pan = _aaf_keys(clip, track)
    gain_db, pan = gain_db or aaf_gain, pan or aaf_pan
    read = format_automation(clip)  # REAPER's envelopes, FCPXML's adjust-*, as their readers left them
    gain_db = read.gain_db or gain_db or [[0.0, 0.0], [duration, 0.0]]
    pan = read.pan or pan or [[0.0, 0.0], [duration, 0.0]]
    before, after = _neighbours(clip, track)
    # an item's fade beside a transition is the crossfade itself, which render plays from the transition
    fade_in = (read.fade_in or 0.0) if not before else 0.0
    fade_out = (read.fade_out or 0.0) if not after else 0.0
    set_clip_info(
        clip,
        ClipInfo(
            label=clip.name,
            kind="ambient" if track_role(track) == "ambient" or clip.name in ambients else "effect",
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
        found = _aaf_points(effect, AAF_GAIN)
        if found and found[1]:
            points, length = found
            gain = [[(t * length - head) / rate, gain_to_db(v)] for t, v in points]
    pan: Keys = []
    start = clip.range_in_parent().start_time.to_seconds()
    end = start + clip.duration().to_seconds()
    for effect in track.effects:
        found = _aaf_points(effect, AAF_PAN)
        if found and found[1]:
            points, length = found
            on_track = [(t * length / rate, 2.0 * v - 1.0) for t, v in points]
            inside = [[t - start, v] for t, v in on_track if start - 1e-6 <= t <= end + 1e-6]
            pan = inside if len(inside) >= 1 else []
    return gain, pan


def _linear_level_as_db(keys: Keys, rate: float) -> Keys:
    """xmeml levels interpolate linearly in gain (a fade is a ramp from 0); as dB keys (which render
    interpolates in dB) that needs a key on every frame where the level moves."""
    out = [[keys[0][0], gain_to_db(keys[0][1])]]
    for (t0, v0), (t1, v1) in itertools.pairwise(keys):
        steps = max(1, round((t1 - t0) * rate)) if v0 != v1 else 1
        out.extend([t0 + (t1 - t0) * i / steps, gain_to_db(v0 + (v1 - v0) * i / steps)] for i in range(1, steps + 1))
    return out


def _sound(clip: otio.schema.Clip, base_dir: Path, media_roots: MediaRoots) -> SoundInfo:
    """The clip's sound file as it is on disk (zeros where it cannot be read: render reports it)."""
    ref = clip.media_reference
    url = ref.target_url if isinstance(ref, otio.schema.ExternalReference) else ""
    path = locate_media(url, base_dir, media_roots) if url else Path(clip.name)
    try:
        info = checked_info(path)
        return SoundInfo(str(path), info.samplerate, info.channels, info.duration)
    except (soundfile.LibsndfileError, RuntimeError, OSError, BadHeader):
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
            gain = _linear_level_as_db(keys, rate)
        elif fcp.get("effectid") == "audiopan" and keys:
            pan = [[t, max(-1.0, min(1.0, v))] for t, v in keys if not math.isnan(v)]
    return gain, pan


def attach_fcpxml_automation(timeline: otio.schema.Timeline, path: Path) -> None:
    """What the stock FCPXML reader drops, put back: each clip's media (from its asset's `media-rep`)
    where it gave a MissingReference, each audio clip's volume/pan keyframes and fades as
    `metadata["soundify"]` keyframes (no "generated": `recovered` decides whose clips they are), and
    the sequence's start timecode as global_start_time instead of a leading gap on every track.
    Clips are matched to `<asset-clip>`s by name and timeline position."""
    from lxml import etree

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError):
        return
    sequence = root.find(".//sequence")
    if sequence is None:
        return
    origin = _fcpx_time(sequence.get("tcStart", "0s"))
    rate = 1.0 / float(_fcpx_time(_frame_duration(root, sequence)) or Fraction(1, 24))
    sources = {a.get("id"): a.find("media-rep") for a in root.iter("asset")}
    found: dict[tuple[str, int], tuple[FormatAutomation, str | None]] = {}
    spine = sequence.find("spine")
    for clip in sequence.iter("asset-clip"):
        parent = clip.getparent()
        connected = parent is not None and parent.tag in ("asset-clip", "gap") and parent.getparent() is spine
        if spine is None or not (parent is spine or (connected and clip.get("lane"))):
            continue  # inside a sync-clip or compound: the reader makes that one clip of its own
        start = _fcpx_time(clip.get("offset", "0s"))
        if parent is not spine:  # a connected clip: its offset is in the parent's local time
            start = _fcpx_time(parent.get("offset", "0s")) + start - _fcpx_time(parent.get("start", "0s"))
        rep = sources.get(clip.get("ref"))
        found[(clip.get("name", ""), round(float(start) * rate))] = (
            _fcpx_automation(clip),
            rep.get("src") if rep is not None else None,
        )
    for clip in timeline.find_clips():
        at = clip.range_in_parent().start_time.to_seconds()
        match = found.get((clip.name, round(at * rate))) or found.get((clip.name, round((at + float(origin)) * rate)))
        if match is None:
            continue
        automation, src = match
        if NAMESPACE not in clip.metadata:
            set_format_automation(clip, automation)
        if src and isinstance(clip.media_reference, otio.schema.MissingReference):
            available = clip.media_reference.available_range
            clip.media_reference = otio.schema.ExternalReference(target_url=src, available_range=available)
    _start_timecode_from_gaps(timeline, origin)


def _start_timecode_from_gaps(timeline: otio.schema.Timeline, origin: Fraction) -> None:
    """Where every track opens with a gap of at least the start timecode, shorten it by that much and
    make the timecode the timeline's global_start_time (OTIO's way of saying where the edit starts)."""
    if origin <= 0 or (timeline.global_start_time is not None and timeline.global_start_time.value):
        return
    tracks = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and len(t)]
    if not tracks or not all(isinstance(t[0], otio.schema.Gap) for t in tracks):
        return
    if any(t[0].duration().to_seconds() + 1e-9 < float(origin) for t in tracks):
        return
    for track in tracks:
        gap = track[0]
        rate = gap.duration().rate
        left = gap.duration() - otio.opentime.RationalTime(float(origin) * rate, rate)
        gap.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), left)
    timeline.global_start_time = otio.opentime.RationalTime(
        float(origin) * tracks[0][0].duration().rate, tracks[0][0].duration().rate
    )


def _fcpx_time(text: str) -> Fraction:
    """FCPXML rational seconds ("3600s", "1001/24000s") as a Fraction."""
    return Fraction(text.rstrip("s") or "0")


def _frame_duration(root: Any, sequence: Any) -> str:
    for fmt in root.iter("format"):
        if fmt.get("id") == sequence.get("format") and fmt.get("frameDuration"):
            return str(fmt.get("frameDuration"))
    return "1/24s"


def _fcpx_automation(clip: Any) -> FormatAutomation:
    """Keyframes (seconds from the clip's first frame) and fades of one `<asset-clip>`."""
    local = _fcpx_time(clip.get("start", "0s"))
    keys: dict[str, Keys] = {}
    fades: dict[str, float] = {}
    for tag, key, parse in (
        ("adjust-volume", "gain_db", lambda v: float(v.removesuffix("dB"))),
        ("adjust-panner", "pan", lambda v: float(v) / 100.0),
    ):
        adjust = clip.find(tag)
        if adjust is None:
            continue
        found = [
            [float(_fcpx_time(k.get("time", "0s")) - local), parse(k.get("value", "0"))]
            for k in adjust.iterfind("param[@name='amount']/keyframeAnimation/keyframe")
        ]
        if found:
            keys[key] = found
        for fade, name in (("fadeIn", "fade_in"), ("fadeOut", "fade_out")):
            element = adjust.find(f"param[@name='amount']/{fade}")
            if element is not None:
                fades[name] = float(_fcpx_time(element.get("duration", "0s")))
    if not keys:
        return FormatAutomation()
    return FormatAutomation(keys.get("gain_db", []), keys.get("pan", []), fades.get("fade_in"), fades.get("fade_out"))
