"""Read any timeline OTIO's adapters read into shots; find the media behind each clip."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from .errors import TimelineError
from .types import Shot, SkippedShot

log = logging.getLogger(__name__)

MediaRoots = Sequence[tuple[str, str]]
"""(old prefix, new prefix) pairs applied to media paths in order; the first match wins."""


def read_timeline(path: Path) -> otio.schema.Timeline:
    """The timeline in `path`, by the adapter its suffix names; TimelineError if it cannot be read."""
    if not path.exists():
        raise TimelineError("timeline file not found", path)
    try:
        adapter = otio.adapters.from_filepath(str(path))
    except Exception as exc:
        raise TimelineError(f"no OTIO adapter reads '{path.suffix}' files "
                            f"(known: {', '.join(sorted(_readable_suffixes()))})", path) from exc
    try:
        result = adapter.read_from_file(str(path))
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise TimelineError(f"the {adapter.name} adapter cannot read it ({reason})", path) from exc
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise TimelineError("holds no timeline", path)
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise TimelineError(f"holds a {type(result).__name__}, not a timeline", path)
    return result


def _readable_suffixes() -> set[str]:
    suffixes: set[str] = set()
    for adapter in otio.adapters.available_adapter_names():
        try:
            found = otio.adapters.from_name(adapter)
        except Exception:  # a broken third-party plugin must not hide the others
            continue
        if found.has_feature("read"):
            suffixes.update(f".{s}" for s in found.suffixes)
    return suffixes


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    """The timeline's frame rate: from its start time, else its first clip, else 24."""
    if timeline.global_start_time is not None and timeline.global_start_time.rate > 0:
        return float(timeline.global_start_time.rate)
    for clip in timeline.find_clips():
        if clip.source_range is not None:
            return float(clip.source_range.duration.rate)
    return 24.0


def resolve_media_path(target_url: str, base_dir: Path, media_roots: MediaRoots = ()) -> Path:
    """A media reference's URL or path as a local path: file:// URLs unescaped, relative paths
    against the timeline's folder, prefixes remapped by --media-root OLD=NEW."""
    parsed = urlparse(target_url)
    if parsed.scheme == "file":
        raw = unquote(parsed.path)
        if parsed.netloc and parsed.netloc != "localhost":
            raw = f"//{parsed.netloc}{raw}"
    elif len(parsed.scheme) == 1:  # a Windows drive letter, not a scheme
        raw = target_url
    else:
        raw = unquote(target_url) if parsed.scheme == "" else target_url
    for old, new in media_roots:
        if raw.startswith(old):
            raw = new + raw[len(old):]
            break
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else (base_dir / path)


def _media_offset(clip: otio.schema.Clip) -> float:
    """Seconds from the media file's first frame to the clip's source in-point."""
    start = clip.source_range.start_time if clip.source_range else clip.trimmed_range().start_time
    available = clip.media_reference.available_range
    origin = available.start_time if available is not None else otio.opentime.RationalTime(0, start.rate)
    return max(0.0, (start - origin).to_seconds())


def find_shots(timeline: otio.schema.Timeline, base_dir: Path,
               media_roots: MediaRoots = ()) -> tuple[list[Shot], list[SkippedShot]]:
    """Every visible stretch of a video clip with a file reference, in timeline order.

    Where video tracks overlap the topmost (last) track wins, as in every NLE viewer. Gaps and
    generator clips give no shot; disabled clips and tracks are ignored; a clip without a file
    reference is reported as skipped.
    """
    covered: list[tuple[float, float]] = []
    pieces: list[tuple[float, float, float, int, otio.schema.Clip, Path]] = []
    skipped: list[SkippedShot] = []
    video_tracks = [t for t in timeline.video_tracks() if t.enabled]
    for track_index in range(len(video_tracks) - 1, -1, -1):
        track = video_tracks[track_index]
        for clip in track.find_clips():
            if not clip.enabled:
                continue
            reference = clip.media_reference
            if isinstance(reference, otio.schema.GeneratorReference):
                continue
            span = clip.transformed_time_range(clip.trimmed_range(), track)
            start, end = span.start_time.to_seconds(), span.end_time_exclusive().to_seconds()
            if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
                skipped.append(SkippedShot(clip.name, "", "no media file reference"))
                continue
            media = resolve_media_path(reference.target_url, base_dir, media_roots)
            for piece_start, piece_end in _subtract(start, end, covered):
                pieces.append((piece_start, piece_end, start, track_index, clip, media))
            covered.append((start, end))
    pieces.sort(key=lambda p: p[0])
    shots = [
        Shot(index=i, clip_name=clip.name, media_path=media,
             media_start=_media_offset(clip) + (piece_start - clip_start),
             timeline_start=piece_start, duration=piece_end - piece_start, track_index=track_index)
        for i, (piece_start, piece_end, clip_start, track_index, clip, media) in enumerate(pieces)
    ]
    return shots, skipped


def _subtract(start: float, end: float, covered: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The parts of [start, end) not inside any covered range (shorter than a millisecond dropped)."""
    parts = [(start, end)]
    for c_start, c_end in covered:
        next_parts = []
        for p_start, p_end in parts:
            if c_end <= p_start or c_start >= p_end:
                next_parts.append((p_start, p_end))
                continue
            if c_start > p_start:
                next_parts.append((p_start, c_start))
            if c_end < p_end:
                next_parts.append((c_end, p_end))
        parts = next_parts
    return [(a, b) for a, b in parts if b - a > 1e-3]
