"""Timelines and sounds built by hand for the tests: the editors' sample exports, sine-tone sound
files, soundify clips as the writer makes them (docs/metadata.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile

SHARED_INTEROP = Path(__file__).resolve().parents[3] / "shared" / "interop"
"""The real editor exports (../shared/interop beside the checkout); tests that read them skip without it."""
RATE = 24.0


def rt(seconds: float, rate: float = RATE) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(round(seconds * rate), rate)


def time_range(start: float, duration: float, rate: float = RATE) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start, rate), rt(duration, rate))


def generated_clips(timeline: otio.schema.Timeline):
    """(track, clip, the clip's live metadata["soundify"] mapping) of every generated clip, read
    straight from the metadata (independent of the package's own reader)."""
    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.schema.Clip) and item.metadata.get("soundify", {}).get("generated"):
                yield track, item, item.metadata["soundify"]


def write_tone(path: Path, seconds: float, sample_rate: int, channels: int, freq: float = 440.0) -> Path:
    """Write a sine tone of the given shape (a stand-in sound file with known content)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.25 * np.sin(2 * np.pi * freq * t)
    data = np.repeat(mono[:, None], channels, axis=1)
    soundfile.write(path, data, sample_rate)
    return path


def sound_clip(
    path: Path,
    name: str,
    kind: str,
    source_start: float,
    duration: float,
    pan: list[list[float]],
    gain_db: list[list[float]],
    sample_rate: int,
    channels: int,
    file_seconds: float,
    fade_in: float = 0.5,
    fade_out: float = 0.5,
) -> otio.schema.Clip:
    """A soundify clip as the writer makes it (docs/metadata.md)."""
    ref = otio.schema.ExternalReference(
        target_url=path.resolve().as_uri(),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, sample_rate),
            otio.opentime.RationalTime(round(file_seconds * sample_rate), sample_rate),
        ),
    )
    clip = otio.schema.Clip(name=name, media_reference=ref, source_range=time_range(source_start, duration))
    clip.metadata["soundify"] = {
        "generated": True,
        "label": name,
        "kind": kind,
        "score": 0.5,
        "alternatives": [[name, 0.5], ["other", 0.2]],
        "scene": 0,
        "scene_id": "video.mp4@0.000-4.000",
        "model": "RN50",
        "weights": "none",
        "pipeline_check": True,
        "sound": {
            "path": str(path.resolve()),
            "sample_rate": sample_rate,
            "channels": channels,
            "duration": file_seconds,
        },
        "keyframes": {"pan": pan, "gain_db": gain_db},
        "fade_in": fade_in,
        "fade_out": fade_out,
    }
    return clip


def append_sfx_track(timeline: otio.schema.Timeline, folder: Path, rate: float) -> otio.schema.Clip:
    """An SFX track with one keyframed 2 s stereo effect a second in (a stand-in soundify result)."""
    tone = write_tone(folder / "whoosh.wav", 3.0, 48000, 2)
    clip = sound_clip(
        tone, "whoosh", "effect", 0.0, 2.0, [[0.0, -1.0], [2.0, 1.0]], [[0.0, -20.0], [1.0, 0.0]], 48000, 2, 3.0
    )
    clip.source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(2 * rate, rate)
    )
    sfx = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    sfx.metadata["soundify"] = {"generated": True, "role": "effects"}
    sfx.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(rate, rate))))
    sfx.append(clip)
    timeline.tracks.append(sfx)
    return clip


def editor_cut(folder: Path, rate: float = 25.0) -> otio.schema.Timeline:
    """A cut as editors hand it over: a title and a colour matte (GeneratorReference), a dissolve,
    gaps, a nested stack, a disabled clip, an offline clip (MissingReference), and a stereo and a
    mono soundify clip on an SFX track; start timecode 01:00:00:00."""
    video = folder / "picture.mp4"
    video.write_bytes(b"")

    def span(start: float, duration: float) -> otio.opentime.TimeRange:
        return time_range(start, duration, rate)

    def shot(name: str, start: float, duration: float) -> otio.schema.Clip:
        ref = otio.schema.ExternalReference(target_url=video.resolve().as_uri(), available_range=span(0.0, 60.0))
        return otio.schema.Clip(name=name, media_reference=ref, source_range=span(start, duration))

    timeline = otio.schema.Timeline(name="editor cut", global_start_time=otio.opentime.RationalTime(3600 * rate, rate))
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.append(
        otio.schema.Clip(
            name="Opening title",
            media_reference=otio.schema.GeneratorReference(name="Title", generator_kind="Text"),
            source_range=span(0.0, 2.0),
        )
    )
    v1.append(shot("shot A", 10.0, 3.0))
    v1.append(
        otio.schema.Transition(
            transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
            in_offset=rt(0.4, rate),
            out_offset=rt(0.4, rate),
        )
    )
    v1.append(shot("shot B", 20.0, 3.0))
    v1.append(otio.schema.Gap(source_range=span(0.0, 1.0)))
    v1.append(
        otio.schema.Clip(name="offline shot", media_reference=otio.schema.MissingReference(), source_range=span(0, 2))
    )
    nested = otio.schema.Stack(name="nested", source_range=span(0.0, 2.0))
    inner = otio.schema.Track(name="inner", kind=otio.schema.TrackKind.Video)
    inner.append(shot("shot C", 30.0, 2.0))
    nested.append(inner)
    v1.append(nested)
    disabled = shot("shot D (disabled)", 40.0, 1.0)
    disabled.enabled = False
    v1.append(disabled)
    v1.append(
        otio.schema.Clip(
            name="Black matte",
            media_reference=otio.schema.GeneratorReference(name="Color Matte", generator_kind="Color Matte"),
            source_range=span(0.0, 1.0),
        )
    )
    timeline.tracks.append(v1)
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.append(otio.schema.Gap(source_range=span(0.0, 3.0)))
    v2.append(
        otio.schema.Clip(
            name="Lower third",
            media_reference=otio.schema.GeneratorReference(name="Title", generator_kind="Text"),
            source_range=span(0.0, 2.0),
        )
    )
    timeline.tracks.append(v2)

    stereo = write_tone(folder / "rain.wav", 4.0, 48000, 2, 300.0)
    mono = write_tone(folder / "knock.wav", 1.0, 44100, 1, 600.0)
    sfx = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    sfx.metadata["soundify"] = {"generated": True, "role": "effects"}
    sfx.append(otio.schema.Gap(source_range=span(0.0, 2.0)))
    rain = sound_clip(
        stereo, "rain", "effect", 0.0, 3.0, [[0.0, -0.5], [3.0, 0.5]], [[0.0, -12.0], [3.0, 0.0]], 48000, 2, 4.0
    )
    knock = sound_clip(
        mono, "knock", "effect", 0.0, 0.8, [[0.0, 0.0]], [[0.0, -3.0], [0.8, -3.0]], 44100, 1, 1.0, 0.2, 0.2
    )
    for clip in (rain, knock):
        clip.source_range = span(clip.source_range.start_time.to_seconds(), clip.source_range.duration.to_seconds())
    sfx.append(rain)
    sfx.append(otio.schema.Gap(source_range=span(0.0, 1.0)))
    sfx.append(knock)
    timeline.tracks.append(sfx)
    timeline.tracks.markers.append(otio.schema.Marker(name="scene 1", marked_range=span(2.0, 0.0)))
    return timeline
