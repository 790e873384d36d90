"""REAPER project (.rpp) writing and reading for OTIO timelines.

Writing: one REAPER track per OTIO track (name kept), every clip an ``<ITEM>`` with POSITION and
LENGTH in seconds of track time (0 = the stack's first frame; the timeline's start timecode goes to
``PROJOFFS``), SOFFS (seconds into the media), NAME, FADEIN/FADEOUT and a ``<SOURCE>`` (VIDEO for
video tracks and video files, else WAVE/FLAC/MP3/VORBIS/OPUS by extension) with the media's FILE.
An OTIO transition becomes overlapping items: the item before it runs on to the transition's end,
the item after it starts (and its SOFFS) at the transition's start, each with a fade as long as the
transition (REAPER crossfades overlapping items).

Soundify clips also get take envelopes after their SOURCE, times in seconds from the item start
(shifted by the item's head overlap), linear shape:

* ``<VOLENV``: linear amplitude 10^(dB/20), no VOLTYPE line, so the values are plain amplitude
  (docs/editors.md, REAPER); capped at +24 dB, the largest volume range REAPER offers (its own files hold
  take volume up to +18 dB; the range is a preference of +6/+12/+24 dB), not at +6 dB.
* ``<PANENV``: REAPER's pan envelope runs +1 = left, -1 = right, the opposite of item/track pan
  (docs/editors.md, REAPER: inferred from an AAF->RPP importer that negates pan "otherwise panning is
  reversed"), so the value written is -pan (ours: -1 = left).

The project's frame rate goes to the header's ``TIMEMODE`` line (see _reaper_frame_rate).

Reading: each ``<TRACK>`` (or a bare ``<TRACK>`` chunk) becomes an OTIO track, video if all its
items have VIDEO sources. Items become clips (a muted item a disabled clip) of the first take
(source_range = SOFFS, LENGTH at the project's TIMEMODE rate, else the given ``rate``), with
``metadata["rpp"]`` (fades, source type, VOLPAN). Items overlapping by at most half of either become
a transition cut at the overlap's middle (the inverse of writing); other overlapping items go to
extra tracks named "<track> (overlap n)", so no item is lost. Take VOLENV / PANENV points become
``metadata["soundify"]["keyframes"]`` (gain_db / pan, seconds from the clip's first frame, same
conventions as above; VOLTYPE is recorded in ``metadata["rpp"]`` but the values are read as
amplitude).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from pathlib import PurePath

import opentimelineio as otio
import rpp

from soundify_otio.errors import TimelineError
from soundify_otio.timeline.keyframes import db_to_gain, gain_to_db
from soundify_otio.timeline.metadata import FormatAutomation, clip_info, set_format_automation
from soundify_otio.timeline.timecode import timeline_rate

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mxf", ".webm", ".mpg", ".mpeg"}
SOURCE_TYPES = {
    ".wav": "WAVE",
    ".wave": "WAVE",
    ".bwf": "WAVE",
    ".w64": "WAVE",
    ".aif": "WAVE",
    ".aiff": "WAVE",
    ".flac": "FLAC",
    ".mp3": "MP3",
    ".ogg": "VORBIS",
    ".opus": "OPUS",
}
MAX_AMPLITUDE = 10.0 ** (24.0 / 20.0)
"""+24 dB: the top of REAPER's widest volume range."""
_NS = uuid.UUID("6f1c2f51-4d0e-4a53-9a52-3f4e8b0b7a11")


# ----------------------------------------------------------------------------------------- writing


def write_rpp(timeline: otio.schema.Timeline) -> str:
    """The timeline as the text of a REAPER project."""
    lines = ['<REAPER_PROJECT 0.1 "7.0/soundify-otio" 0']
    start = timeline.global_start_time
    lines.append(f"  PROJOFFS {_num(start.to_seconds() if start is not None else 0.0)} 0 0")
    base, drop = _reaper_frame_rate(timeline_rate(timeline))
    lines.append(f"  TIMEMODE 1 5 -1 {base} {drop} 0 -1")
    for t_index, track in enumerate(timeline.tracks):
        lines += ["  <TRACK", f"    NAME {_quote(track.name)}", "    VOLPAN 1 0 -1 -1 1"]
        items = list(track)
        for i, item in enumerate(items):
            if isinstance(item, otio.schema.Clip):
                lines += _item_lines(track, items, i, f"{t_index}:{i}")
            elif isinstance(item, otio.schema.Stack):
                start = item.range_in_parent().start_time.to_seconds()
                log.warning(
                    "REAPER project cannot hold a nested stack: '%s' on track '%s' at %.3f s left out",
                    item.name,
                    track.name,
                    start,
                )
        lines.append("  >")
    lines.append(">")
    return "\n".join(lines) + "\n"


