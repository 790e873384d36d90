"""Final Cut Pro 7 XML (xmeml) with clip "Audio Levels" / "Audio Pan" keyframes (docs/editors.md, FCP7 XML).

The stock otio-fcp-adapter writes the picture and every track; this module then lays out the
soundify clips the way Premiere's own xmeml does:

* A stereo sound is two linked clipitems on an exploded track pair (`premiereTrackType="Stereo"`,
  `currentExplodedTrackIndex` 0 and 1, `<sourcetrack>` 1 and 2, `premiereChannelType="stereo"`,
  `<link>`s naming both), as in interop/fcp7xml/otio-fcp-adapter_premiere_example.xml. An OTIO track
  holding stereo and mono sounds becomes the pair plus a mono track for the mono clips.
* Our tracks carry Premiere's track attributes: `MZ.TrackName` (so the name survives), the exploded
  track indices, `premiereTrackType` ("Mono" with `monotrack="TRUE"` for mono tracks) and its default
  centred panner, as in xmemlsamples "Fade inn og ut.xml" (Premiere CC, havardgulldahl/xmeml).
* Each clipitem carries Premiere-style level and pan filters keyed on the clip's source-media frame
  axis (the axis of `<in>`); both clipitems of a pair carry the same keys. Fades are level keys
  ramping from 0, as Premiere writes them (xmeml has no fade element of its own). Premiere's own stereo
  clipitems carry one "Audio Pan" filter each (and a Balance panner in attributes whose keyframe
  syntax no available export shows), so the pan curve goes into both clipitems' "Audio Pan".
* `<file>` holds the sound's sample rate and channel count; every `<pathurl>` is an absolute
  `file://localhost/...` URL, Premiere's form.
* Timecode at rates SMPTE does not define (10, 15 fps, ...) is written non-drop HH:MM:SS:FF at the
  nominal rate; the stock writer only formats SMPTE rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio
from lxml import etree

from soundify_otio.errors import OutputError
from soundify_otio.exporters.media_urls import fcp7_pathurl
from soundify_otio.exporters.xml_text import sanitise_timeline
from soundify_otio.timeline.keyframes import db_to_gain, densify_db, keys_on_frames, value_at
from soundify_otio.timeline.metadata import ClipInfo, clip_info, is_generated
from soundify_otio.timeline.timecode import timecode

MARK = "soundifyIndex"
"""Temporary clipitem attribute that tells which soundify clip (and channel) an element came from."""
TRACK_MARK = "soundifyTrack"
"""Temporary track attribute: "<track number>:<channel>" for our tracks (channel 0: mono)."""
PANNER = {
    "PannerCurrentValue": "0.5",
    "PannerIsInverted": "true",
    "PannerStartKeyframe": "-91445760000000000,0.5,0,0,0,0,0,0",
}
"""Premiere's centred track panner, as its own exports write it."""
LEVEL_MAX = 3.98109
"""Premiere's Audio Levels ceiling (+12 dB)."""


@dataclass(frozen=True)
class _Tagged:
    info: ClipInfo
    media_in: int
    channel: int
    """0 for a mono clip, 1 or 2 for the clipitems of a stereo pair."""
    seconds: float
    """The clip's length on the timeline (xmeml's in/out also span transition handles)."""


def write_fcp7_xml(timeline: otio.schema.Timeline, path: Path) -> None:
    """Write `timeline` as xmeml to `path`, soundify clips carrying keyframed level and pan."""
    copy, tagged = _adapter_copy(timeline)
    try:
        with _any_rate_timecode():
            text = otio.adapters.write_to_string(copy, "fcp_xml")
    except Exception as exc:  # the adapter raises bare ValueError/KeyError on what it cannot encode
        raise OutputError(f"otio-fcp-adapter cannot write this timeline: {exc}") from exc
    root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(remove_blank_text=True))
    for elem in root.iter("clipitem"):
        index = elem.attrib.pop(MARK, None)
        if index is not None:
            _decorate(elem, tagged[int(index)])
    _explode_pairs(root)
    for url in root.iter("pathurl"):
        url.text = fcp7_pathurl(url.text or "")
    try:
        Path(path).write_bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype="<!DOCTYPE xmeml>")
        )
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}") from exc


