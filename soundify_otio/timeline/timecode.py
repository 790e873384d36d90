"""A timeline's frame rate and SMPTE-style timecode."""

from __future__ import annotations

from collections import Counter

import opentimelineio as otio


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


def timecode(seconds: float, frame_rate: float) -> str:
    """HH:MM:SS:FF (non-drop, at the nominal integer rate) of `seconds`."""
    nominal = max(1, round(frame_rate))
    frames = max(0, round(seconds * frame_rate))
    secs, ff = divmod(frames, nominal)
    mins, ss = divmod(secs, 60)
    hh, mm = divmod(mins, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"
