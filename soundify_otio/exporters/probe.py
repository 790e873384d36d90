"""A stand-in for an annotated timeline, to learn before the analysis whether OUT's format can hold it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile

from soundify_otio.timeline.metadata import ClipInfo, SoundInfo, mark_track, set_clip_info
from soundify_otio.timeline.timecode import timeline_rate

_SAMPLE_RATE = 48000


def probe_timeline(timeline: otio.schema.Timeline, folder: Path) -> otio.schema.Timeline:
    """The timeline plus an `SFX 1` track with one keyframed one-second stereo clip of a short WAV
    written into `folder`, at the timeline's own rate (what an annotated output will hold)."""
    rate = timeline_rate(timeline)
    sound = folder / "probe.wav"
    soundfile.write(str(sound), np.zeros((_SAMPLE_RATE, 2), np.float32), _SAMPLE_RATE, subtype="PCM_16")
    copy = timeline.deepcopy()
    frames = max(1, round(rate))
    clip = otio.schema.Clip(
        name="probe",
        media_reference=otio.schema.ExternalReference(
            target_url=sound.as_uri(),
            available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, _SAMPLE_RATE), otio.opentime.RationalTime(_SAMPLE_RATE, _SAMPLE_RATE)
            ),
        ),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
        ),
    )
    set_clip_info(
        clip,
        ClipInfo(
            label="probe",
            kind="effect",
            score=0.0,
            alternatives=[],
            scene=0,
            scene_id="probe",
            model="",
            weights="none",
            pipeline_check=True,
            sound=SoundInfo(str(sound), _SAMPLE_RATE, 2, 1.0),
            pan=[[0.0, -1.0], [frames / rate, 1.0]],
            gain_db=[[0.0, -6.0], [frames / rate, 0.0]],
            fade_in=0.0,
            fade_out=0.0,
        ),
    )
    track = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    mark_track(track, "effects")
    track.append(clip)
    copy.tracks.append(track)
    return copy
