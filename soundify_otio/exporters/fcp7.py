"""Final Cut Pro 7 XML (xmeml) with clip "Audio Levels" / "Audio Pan" keyframes (INTERCHANGE 3).

The stock otio-fcp-adapter writes the picture and every track; this module then adds, per soundify
clipitem, Premiere-style level and pan filters keyed on the clip's source-media frame axis (the axis
of `<in>`), and the sound's sample rate and channel count to its `<file>`.
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
from lxml import etree

from soundify_otio.errors import OutputError
from soundify_otio.exporters.keyframes import db_to_gain, densify_db, soundify_clips

MARK = "soundifyIndex"
"""Temporary clipitem attribute that tells which soundify clip an element came from."""
LEVEL_MAX = 3.98109
"""Premiere's Audio Levels ceiling (+12 dB)."""


def write_fcp7_xml(timeline: otio.schema.Timeline, path: Path) -> None:
    """Write `timeline` as xmeml to `path`, soundify clips carrying keyframed level and pan."""
    copy, metas = _adapter_copy(timeline)
    try:
        text = otio.adapters.write_to_string(copy, "fcp_xml")
    except Exception as exc:  # the adapter raises bare ValueError/KeyError on what it cannot encode
        raise OutputError(f"otio-fcp-adapter cannot write this timeline: {exc}", path) from exc
    root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(remove_blank_text=True))
    for elem in root.iter("clipitem"):
        index = elem.attrib.pop(MARK, None)
        if index is not None:
            _decorate(elem, *metas[int(index)])
    try:
        Path(path).write_bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True, doctype="<!DOCTYPE xmeml>")
        )
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", path) from exc


def _adapter_copy(timeline: otio.schema.Timeline) -> tuple[otio.schema.Timeline, list[tuple[dict, int]]]:
    """A copy the adapter can write: soundify clips tagged, their audio ranges at the clip rate."""
    copy = timeline.deepcopy()
    _comments_to_xml(copy)
    metas = []
    for index, (_track, clip, meta) in enumerate(soundify_clips(copy)):
        rate = clip.source_range.start_time.rate
        ref = clip.media_reference
        if ref.available_range is not None:
            start = ref.available_range.start_time.rescaled_to(rate)
            duration = ref.available_range.duration.rescaled_to(rate)
            ref.available_range = otio.opentime.TimeRange(
                otio.opentime.RationalTime(round(start.value), rate),
                otio.opentime.RationalTime(int(duration.value), rate),
            )
            media_in = clip.source_range.start_time.value - round(start.value)
        else:
            media_in = clip.source_range.start_time.value
        clip.metadata["fcp_xml"] = {"@" + MARK: str(index)}
        metas.append((meta, round(media_in)))
    return copy, metas


def _comments_to_xml(timeline: otio.schema.Timeline) -> None:
    """Marker comments as xmeml `<comment>`s (the stock writer drops OTIO's Marker.comment)."""
    holders = [timeline.tracks, *timeline.tracks.find_children()]
    for holder in holders:
        for marker in getattr(holder, "markers", []):
            if marker.comment and "comment" not in marker.metadata.get("fcp_xml", {}):
                fcp = dict(marker.metadata.get("fcp_xml", {}))
                fcp["comment"] = marker.comment
                marker.metadata["fcp_xml"] = fcp


def _decorate(clipitem: etree._Element, meta: dict, media_in: int) -> None:
    """Give a soundify clipitem Premiere's child order, the sound's format and level/pan filters."""
    rate = float(clipitem.findtext("rate/timebase"))
    children = list(clipitem)
    for child in children:
        clipitem.remove(child)
    first = {}
    for child in children:
        first.setdefault(child.tag, child)
    order = ("name", "enabled", "duration", "rate", "start", "end", "in", "out", "file")
    clipitem.extend(first[tag] for tag in order if tag in first)
    file_e = first.get("file")
    if file_e is not None and len(file_e):
        _describe_sound(file_e, meta["sound"])
    track = etree.SubElement(clipitem, "sourcetrack")
    etree.SubElement(track, "mediatype").text = "audio"
    etree.SubElement(track, "trackindex").text = "1"
    keys = meta["keyframes"]
    level = [(t, min(LEVEL_MAX, db_to_gain(db))) for t, db in densify_db(keys["gain_db"])]
    clipitem.append(
        _filter("Audio Levels", "audiolevels", "level", "Level", 0.0, LEVEL_MAX, 1.0, level, media_in, rate)
    )
    clipitem.append(
        _filter(
            "Audio Pan",
            "audiopan",
            "pan",
            "Pan",
            -1.0,
            1.0,
            0.0,
            [(float(t), float(v)) for t, v in keys["pan"]],
            media_in,
            rate,
        )
    )
    clipitem.extend(c for c in children if c.tag not in order and c.tag != "sourcetrack")


def _describe_sound(file_e: etree._Element, sound: dict) -> None:
    """Replace the adapter's guessed `<media>` with the sound's sample rate and channel count."""
    media = file_e.find("media")
    if media is None:
        media = etree.SubElement(file_e, "media")
    for child in list(media):
        media.remove(child)
    audio = etree.SubElement(media, "audio")
    chars = etree.SubElement(audio, "samplecharacteristics")
    etree.SubElement(chars, "depth").text = "16"
    etree.SubElement(chars, "samplerate").text = str(int(sound["sample_rate"]))
    etree.SubElement(audio, "channelcount").text = str(int(sound["channels"]))


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
    seen: set[int] = set()
    for t, value in keys:
        when = media_in + round(t * rate)
        if when in seen:
            continue
        seen.add(when)
        key = etree.SubElement(param, "keyframe")
        etree.SubElement(key, "when").text = str(when)
        etree.SubElement(key, "value").text = _num(value)
    return filter_e


def _num(value: float) -> str:
    """A compact decimal for xmeml values."""
    return f"{value:.6g}"