# REAPER keeps the project frame rate (Project Settings > Video > Frame rate) as the 4th and 5th values of the
# project header's ``TIMEMODE`` line: the nominal rate and REAPER's ``projfrdrop`` flag (0: the nominal rate, 1:
# 29.97 drop-frame, 2: the NTSC rate base*1000/1001 without drop, i.e. 23.976 or 29.97 ND). Documented by the
# Ultraschall API for REAPER (ultraschall_video_engine.lua, ProjectSettings_Get/SetVideoFramerate: projfrbase /
# projfrdrop 0, 1, 2) and written so by a REAPER AAF importer (RppWriter.cpp: ``TIMEMODE 1 5 -1 <fps> <drop> 0
# -1``); REAPER's own projects (interop/rpp) carry its default, ``TIMEMODE 1 5 -1 30 0 0 -1``. 29.97 is written as
# (30, 2) (non-drop: our timecode is NDF) and read back as 30000/1001 from 1 or 2.
def _reaper_frame_rate(rate: float) -> tuple[int, int]:
    """A frame rate as REAPER's project pair (base, drop): 30000/1001 -> (30, 2), 24000/1001 -> (24, 2),
    25 -> (25, 0). See the note above."""
    base = round(rate)
    ntsc = abs(rate - base * 1000 / 1001) < abs(rate - base) and base % 6 == 0
    return base, 2 if ntsc else 0


def _item_lines(track: otio.schema.Track, items: list, i: int, key: str) -> list[str]:
    """The <ITEM> chunk of clip items[i], indented for a track."""
    clip = items[i]
    before = items[i - 1] if i > 0 and isinstance(items[i - 1], otio.schema.Transition) else None
    after = items[i + 1] if i + 1 < len(items) and isinstance(items[i + 1], otio.schema.Transition) else None
    head = before.in_offset.to_seconds() if before else 0.0
    tail = after.out_offset.to_seconds() if after else 0.0
    record = clip_info(clip)
    fade_in = before.duration().to_seconds() if before else record.fade_in if record else 0.0
    fade_out = after.duration().to_seconds() if after else record.fade_out if record else 0.0
    trimmed = clip.trimmed_range()
    offset = trimmed.start_time.to_seconds()
    if clip.media_reference.available_range is not None:
        offset -= clip.media_reference.available_range.start_time.to_seconds()
    lines = [
        "    <ITEM",
        f"      POSITION {_num(clip.range_in_parent().start_time.to_seconds() - head)}",
        f"      LENGTH {_num(trimmed.duration.to_seconds() + head + tail)}",
        f"      FADEIN 1 {_num(fade_in)} 0",
        f"      FADEOUT 1 {_num(fade_out)} 0",
        f"      MUTE {0 if clip.enabled else 1} 0",
        f"      NAME {_quote(clip.name)}",
        "      VOLPAN 1 0 1 -1",
        f"      SOFFS {_num(offset - head)}",
    ]
    path = _media_path(clip)
    kind = _source_kind(track, path)
    lines += (
        [f"      <SOURCE {kind}", f"        FILE {_quote(path)}", "      >"]
        if path
        else ["      <SOURCE EMPTY", "      >"]
    )
    if record is not None:
        gains = [(t + head, min(MAX_AMPLITUDE, db_to_gain(v))) for t, v in record.gain_db]
        pans = [(t + head, -v) for t, v in record.pan]
        lines += _envelope("VOLENV", gains, f"{key}:vol") + _envelope("PANENV", pans, f"{key}:pan")
    lines.append("    >")
    return lines


def _envelope(tag: str, points: list[tuple[float, float]], key: str) -> list[str]:
    """A take envelope chunk with linear points."""
    return [
        f"      <{tag}",
        f"        EGUID {{{str(uuid.uuid5(_NS, key)).upper()}}}",
        "        ACT 1 -1",
        "        VIS 1 1 1",
        "        LANEHEIGHT 0 0",
        "        ARM 0",
        "        DEFSHAPE 0 -1 -1",
        *(f"        PT {_num(t)} {_num(v)} 0" for t, v in points),
        "      >",
    ]