@contextmanager
def _any_rate_timecode() -> Iterator[None]:
    """OTIO's timecode formatter, falling back to non-drop HH:MM:SS:FF where SMPTE has no such rate."""
    original = otio.opentime.to_timecode

    def to_timecode(time: otio.opentime.RationalTime, rate: float | None = None, drop_frame: object = None) -> str:
        rate = time.rate if rate is None else rate
        try:
            return original(time, rate) if drop_frame is None else original(time, rate, drop_frame)
        except ValueError:
            return timecode(time.to_seconds(), rate)

    otio.opentime.to_timecode = to_timecode
    try:
        yield
    finally:
        otio.opentime.to_timecode = original


def _adapter_copy(timeline: otio.schema.Timeline) -> tuple[otio.schema.Timeline, list[_Tagged]]:
    """A copy the adapter can write: stereo soundify tracks split into an exploded pair (plus a mono
    track for their mono clips), soundify clips tagged, their audio ranges at the clip rate."""
    copy = timeline.deepcopy()
    sanitise_timeline(copy)
    _comments_to_xml(copy)
    _generators_to_xml(copy)
    for clip in copy.find_clips():
        if not clip.enabled:  # xmeml's own flag, which the adapter's reader keeps as metadata
            clip.metadata["fcp_xml"] = {**clip.metadata.get("fcp_xml", {}), "enabled": "FALSE"}
    tagged: list[_Tagged] = []
    tracks = list(copy.tracks)
    copy.tracks[:] = []
    for number, track in enumerate(tracks):
        for channel, part in _split(track):
            if is_generated(track):
                part.metadata["fcp_xml"] = {"@" + TRACK_MARK: f"{number}:{channel}", "@MZ.TrackName": track.name}
            for clip in part.find_clips(shallow_search=True):
                info = clip_info(clip)
                if info is not None:
                    clip.metadata["fcp_xml"] = {"@" + MARK: str(len(tagged))}
                    tagged.append(_Tagged(info, _media_in(clip), channel, clip.duration().to_seconds()))
            copy.tracks.append(part)
    return copy, tagged


def _split(track: otio.schema.Track) -> list[tuple[int, otio.schema.Track]]:
    """The track as (channel, track) parts: itself (channel 0) unless it is ours and holds stereo
    sounds, then the left and right tracks of the pair and, if any, the mono clips' track."""
    infos = [clip_info(c) for c in track if isinstance(c, otio.schema.Clip)]
    stereo = [i is not None and i.stereo for i in infos]
    if not is_generated(track) or not any(stereo):
        return [(0, track)]
    parts = [(1, _keep(track, True)), (2, _keep(track, True))]
    if not all(stereo):
        parts.append((0, _keep(track, False)))
    return parts


def _keep(track: otio.schema.Track, stereo: bool) -> otio.schema.Track:
    """A copy of the track with only the clips of one channel layout; the others become gaps, and
    transitions beside a removed clip go with it."""
    out = otio.schema.Track(name=track.name, kind=track.kind, metadata=dict(track.metadata))
    items = list(track)
    for i, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            neighbour = items[i - 1] if i else None
            info = clip_info(neighbour) if isinstance(neighbour, otio.schema.Clip) else None
            if info is not None and info.stereo == stereo:
                out.append(item.deepcopy())
            continue
        info = clip_info(item) if isinstance(item, otio.schema.Clip) else None
        if isinstance(item, otio.schema.Clip) and (info is None or info.stereo != stereo):
            out.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=item.duration())))
        else:
            out.append(item.deepcopy())
    return out


def _media_in(clip: otio.schema.Clip) -> int:
    """The clip's in-point in frames of its own rate, counted from the media's first frame; the
    media's available range rescaled to that rate, as the adapter needs."""
    rate = clip.source_range.start_time.rate
    ref = clip.media_reference
    if ref.available_range is None:
        return round(clip.source_range.start_time.value)
    start = ref.available_range.start_time.rescaled_to(rate)
    duration = ref.available_range.duration.rescaled_to(rate)
    ref.available_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(round(start.value), rate), otio.opentime.RationalTime(int(duration.value), rate)
    )
    return round(clip.source_range.start_time.value - round(start.value))


