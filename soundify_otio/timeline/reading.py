"""Read any timeline OTIO's adapters read into shots; find the media behind each clip.

Times are exact fractions of a second while the tree is walked (OTIO's own float transforms drift
at mixed rates), so neighbouring shots meet exactly and turn into floats only in the Shot.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import opentimelineio as otio

from soundify_otio.errors import TimelineError
from soundify_otio.types import Shot, SkippedShot

log = logging.getLogger(__name__)

MediaRoots = Sequence[tuple[str, str]]
"""(old prefix, new prefix) pairs applied to media paths in order; the first match wins."""

_MIN_PIECE = Fraction(1, 1000)
"""Visible stretches shorter than this (seconds) are dropped as rounding slivers."""
_FOREVER = Fraction(10**12)
"""An end for windows that nothing bounds (seconds)."""
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


# ---- reading ----------------------------------------------------------------------------------


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


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    """The timeline's frame rate: from its start time, else the commonest rate of the items on its
    tracks (clips carry their media's rate, gaps the sequence's), else 24."""
    if timeline.global_start_time is not None and timeline.global_start_time.rate > 0:
        return float(timeline.global_start_time.rate)
    rates: Counter[float] = Counter()
    for track in timeline.tracks:
        if isinstance(track, otio.schema.Track):
            for item in track:
                if isinstance(item, otio.core.Item) and item.source_range is not None:
                    rates[float(item.source_range.duration.rate)] += 1
    return rates.most_common(1)[0][0] if rates else 24.0


# ---- media paths ------------------------------------------------------------------------------


def timecode(seconds: float, frame_rate: float) -> str:
    """HH:MM:SS:FF (non-drop, at the nominal integer rate) of `seconds`."""
    nominal = max(1, round(frame_rate))
    frames = max(0, round(seconds * frame_rate))
    secs, ff = divmod(frames, nominal)
    mins, ss = divmod(secs, 60)
    hh, mm = divmod(mins, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


def locate_media(target_url: str, base_dir: Path, media_roots: MediaRoots = ()) -> Path:
    """A media reference's URL or path as a local path: file:// URLs unescaped, relative paths
    against the timeline's folder, prefixes remapped by --media-root OLD=NEW.

    OLD matches whole path components (`/Volumes/A` does not match `/Volumes/AB/x`); Windows paths
    are compared with forward slashes, so `C:\\Media` and `C:/Media` are the same prefix.
    """
    raw = _remap(_local_path(target_url), media_roots)
    path = Path(os.path.expanduser(raw))
    if path.is_absolute() or _WINDOWS_PATH.match(raw):  # a Windows path stays as written, for the warning
        return path
    return Path(base_dir) / path


def media_files(
    timeline: otio.schema.Timeline, base_dir: Path, media_roots: MediaRoots = ()
) -> Iterator[tuple[str, Path]]:
    """(clip name, local path) of every clip's file reference, on every track (remote URLs left out)."""
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
            continue
        if not _remote_scheme(_remap(_local_path(reference.target_url), media_roots)):
            yield clip.name, locate_media(reference.target_url, base_dir, media_roots)


def _local_path(target_url: str) -> str:
    """The path a file URL or plain path names, unescaped (other URLs are returned as they are)."""
    if target_url.lower().startswith("file:"):
        rest = target_url[5:]
        if rest.startswith("//"):  # file://host/path; '#' and '?' belong to the file name
            host, _, rest = rest[2:].partition("/")
            rest = "/" + rest
        else:
            host = ""
        raw = unquote(rest)
        if re.match(r"^/[A-Za-z]:[\\/]", raw):  # file:///C:/Media/x.mov
            raw = raw[1:]
        if host and host.lower() != "localhost":
            raw = f"//{host}{raw}"
        return _normalise(raw)
    if _remote_scheme(target_url):
        return target_url
    return _normalise(target_url)


def _normalise(raw: str) -> str:
    """Windows paths with forward slashes; other paths unchanged."""
    return raw.replace("\\", "/") if _WINDOWS_PATH.match(raw) else raw


def _remote_scheme(url: str) -> str | None:
    """The scheme of a URL that names no local file (http, s3, ...); None for paths and file URLs."""
    match = _URL_SCHEME.match(url)
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def _remap(raw: str, media_roots: MediaRoots) -> str:
    for old, new in media_roots:
        old = _normalise(old).rstrip("/")
        if raw == old or raw.startswith(old + "/"):
            return new.rstrip("/") + raw[len(old) :] if raw != old else new
    return raw


# ---- shots ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    """A clip with its place in track time: its visible window and the layer it sits on."""

    clip: otio.schema.Clip
    layer: tuple[int, ...]
    """Track indices from the top stack down through nested stacks; higher wins."""
    track_index: int
    start: Fraction
    """Track time of the clip's first frame (it may start before `visible_start`)."""
    visible_start: Fraction
    visible_end: Fraction
    retimed: str | None
    """Why a speed change on the clip or an enclosing stack makes it unusable, if one does."""