def _media_path(clip: otio.schema.Clip) -> str:
    ref = clip.media_reference
    url = getattr(ref, "target_url", None)
    if not url:
        return ""
    return otio.url_utils.filepath_from_url(url) if url.startswith("file:") else url


def _source_kind(track: otio.schema.Track, path: str) -> str:
    suffix = PurePath(path).suffix.lower()
    if track.kind == otio.schema.TrackKind.Video or suffix in VIDEO_SUFFIXES:
        return "VIDEO"
    return SOURCE_TYPES.get(suffix, "WAVE")


def _num(value: float) -> str:
    return f"{value:.12g}"


def _quote(text: str) -> str:
    """A REAPER string token: quoted with whichever quote character the text does not contain.

    A project line has no escapes, so line breaks and other control characters (which would end the
    line and let the rest of a name be read as chunks of its own) become spaces, and a text holding
    all three quote characters has its double quotes turned into single ones.
    """
    text = "".join(" " if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" else c for c in text)
    for q in ('"', "'", "`"):
        if q not in text:
            return f"{q}{text}{q}"
    return '"' + text.replace('"', "'") + '"'


# ----------------------------------------------------------------------------------------- reading


@dataclass
class _Item:
    """One REAPER item as read, in seconds."""

    position: float
    length: float
    soffs: float
    name: str
    source_kind: str
    path: str
    fade_in: float
    fade_out: float
    volpan: list[float]
    voltype: int | None = None
    gain_db: list[list[float]] = field(default_factory=list)
    pan: list[list[float]] = field(default_factory=list)
    head: float = 0.0
    muted: bool = False

    @property
    def end(self) -> float:
        return self.position + self.length


def read_rpp(text: str, rate: float = 24.0, source: str = "<string>") -> otio.schema.Timeline:
    """A REAPER project (or a bare <TRACK> chunk) as an OTIO timeline at the given frame rate."""
    try:
        root = rpp.loads(text)
    except Exception as exc:  # the rpp parser raises bare exceptions of several kinds
        raise TimelineError(f"not a REAPER project: {exc}", source) from exc
    if root.tag == "TRACK":
        tracks = [root]
    elif root.tag == "REAPER_PROJECT":
        tracks = root.findall("TRACK")
    else:
        raise TimelineError(f"not a REAPER project (root chunk <{root.tag}>)", source)
    offs = _field(root, "PROJOFFS")
    rate = _project_frame_rate(root) or rate
    timeline = otio.schema.Timeline(
        name=PurePath(source).stem if source != "<string>" else "REAPER project",
        global_start_time=otio.opentime.from_seconds(float(offs[0]) if offs else 0.0, rate),
    )
    for chunk in tracks:
        name = _unquote((_field(chunk, "NAME") or [""])[0])
        items = [_read_item(e) for e in chunk if isinstance(e, rpp.Element) and e.tag == "ITEM"]
        if source != "<string>":  # REAPER stores media beside the project as relative paths
            for item in items:
                if item.path and "://" not in item.path and not PurePath(item.path).is_absolute():
                    item.path = str(PurePath(source).parent / item.path)
        lanes = _lanes(sorted(items, key=lambda it: it.position))
        for n, lane in enumerate(lanes or [[]]):
            timeline.tracks.append(_otio_track(name if n == 0 else f"{name} (overlap {n})", lane, rate))
    return timeline


def _project_frame_rate(root: rpp.Element) -> float | None:
    """The project's frame rate from its TIMEMODE line (see _reaper_frame_rate), None where absent or odd."""
    values = _field(root, "TIMEMODE") if root.tag == "REAPER_PROJECT" else None
    try:
        base, drop = int(values[3]), int(values[4])  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        return None
    if base <= 0:
        return None
    return base * 1000 / 1001 if drop in (1, 2) else float(base)


def _field(element: rpp.Element, key: str) -> list[str] | None:
    """The values of the first `KEY v1 v2 ...` line directly inside an element."""
    for child in element:
        if isinstance(child, list) and child and child[0] == key:
            return child[1:]
    return None


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`" else text


def _read_item(element: rpp.Element) -> _Item:
    """The first take of an <ITEM> chunk."""

    def num(key: str, index: int = 0, default: float = 0.0) -> float:
        values = _field(element, key)
        return float(values[index]) if values and len(values) > index else default

    first_take: list = []
    for child in element:  # the first take ends where a TAKE line starts the next one
        if isinstance(child, list) and child and child[0] == "TAKE":
            break
        first_take.append(child)
    sources = [c for c in first_take if isinstance(c, rpp.Element) and c.tag == "SOURCE"]
    kind, path = "EMPTY", ""
    if sources:
        kind = sources[0].attrib[0] if sources[0].attrib else "EMPTY"
        files = [e for e in sources[0].iter() if isinstance(e, list) and e and e[0] == "FILE"]
        path = _unquote(files[0][1]) if files and len(files[0]) > 1 else ""
    item = _Item(
        position=num("POSITION"),
        length=num("LENGTH"),
        soffs=num("SOFFS"),
        name=_unquote((_field(element, "NAME") or [""])[0]),
        source_kind=kind,
        path=path,
        fade_in=num("FADEIN", 1),
        fade_out=num("FADEOUT", 1),
        volpan=[float(v) for v in _field(element, "VOLPAN") or []],
        muted=num("MUTE") == 1,
    )
    for env in (c for c in first_take if isinstance(c, rpp.Element)):
        points = [[float(p[1]), float(p[2])] for p in env if isinstance(p, list) and p and p[0] == "PT"]
        if env.tag == "VOLENV" and points:
            voltype = _field(env, "VOLTYPE")
            item.voltype = int(voltype[0]) if voltype else None
            item.gain_db = [[t, gain_to_db(v)] for t, v in points]
        elif env.tag == "PANENV" and points:
            item.pan = [[t, -v] for t, v in points]
    return item


def _lanes(items: list[_Item]) -> list[list[_Item]]:
    """Items sorted into lanes; an item may overlap the previous one of its lane by at most half of
    either (a crossfade), and its `head` is set to half that overlap (where the cut goes)."""
    lanes: list[list[_Item]] = []
    for item in items:
        for lane in lanes:
            last = lane[-1]
            overlap = max(0.0, last.end - item.position)
            if overlap <= min(last.length - 2 * last.head, item.length) / 2:
                item.head = overlap / 2
                lane.append(item)
                break
        else:
            lanes.append([item])
    return lanes


def _otio_track(name: str, items: list[_Item], rate: float) -> otio.schema.Track:
    """One OTIO track from a lane of items, overlaps turned into transitions."""
    video = bool(items) and all(it.source_kind == "VIDEO" for it in items)
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video if video else otio.schema.TrackKind.Audio)
    cursor = 0.0
    for i, item in enumerate(items):
        tail = items[i + 1].head if i + 1 < len(items) else 0.0
        start = item.position + item.head
        if start - cursor > 1e-9:
            track.append(
                otio.schema.Gap(
                    source_range=otio.opentime.TimeRange(duration=otio.opentime.from_seconds(start - cursor, rate))
                )
            )
        if item.head > 0:
            offset = otio.opentime.from_seconds(item.head, rate)
            track.append(
                otio.schema.Transition(
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve, in_offset=offset, out_offset=offset
                )
            )
        duration = item.length - item.head - tail
        track.append(_clip(item, duration, rate))
        cursor = start + duration
    return track


def _clip(item: _Item, duration: float, rate: float) -> otio.schema.Clip:
    """An OTIO clip for the visible part of an item (after its head overlap)."""
    ref: otio.core.MediaReference
    if item.path:
        absolute = PurePath(item.path).is_absolute()
        url = PurePath(item.path).as_uri() if absolute and "://" not in item.path else item.path
        ref = otio.schema.ExternalReference(target_url=url)
    else:
        ref = otio.schema.MissingReference()
    clip = otio.schema.Clip(
        name=item.name,
        media_reference=ref,
        source_range=otio.opentime.TimeRange(
            otio.opentime.from_seconds(item.soffs + item.head, rate), otio.opentime.from_seconds(duration, rate)
        ),
    )
    clip.enabled = not item.muted
    clip.metadata["rpp"] = {
        "source": item.source_kind,
        "fade_in": item.fade_in,
        "fade_out": item.fade_out,
        "volpan": item.volpan,
        "voltype": item.voltype,
    }
    if item.gain_db or item.pan:  # an item with envelopes: them and its fades, for timeline.recover
        set_format_automation(
            clip,
            FormatAutomation(
                gain_db=[[t - item.head, v] for t, v in item.gain_db],
                pan=[[t - item.head, v] for t, v in item.pan],
                fade_in=item.fade_in,
                fade_out=item.fade_out,
            ),
        )
    return clip