def _comments_to_xml(timeline: otio.schema.Timeline) -> None:
    """Marker comments as xmeml `<comment>`s (the stock writer drops OTIO's Marker.comment)."""
    holders = [timeline.tracks, *timeline.tracks.find_children()]
    for holder in holders:
        for marker in getattr(holder, "markers", []):
            if marker.comment and "comment" not in marker.metadata.get("fcp_xml", {}):
                fcp = dict(marker.metadata.get("fcp_xml", {}))
                fcp["comment"] = marker.comment
                marker.metadata["fcp_xml"] = fcp


def _generators_to_xml(timeline: otio.schema.Timeline) -> None:
    """Give every generator (title, colour matte, bars) not read from xmeml the effect the adapter
    needs to write it as a `<generatoritem>`, as FCP7 does and as the adapter's reader reads back into
    a GeneratorReference (without it the stock writer crashes on the generator's missing URL)."""
    for clip in timeline.find_clips():
        ref = clip.media_reference
        if not isinstance(ref, otio.schema.GeneratorReference) or ref.metadata.get("fcp_xml"):
            continue  # read from xmeml: the adapter writes it back as the editor wrote it (Premiere: a Slug)
        effect: dict[str, str] = {}
        kind = ref.generator_kind or ref.name or clip.name or "Slug"
        effect.setdefault("effecttype", "generator")
        effect.setdefault("mediatype", "video")
        effect.setdefault("effectcategory", _generator_category(kind))
        ref.metadata["fcp_xml"] = effect
        ref.generator_kind = kind
        ref.name = ref.name or clip.name or kind


def _generator_category(kind: str) -> str:
    """FCP7's effect category for a generator kind: "Text" for titles, "Matte" for solid colours."""
    lowered = kind.lower()
    if "text" in lowered or "title" in lowered:
        return "Text"
    if "matte" in lowered or "colo" in lowered or "solid" in lowered:
        return "Matte"
    return "Generators"


def _decorate(clipitem: etree._Element, tagged: _Tagged) -> None:
    """Give a soundify clipitem Premiere's child order, the sound's format and level/pan filters."""
    rate = float(clipitem.findtext("rate/timebase"))
    children = list(clipitem)
    for child in children:
        clipitem.remove(child)
    first: dict[str, etree._Element] = {}
    for child in children:
        first.setdefault(child.tag, child)
    order = ("name", "enabled", "duration", "rate", "start", "end", "in", "out", "file")
    clipitem.extend(first[tag] for tag in order if tag in first)
    file_e = first.get("file")
    if file_e is not None and len(file_e):
        _describe_sound(file_e, tagged.info)
    track = etree.SubElement(clipitem, "sourcetrack")
    etree.SubElement(track, "mediatype").text = "audio"
    etree.SubElement(track, "trackindex").text = str(max(1, tagged.channel))
    if tagged.channel:
        clipitem.set("premiereChannelType", "stereo")
    level = _with_fades(
        [(t, min(LEVEL_MAX, db_to_gain(db))) for t, db in densify_db(tagged.info.gain_db)],
        tagged.info.fade_in,
        tagged.info.fade_out,
        tagged.seconds,
    )
    clipitem.append(
        _filter("Audio Levels", "audiolevels", "level", "Level", 0.0, LEVEL_MAX, 1.0, level, tagged.media_in, rate)
    )
    pan = [(float(t), float(v)) for t, v in tagged.info.pan]
    clipitem.append(_filter("Audio Pan", "audiopan", "pan", "Pan", -1.0, 1.0, 0.0, pan, tagged.media_in, rate))
    clipitem.extend(c for c in children if c.tag not in order and c.tag != "sourcetrack")


def _with_fades(
    level: list[tuple[float, float]], fade_in: float, fade_out: float, length: float
) -> list[tuple[float, float]]:
    """Level keys (linear) with the fades baked in as Premiere writes them: 0 at the clip's edge,
    a linear ramp to the curve's level over the fade (keys inside a fade scaled by it)."""
    if length <= 0 or (fade_in <= 0 and fade_out <= 0):
        return level
    fade_in, fade_out = min(fade_in, length), min(fade_out, length)

    def envelope(t: float) -> float:
        rise = t / fade_in if fade_in > 0 else 1.0
        fall = (length - t) / fade_out if fade_out > 0 else 1.0
        return max(0.0, min(1.0, rise, fall))

    times = sorted({t for t, _ in level} | {0.0, fade_in, length - fade_out, length})
    return [(t, value_at(level, t) * envelope(t)) for t in times if 0.0 <= t <= length]