def seconds_of(time: otio.opentime.RationalTime) -> Fraction:
    return Fraction(time.value) / Fraction(time.rate)


def _trimmed(item: otio.core.Item) -> tuple[Fraction, Fraction]:
    """An item's (start, duration) in its own time, in seconds."""
    try:
        trimmed = item.trimmed_range()
    except Exception as exc:  # no source range and no media range: nothing after it can be placed
        raise TimelineError(
            f"'{item.name}' has neither a source range nor a media range, so the track cannot be laid out"
        ) from exc
    return seconds_of(trimmed.start_time), seconds_of(trimmed.duration)


def _bounds(composition: otio.core.Composition) -> tuple[Fraction, Fraction | None]:
    """The (start, end) of a stack or track in its own time; end None when it shows all its children
    (so a clip that cannot be measured is reported by name, not through its parents)."""
    if composition.source_range is None:
        return Fraction(0), None
    start, duration = _trimmed(composition)
    return start, start + duration


def enabled(item: otio.core.Item) -> bool:
    """OTIO's flag, and FCP7's <enabled>FALSE</enabled>, which the fcp_xml adapter keeps only as metadata."""
    fcp7 = item.metadata.get("fcp_xml") if item.metadata else None
    return item.enabled and not (isinstance(fcp7, Mapping) and str(fcp7.get("enabled", "")).upper() == "FALSE")


def _retime(item: otio.core.Item) -> str | None:
    """Why the item's effects change its speed, or None when they do not."""
    for effect in item.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            if effect.time_scalar != 1.0:
                return "freeze frame" if effect.time_scalar == 0 else f"speed {effect.time_scalar * 100:g}%"
        elif isinstance(effect, otio.schema.TimeEffect):
            return f"time effect '{effect.effect_name or effect.name}'"
        elif (speed := _fcp7_speed(effect)) not in (None, 100.0):
            return f"speed {speed:g}%"
    return None


def _fcp7_speed(effect: otio.schema.Effect) -> float | None:
    """The speed (percent, negative when reversed) of an FCP7/Premiere "Time Remap" filter, from the
    metadata the fcp_xml adapter keeps; None for any other effect."""
    data = effect.metadata.get("fcp_xml") if effect.metadata else None
    if not isinstance(data, Mapping) or str(data.get("effectid", "")).lower() != "timeremap":
        return None
    parameters = data.get("parameter", [])
    if isinstance(parameters, Mapping):
        parameters = [parameters]
    values: dict[str, Any] = {str(p.get("parameterid")): p.get("value") for p in parameters if isinstance(p, Mapping)}
    try:
        speed = float(values.get("speed", 100))
    except (TypeError, ValueError):
        return None
    return -speed if str(values.get("reverse", "")).upper() == "TRUE" else speed


def _walk_stack(
    stack: otio.schema.Stack,
    shift: Fraction,
    window: tuple[Fraction, Fraction],
    layer: tuple[int, ...],
    top_index: int | None,
    retimed: str | None,
) -> Iterator[_Placed]:
    """The enabled clips on the stack's video tracks. `shift` maps the stack's own time to track
    time; `window` is the part of track time its ancestors let through."""
    tracks = [t for t in stack if isinstance(t, otio.schema.Track) and t.kind == otio.schema.TrackKind.Video]
    for i, track in enumerate(tracks):
        if not enabled(track):
            continue
        start, end = _bounds(track)
        inner = (max(window[0], shift), window[1] if end is None else min(window[1], shift + end - start))
        yield from _walk_track(
            track, shift - start, inner, (*layer, i), i if top_index is None else top_index, retimed or _retime(track)
        )


def _walk_track(
    track: otio.schema.Track,
    shift: Fraction,
    window: tuple[Fraction, Fraction],
    layer: tuple[int, ...],
    top_index: int,
    retimed: str | None,
) -> Iterator[_Placed]:
    """The enabled clips of a track, nested stacks and tracks included, placed in track time."""
    position = Fraction(0)
    for item in track:
        if not isinstance(item, otio.core.Item):  # transitions take no time of their own
            continue
        start, duration = _trimmed(item)
        placed = shift + position
        position += duration
        visible = (max(window[0], placed), min(window[1], placed + duration))
        if not enabled(item) or visible[1] - visible[0] < _MIN_PIECE:
            continue
        why = retimed or _retime(item)
        if isinstance(item, otio.schema.Clip):
            yield _Placed(item, layer, top_index, placed, visible[0], visible[1], why)
        elif isinstance(item, otio.schema.Stack):
            yield from _walk_stack(item, placed - start, visible, layer, top_index, why)
        elif isinstance(item, otio.schema.Track):
            yield from _walk_track(item, placed - start, visible, layer, top_index, why)


