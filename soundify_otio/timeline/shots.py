"""A timeline's shots: the visible stretch of every usable video clip, the upper track winning.

Times are exact fractions of a second while the tree is walked (OTIO's own float transforms drift
at mixed rates), so neighbouring shots meet exactly and turn into floats only in the Shot.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from soundify_otio.errors import TimelineError
from soundify_otio.timeline.media import MediaRoots, locate_media, remote_scheme
from soundify_otio.types import Shot, SkippedShot

log = logging.getLogger(__name__)

_MIN_PIECE = Fraction(1, 1000)
"""Visible stretches shorter than this (seconds) are dropped as rounding slivers."""
_FOREVER = Fraction(10**12)
"""An end for windows that nothing bounds (seconds)."""


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
    scheme = remote_scheme(reference.target_url, media_roots)
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
