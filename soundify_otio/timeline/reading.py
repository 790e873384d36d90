"""Read a timeline file with the OTIO adapter its suffix names, bounded (JSON depth, size) and checked
(every time finite, every active media reference present), with the per-format repairs (AAF track
names, FCPXML lane order)."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import opentimelineio as otio

from soundify_otio.errors import TimelineError

log = logging.getLogger(__name__)


def read_timeline(path: Path) -> otio.schema.Timeline:
    """The timeline in `path`, by the adapter its suffix names; TimelineError if it cannot be read.

    An `.fcpxmld` bundle is read through its `Info.fcpxml`; an `.xml` file holding FCPXML (not
    FCP7 xmeml) goes to the FCPXML adapter. A file holding several timelines gives the first.
    """
    path = Path(path)
    if not path.exists():
        raise TimelineError("timeline file not found", path)
    source = path / "Info.fcpxml" if path.is_dir() and path.suffix.lower() == ".fcpxmld" else path
    if source.is_dir():
        raise TimelineError("is a folder, not a timeline file", path)
    if not source.is_file():  # a FIFO or a device would block the reader or never end
        raise TimelineError("is not a regular file (a FIFO, device or socket)", path)
    if source.suffix.lower() == ".otio":
        check_json_depth(source)
    elif source.suffix.lower() == ".otioz":
        check_otioz(source)
    try:
        adapter = (
            otio.adapters.from_name("fcpx_xml") if _is_fcpxml(source) else otio.adapters.from_filepath(str(source))
        )
    except Exception as exc:
        raise TimelineError(
            f"no OTIO adapter reads '{path.suffix}' files (known: {', '.join(sorted(adapter_suffixes('read')))})", path
        ) from exc
    try:
        result = adapter.read_from_file(str(source))
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise TimelineError(f"the {adapter.name} adapter cannot read it ({reason})", path) from exc
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise TimelineError("holds no timeline", path)
        if len(timelines) > 1:
            log.warning("%s holds %d timelines; using the first, '%s'", path, len(timelines), timelines[0].name)
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise TimelineError(f"holds a {type(result).__name__}, not a timeline", path)
    if adapter.name == "fcpx_xml":
        _order_fcpx_lanes(result.tracks)
        from soundify_otio.timeline.recover import attach_fcpxml_automation  # it imports this module

        try:
            attach_fcpxml_automation(result, source)
        except (ArithmeticError, ValueError) as exc:  # frameDuration="1/0s" and the like
            raise TimelineError(f"holds a time that is not a number ({exc})", path) from exc
    if adapter.name == "AAF":
        _name_aaf_tracks(result, source)
    check_times(result, path)
    return result


MAX_JSON_DEPTH = 512
"""Deepest nesting of arrays and objects an .otio file may have. OTIO's reader recurses: 20,000
levels take minutes and 100,000 crash the process, while a real timeline is a few dozen deep."""
MAX_OTIO_BYTES = 512 << 20
"""Largest OTIO JSON read (an .otio file, an .otioz's content.otio once decompressed): an annotated
timeline of 5,000 scenes is about 150 MB; parsing takes several times the text's size in memory."""
_OTIOZ_CONTENT = "content.otio"
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_CHUNK = 1 << 22


def check_json_depth(path: Path, limit: int = MAX_JSON_DEPTH) -> None:
    """TimelineError when the JSON in `path` is larger than MAX_OTIO_BYTES, not UTF-8 or nests deeper
    than `limit` (checked before parsing)."""
    try:
        size = path.stat().st_size
        if size > MAX_OTIO_BYTES:
            raise TimelineError(f"holds {size} bytes of JSON (at most {MAX_OTIO_BYTES} are read)", path)
        data = path.read_bytes()
    except OSError as exc:
        raise TimelineError(f"cannot read it ({exc.strerror})", path) from exc
    _check_json_bytes(data, path, limit)


def check_otioz(path: Path, limit: int = MAX_JSON_DEPTH) -> None:
    """TimelineError when the .otioz bundle in `path` is not a zip holding a content.otio, or that
    content decompresses to more than MAX_OTIO_BYTES (as its header declares: Python's zip reader
    never yields more than that) or fails check_json_depth's checks; nothing is parsed before."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as bundle:
            try:
                info = bundle.getinfo(_OTIOZ_CONTENT)
            except KeyError:
                raise TimelineError(f"is an .otioz without {_OTIOZ_CONTENT}", path) from None
            if info.file_size > MAX_OTIO_BYTES:
                raise TimelineError(
                    f"its {_OTIOZ_CONTENT} decompresses to {info.file_size} bytes (at most {MAX_OTIO_BYTES} are read)",
                    path,
                )
            data = bundle.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise TimelineError(f"is not a readable .otioz bundle ({exc})", path) from exc
    except OSError as exc:
        raise TimelineError(f"cannot read it ({exc.strerror or exc})", path) from exc
    _check_json_bytes(data, path, limit, f"its {_OTIOZ_CONTENT} ")


def _check_json_bytes(data: bytes, path: Path, limit: int, what: str = "") -> None:
    """TimelineError when `data` is not UTF-8 or its arrays and objects nest deeper than `limit`
    (counted chunk by chunk: a few bytes of memory per byte of a chunk, not of the file)."""
    import numpy as np

    try:  # OTIO keeps invalid UTF-8 in its strings, and its bindings fail on them later
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TimelineError(f"{what}is not UTF-8 text (byte {exc.start})", path) from exc
    codes = np.frombuffer(_JSON_STRING.sub(b"", data), dtype=np.uint8)
    depth, deepest = 0, 0
    for start in range(0, len(codes), _DEPTH_CHUNK):
        chunk = codes[start : start + _DEPTH_CHUNK]
        steps = np.isin(chunk, (0x5B, 0x7B)).astype(np.int32) - np.isin(chunk, (0x5D, 0x7D)).astype(np.int32)
        levels = np.cumsum(steps) + depth
        deepest = max(deepest, int(levels.max(initial=depth)))
        depth = int(levels[-1]) if len(levels) else depth
    if deepest > limit:
        raise TimelineError(
            f"{what}is nested {deepest} levels deep (at most {limit} are read): not a timeline we can read", path
        )


def check_times(timeline: otio.schema.Timeline, path: Path) -> None:
    """TimelineError naming the item for any time whose rate is not a positive finite number or
    whose value is not finite (rate 0 or NaN, FCP7 timebase 0, FCPXML frameDuration 1/0s), for an item
    whose duration is negative (FCP7 out before in: in every format refused, never dropped), and for a
    clip whose active media reference is missing."""

    def check(time: otio.opentime.RationalTime | None, what: str) -> None:
        if time is None:
            return
        if not (math.isfinite(time.rate) and time.rate > 0):
            raise TimelineError(f"{what} has frame rate {time.rate:g}; a rate must be a positive number", path)
        if not math.isfinite(time.value):
            raise TimelineError(f"{what} has a time of {time.value:g} frames", path)

    def check_range(span: otio.opentime.TimeRange | None, what: str) -> None:
        if span is not None:
            check(span.start_time, what)
            check(span.duration, what)

    check(timeline.global_start_time, "the timeline's start time")
    for child in [timeline.tracks, *timeline.tracks.find_children()]:
        what = f"{type(child).__name__.lower()} {_shown_name(child)}"
        if isinstance(child, otio.schema.Transition):
            check(child.in_offset, what)
            check(child.out_offset, what)
            continue
        if isinstance(child, otio.core.Item):
            check_range(child.source_range, what)
            if child.source_range is not None and child.source_range.duration.value < 0:
                raise TimelineError(
                    f"{what} has a negative duration ({child.source_range.duration.value:g} frames)", path
                )
            for marker in child.markers:
                check_range(marker.marked_range, f"marker {_shown_name(marker)} on {what}")
        if isinstance(child, otio.schema.Clip):
            if child.media_reference is None:
                raise TimelineError(
                    f"{what} names a media reference it does not have ({child.active_media_reference_key!r:.80})", path
                )
            for reference in child.media_references().values():
                check_range(reference.available_range, f"the media of {what}")


def _shown_name(item: otio.core.SerializableObject) -> str:
    name = getattr(item, "name", "") or ""
    return repr(name[:80]) if name else "(unnamed)"


def _name_aaf_tracks(timeline: otio.schema.Timeline, path: Path) -> None:
    """Track names as the AAF's slots hold them: the stock reader names a track whose slot wraps its
    Sequence in a pan OperationGroup (Premiere, Media Composer, ours) "Sequence"."""
    import aaf2

    kinds = {"Picture": otio.schema.TrackKind.Video, "Sound": otio.schema.TrackKind.Audio}
    try:
        with aaf2.open(str(path)) as f:
            top = next(iter(f.content.toplevel()), None)
            slots = [
                (kinds[slot.media_kind], slot.name or "")
                for slot in (top.slots if top is not None else [])
                if isinstance(slot, aaf2.mobslots.TimelineMobSlot) and slot.media_kind in kinds
            ]
    except Exception:  # the stock reader already read the file; a name is not worth failing for
        return
    for kind in kinds.values():
        names = [name for k, name in slots if k == kind]
        tracks = [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.kind == kind]
        if len(names) != len(tracks):  # the reader skipped a slot: names cannot be matched safely
            continue
        for track, name in zip(tracks, names, strict=True):
            if track.name == "Sequence" and name:
                track.name = name


def _is_fcpxml(path: Path) -> bool:
    """Whether the file is FCPXML by suffix, or an `.xml` whose root element is <fcpxml>."""
    if path.suffix.lower() == ".fcpxml":
        return True
    if path.suffix.lower() != ".xml":
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return re.search(rb"<fcpxml[\s>]", head) is not None


def _order_fcpx_lanes(stack: otio.schema.Stack) -> None:
    """Put the FCPXML adapter's lane tracks (named "-1", "0", "1", ...) in numeric order, bottom
    first: the adapter sorts the names as text, so lane 10 would land below lane 2."""
    for nested in stack.find_children(descended_from_type=otio.schema.Stack):
        _order_fcpx_lanes(nested)
    tracks = list(stack)
    if tracks and all(isinstance(t, otio.schema.Track) and re.fullmatch(r"-?\d+", t.name or "") for t in tracks):
        stack[:] = sorted(tracks, key=lambda t: int(t.name))


def adapter_suffixes(*features: str) -> set[str]:
    """The suffixes ('.otio', as each adapter spells them) of the OTIO adapters that have any of `features`."""
    suffixes: set[str] = set()
    for name in otio.adapters.available_adapter_names():
        try:
            adapter = otio.adapters.from_name(name)
        except Exception:  # a broken third-party plugin must not hide the others
            continue
        if any(adapter.has_feature(feature) for feature in features):
            suffixes.update(f".{s}" for s in adapter.suffixes)
    return suffixes