def _unusable(placed: _Placed, base_dir: Path, media_roots: MediaRoots) -> tuple[str, str] | None:
    """(media, reason) when the clip's media cannot be analysed; None when it can."""
    reference = placed.clip.media_reference
    if isinstance(reference, otio.schema.MissingReference):
        return reference.name or "", "no media file reference (offline clip)"
    if not isinstance(reference, otio.schema.ExternalReference):
        return reference.name or "", f"{type(reference).__name__} media is not supported"
    if not reference.target_url:
        return "", "the media reference has no path"
    media = str(locate_media(reference.target_url, base_dir, media_roots))
    scheme = _remote_scheme(_remap(_local_path(reference.target_url), media_roots))
    if scheme:
        return reference.target_url, f"not a local file ({scheme} URL); map it with --media-root"
    if placed.retimed:
        return media, f"{placed.retimed} is not supported (the sounds would drift out of sync)"
    return None


def media_origin(clip: otio.schema.Clip) -> Fraction:
    """Media-time seconds of the media file's first frame (its start timecode, when known)."""
    available = clip.media_reference.available_range
    return seconds_of(available.start_time) if available is not None else Fraction(0)


def find_shots(
    timeline: otio.schema.Timeline, base_dir: Path, media_roots: MediaRoots = ()
) -> tuple[list[Shot], list[SkippedShot]]:
    """Every visible stretch of a video clip with a file reference, in timeline order.

    Track time starts at 0 whatever the timeline's start timecode. Where video tracks overlap the
    upper (later) track wins, as in an NLE viewer; a nested stack (compound clip) is opened and its
    tracks compete inside the stretch it covers. A clip whose media cannot be analysed (offline,
    speed-changed, not a local file) still hides the tracks below it and is reported as skipped;
    generator clips (titles, colour mattes) give nothing and hide nothing, as they are mostly
    overlays; disabled clips and tracks are ignored. Pieces that continue one another (a through
    edit: the same file from the next frame on, end to end on the timeline) are one shot, as nothing
    cuts on screen there.
    """
    top = timeline.tracks
    start, end = _bounds(top)
    placed = sorted(
        _walk_stack(top, Fraction(0), (start, _FOREVER if end is None else end), (), None, _retime(top)),
        key=lambda p: p.layer,
        reverse=True,
    )
    covered = Coverage()
    pieces: list[tuple[Fraction, Fraction, _Placed, Path]] = []
    skipped: list[SkippedShot] = []
    for p in placed:
        if isinstance(p.clip.media_reference, otio.schema.GeneratorReference):
            continue
        visible = [(a, b) for a, b in covered.gaps(p.visible_start, p.visible_end) if b - a >= _MIN_PIECE]
        covered.add(p.visible_start, p.visible_end)
        if not visible:
            continue
        problem = _unusable(p, base_dir, media_roots)
        if problem is not None:
            skipped.append(SkippedShot(p.clip.name, *problem))
            continue
        media = locate_media(p.clip.media_reference.target_url, base_dir, media_roots)
        pieces.extend((a, b, p, media) for a, b in visible)
    pieces.sort(key=lambda piece: piece[0])
    runs: list[_Run] = []
    for a, b, p, media in pieces:
        source_start, _ = _trimmed(p.clip)
        media_start = source_start - media_origin(p.clip) + (a - p.start)
        last = runs[-1] if runs else None
        if last is not None and last.end == a and last.media == media and last.media_end == media_start:
            last.end = b  # a through edit: the next frame of the same file, so no cut on screen
        else:
            runs.append(_Run(a, b, p, media, media_start))
    shots = [
        Shot(
            index=index,
            clip_name=run.placed.clip.name,
            media_path=run.media,
            media_start=float(max(Fraction(0), run.media_start)),
            timeline_start=float(run.start),
            duration=float(run.end - run.start),
            track_index=run.placed.track_index,
        )
        for index, run in enumerate(runs)
    ]
    return shots, skipped


@dataclass
class _Run:
    """A shot being gathered: a visible piece and the pieces that continue it (through edits)."""

    start: Fraction
    end: Fraction
    placed: _Placed
    media: Path
    media_start: Fraction

    @property
    def media_end(self) -> Fraction:
        return self.media_start + (self.end - self.start)


class Coverage:
    """The union of the time ranges covered so far, as sorted disjoint [start, end) ranges: what
    each clip leaves visible is found by bisection, not against every clip above it (n**2 on a long edit)."""

    def __init__(self) -> None:
        self.starts: list[Fraction] = []
        self.ends: list[Fraction] = []

    def gaps(self, start: Fraction, end: Fraction) -> list[tuple[Fraction, Fraction]]:
        """The parts of [start, end) inside no covered range, in order."""
        parts = []
        position = start
        i = bisect.bisect_right(self.ends, start)
        while i < len(self.starts) and self.starts[i] < end:
            if self.starts[i] > position:
                parts.append((position, self.starts[i]))
            position = self.ends[i]
            i += 1
        if position < end:
            parts.append((position, end))
        return parts

    def add(self, start: Fraction, end: Fraction) -> None:
        """Cover [start, end) too, merging the ranges it overlaps or touches."""
        first = bisect.bisect_left(self.ends, start)
        last = bisect.bisect_right(self.starts, end)
        if first < last:
            start, end = min(start, self.starts[first]), max(end, self.ends[last - 1])
        self.starts[first:last] = [start]
        self.ends[first:last] = [end]
