"""Where the timeline's own sound comes from: its audio clips, and the production sound of video
clips that no audio clip carries.

An audio clip counts when it and its track are enabled and its media is a local file; its level is
the FCP7/Premiere "Audio Levels" filter where the input carries one (the fcp_xml adapter keeps it
as metadata), else 0 dB. A video clip's own file is heard as production sound when no audio clip of
the timeline (enabled or not: a muted link is the editor's choice) names the same file. Our own
tracks (a timeline annotated before) are never heard.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from soundify_otio.audio.decode import SoundSource
from soundify_otio.timeline.keyframes import gain_to_db
from soundify_otio.timeline.media import MediaRoots, locate_media
from soundify_otio.timeline.metadata import is_generated
from soundify_otio.timeline.shots import enabled, media_origin, seconds_of
from soundify_otio.types import Shot

log = logging.getLogger(__name__)


def timeline_sound(
    timeline: otio.schema.Timeline, shots: Sequence[Shot], base_dir: Path, media_roots: MediaRoots = ()
) -> list[SoundSource]:
    """The sound the timeline plays: its audio clips, then the production sound of unlinked video shots."""
    sources: list[SoundSource] = []
    linked: set[Path] = set()
    for track in timeline.tracks:
        if not (isinstance(track, otio.schema.Track) and track.kind == otio.schema.TrackKind.Audio):
            continue
        if is_generated(track):
            continue
        track_on = enabled(track)
        for clip in track.find_clips(shallow_search=True):
            path = _local_file(clip, base_dir, media_roots)
            if path is None:
                continue
            linked.add(path)
            if not (track_on and enabled(clip)) or is_generated(clip):
                continue
            if any(isinstance(e, otio.schema.TimeEffect) for e in clip.effects):
                log.warning("audio clip '%s' is retimed: not heard by the dialogue analysis", clip.name)
                continue
            placed = clip.range_in_parent()
            source = clip.trimmed_range()
            origin = media_origin(clip)
            sources.append(
                SoundSource(
                    media_path=path,
                    media_start=float(max(Fraction(0), seconds_of(source.start_time) - origin)),
                    timeline_start=float(seconds_of(placed.start_time)),
                    duration=float(seconds_of(placed.duration)),
                    gain_db=fcp7_level_db(clip),
                    what=f"audio clip '{clip.name}'",
                )
            )
    for shot in shots:
        if shot.media_path not in linked:
            sources.append(
                SoundSource(
                    shot.media_path,
                    shot.media_start,
                    shot.timeline_start,
                    shot.duration,
                    0.0,
                    f"the production sound of clip '{shot.clip_name}'",
                )
            )
    return sources


def fcp7_level_db(clip: otio.schema.Clip) -> float:
    """The clip's constant "Audio Levels" (dB; the first key where it is keyframed), 0 dB without one."""
    for effect in clip.effects:
        data = effect.metadata.get("fcp_xml") if effect.metadata else None
        if not isinstance(data, Mapping) or data.get("effectid") != "audiolevels":
            continue
        parameter = data.get("parameter")
        if not isinstance(parameter, Mapping):
            continue
        frames = parameter.get("keyframe")
        frames = [frames] if isinstance(frames, Mapping) else list(frames or [])
        raw = frames[0].get("value") if frames and isinstance(frames[0], Mapping) else parameter.get("value")
        try:
            return gain_to_db(float(raw)) if raw is not None else 0.0
        except (TypeError, ValueError):
            return 0.0
    return 0.0


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def _local_file(clip: otio.schema.Clip, base_dir: Path, media_roots: MediaRoots) -> Path | None:
    """The clip's media as a local path; None for offline, generated or remote (http, s3...) media."""
    reference = clip.media_reference
    if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
        return None
    scheme = _URL.match(reference.target_url)
    if scheme and len(scheme.group(1)) > 1 and scheme.group(1).lower() != "file":
        return None
    return locate_media(reference.target_url, base_dir, media_roots)