def _explode_pairs(root: etree._Element) -> None:
    """Premiere's attributes on our tracks, and for each stereo pair `<link>`s joining each clipitem
    to its other channel (link entries by track number and clip number, as Premiere writes them)."""
    audio = root.findall(".//sequence/media/audio/track")
    pairs: dict[str, dict[int, etree._Element]] = {}
    for track in audio:
        mark = track.attrib.pop(TRACK_MARK, None)
        if mark is not None:
            pair, channel = mark.split(":")
            pairs.setdefault(pair, {})[int(channel)] = track
    for pair in pairs.values():
        if 0 in pair:
            mono = pair[0]
            mono.set("monotrack", "TRUE")
            mono.attrib.update({**PANNER, "PannerName": "Pan"})
            mono.attrib.update(
                {"currentExplodedTrackIndex": "0", "totalExplodedTrackCount": "1", "premiereTrackType": "Mono"}
            )
        if 1 not in pair:
            continue
        left, right = pair[1], pair[2]
        for index, track in enumerate((left, right)):
            track.attrib.update({**PANNER, "PannerName": "Balance"})
            track.set("currentExplodedTrackIndex", str(index))
            track.set("totalExplodedTrackCount", "2")
            track.set("premiereTrackType", "Stereo")
        numbers = (audio.index(left) + 1, audio.index(right) + 1)
        lefts, rights = left.findall("clipitem"), right.findall("clipitem")
        for clip_number, (a, b) in enumerate(zip(lefts, rights, strict=True), start=1):
            for item in (a, b):
                for old in item.findall("link"):
                    item.remove(old)
                anchor = next((c for c in item if c.tag in ("logginginfo", "labels", "marker")), None)
                for ref, track_number in ((a, numbers[0]), (b, numbers[1])):
                    link = etree.Element("link")
                    etree.SubElement(link, "linkclipref").text = ref.get("id")
                    etree.SubElement(link, "mediatype").text = "audio"
                    etree.SubElement(link, "trackindex").text = str(track_number)
                    etree.SubElement(link, "clipindex").text = str(clip_number)
                    etree.SubElement(link, "groupindex").text = "1"
                    if anchor is None:
                        item.append(link)
                    else:
                        anchor.addprevious(link)


def _describe_sound(file_e: etree._Element, info: ClipInfo) -> None:
    """Replace the adapter's guessed `<media>` with the sound's sample rate and channel count."""
    media = file_e.find("media")
    if media is None:
        media = etree.SubElement(file_e, "media")
    for child in list(media):
        media.remove(child)
    audio = etree.SubElement(media, "audio")
    chars = etree.SubElement(audio, "samplecharacteristics")
    etree.SubElement(chars, "depth").text = "16"
    etree.SubElement(chars, "samplerate").text = str(info.sound.sample_rate)
    etree.SubElement(audio, "channelcount").text = str(info.sound.channels)


def _filter(
    name: str,
    effect_id: str,
    param_id: str,
    param_name: str,
    vmin: float,
    vmax: float,
    default: float,
    keys: list[tuple[float, float]],
    media_in: int,
    rate: float,
) -> etree._Element:
    """One `<filter>` in Premiere's element order, keys at `media_in` + offset frames."""
    filter_e = etree.Element("filter")
    effect = etree.SubElement(filter_e, "effect")
    for tag, text in (
        ("name", name),
        ("effectid", effect_id),
        ("effectcategory", effect_id),
        ("effecttype", effect_id),
        ("mediatype", "audio"),
    ):
        etree.SubElement(effect, tag).text = text
    param = etree.SubElement(effect, "parameter", authoringApp="PremierePro")
    for tag, text in (
        ("parameterid", param_id),
        ("name", param_name),
        ("valuemin", _num(vmin)),
        ("valuemax", _num(vmax)),
        ("value", _num(default)),
    ):
        etree.SubElement(param, tag).text = text
    for frame, value in keys_on_frames(keys, rate):
        key = etree.SubElement(param, "keyframe")
        etree.SubElement(key, "when").text = str(media_in + frame)
        etree.SubElement(key, "value").text = _num(value)
    return filter_e


def _num(value: float) -> str:
    """A compact decimal for xmeml values."""
    return f"{value:.6g}"
