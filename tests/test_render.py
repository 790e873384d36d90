"""Preview render: pan law, gain curve, placement, fades, crossfades, clipping, and the video mux."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from soundify_otio.errors import MediaError
from soundify_otio.preview.render import mux_preview, render_preview

from helpers.timelines import RATE, rt, sound_clip, time_range, write_tone

SR = 48000


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12)


def window(x: np.ndarray, start: float, length: float = 0.05) -> np.ndarray:
    return x[round(start * SR) : round((start + length) * SR)]


def timeline_with(*tracks: otio.schema.Track) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name="t", global_start_time=otio.opentime.RationalTime(86400, RATE))
    for track in tracks:
        tl.tracks.append(track)
    return tl


def sfx_track(*items: otio.core.Composable, role: str = "effects") -> otio.schema.Track:
    track = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    track.metadata["soundify"] = {"generated": True, "role": role}
    for item in items:
        track.append(item)
    return track


def flat_clip(
    path: Path,
    seconds: float,
    source_start: float = 0.0,
    *,
    kind: str = "effect",
    pan: float = 0.0,
    sample_rate: int = SR,
    channels: int = 1,
    file_seconds: float | None = None,
    **kw: object,
) -> otio.schema.Clip:
    kw.setdefault("fade_in", 0.0)
    kw.setdefault("fade_out", 0.0)
    return sound_clip(
        path,
        "s",
        kind,
        source_start,
        seconds,
        kw.pop("pan_keys", [[0, pan], [1, pan]]),
        kw.pop("gain_keys", [[0, 0.0], [1, 0.0]]),
        sample_rate,
        channels,
        file_seconds or seconds,
        **kw,
    )


def render(tl: otio.schema.Timeline, tmp_path: Path, **kw: object) -> tuple[np.ndarray, object]:
    stats = render_preview(tl, tmp_path / "preview.wav", **kw)
    data, sr = soundfile.read(tmp_path / "preview.wav", always_2d=True)
    assert sr == SR
    assert data.shape[1] == 2
    return data, stats


def write_noise(path: Path, seconds: float, sample_rate: int = SR, channels: int = 1) -> Path:
    rng = np.random.default_rng(1)
    soundfile.write(path, 0.2 * rng.standard_normal((round(seconds * sample_rate), channels)), sample_rate)
    return path


def test_fixture_renders_48k_stereo_at_timeline_length(annotated_timeline, tmp_path):
    calls = []
    data, stats = render(annotated_timeline, tmp_path, progress=lambda *a: calls.append(a))
    assert data.shape == (8 * SR, 2)
    assert stats.duration == 8.0
    assert stats.clips == 4
    assert stats.tracks == 3
    assert not stats.normalised
    assert stats.gain_db == 0.0
    assert -20 < stats.peak_dbfs < 0
    assert calls[-1] == ("render", 8, 8)
    assert rms_db(window(data, 0.2)) > -40  # the ambient bed plays from 0 s
    assert not list(tmp_path.glob(".preview*"))  # no temp file left


def test_pan_sweep_moves_from_left_to_right_at_constant_power(tmp_path):
    tone = write_tone(tmp_path / "tone.wav", 4.0, SR, 1)
    clip = flat_clip(tone, 4.0, pan_keys=[[0.0, -1.0], [4.0, 1.0]])
    data, _ = render(timeline_with(sfx_track(clip)), tmp_path)
    ratios, powers = [], []
    for t in (0.1, 1.0, 1.95, 3.0, 3.85):
        w = window(data, t)
        ratios.append(rms_db(w[:, 0]) - rms_db(w[:, 1]))
        powers.append(10 * np.log10(np.mean(np.square(w[:, 0])) + np.mean(np.square(w[:, 1]))))
    assert ratios[0] > 20
    assert ratios[-1] < -20
    assert abs(ratios[2]) < 0.5
    assert all(a > b for a, b in itertools.pairwise(ratios))
    assert max(powers) - min(powers) < 0.2  # cos/sin law: L^2 + R^2 constant
    assert abs(powers[2] - 10 * np.log10(0.25**2 / 2)) < 0.2  # no gain at centre beyond the law


def test_gain_curve_rises_20_db_and_holds_outside_keys(tmp_path):
    tone = write_tone(tmp_path / "tone.flac", 2.0, 44100, 1)
    clip = flat_clip(tone, 2.0, sample_rate=44100, gain_keys=[[0.5, -20.0], [1.5, 0.0]])
    data, _ = render(timeline_with(sfx_track(clip)), tmp_path)
    low, high = rms_db(window(data, 0.1, 0.3)), rms_db(window(data, 1.6, 0.3))
    assert abs((high - low) - 20.0) < 0.5
    assert abs(rms_db(window(data, 1.0)) - (low + 10)) < 1.0  # linear in dB between keys


def test_clip_placed_at_two_seconds_starts_at_sample_96000(tmp_path):
    noise = write_noise(tmp_path / "noise.wav", 1.0, 44100)
    track = sfx_track(otio.schema.Gap(source_range=time_range(0.0, 2.0)), flat_clip(noise, 1.0, sample_rate=44100))
    data, _ = render(timeline_with(track), tmp_path)
    onset = int(np.flatnonzero(np.abs(data[:, 0]) > 0.01)[0])
    assert abs(onset - 96000) <= SR / RATE  # global_start_time (01:00:00:00) is not added
    assert len(data) == 3 * SR


def test_fades_ramp_in_and_out(tmp_path):
    tone = write_tone(tmp_path / "tone.wav", 2.0, SR, 1)
    data, _ = render(timeline_with(sfx_track(flat_clip(tone, 2.0, fade_in=0.5, fade_out=0.5))), tmp_path)
    head = [rms_db(window(data, t)) for t in np.arange(0.0, 0.5, 0.05)]
    tail = [rms_db(window(data, t)) for t in np.arange(1.5, 1.99, 0.05)]
    steady = rms_db(window(data, 1.0))
    assert all(a < b for a, b in itertools.pairwise(head))
    assert head[0] < steady - 20
    assert all(a > b for a, b in itertools.pairwise(tail))
    assert tail[-1] < steady - 20
    assert abs(rms_db(window(data, 0.5, 0.2)) - steady) < 0.1


def test_crossfade_across_transition_keeps_level(tmp_path):
    noise = write_noise(tmp_path / "noise.wav", 3.0)
    a = flat_clip(noise, 1.0, 0.0, file_seconds=3.0)
    b = flat_clip(noise, 1.0, 1.5, file_seconds=3.0)
    fade = otio.schema.Transition(
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve, in_offset=rt(0.25), out_offset=rt(0.25)
    )
    data, _ = render(timeline_with(sfx_track(a, fade, b)), tmp_path)
    steady = rms_db(window(data, 0.3, 0.4))
    levels = [rms_db(window(data, t)) for t in np.arange(0.6, 1.4, 0.05)]
    assert min(levels) > steady - 3
    assert max(levels) < steady + 3
    # the outgoing clip runs on past the cut into its handle: no hole at the cut itself
    assert abs(rms_db(window(data, 0.975)) - steady) < 1.5


def test_fixture_crossfade_has_no_dip(annotated_timeline, tmp_path):
    for track in annotated_timeline.tracks[2:]:
        track.enabled = False  # listen to SFX 1 (bell, repeat, crossfade 2.0 .. 2.5 s) alone
    data, stats = render(annotated_timeline, tmp_path)
    assert stats.tracks == 1
    before = rms_db(window(data, 1.9, 0.1))
    levels = [rms_db(window(data, t)) for t in np.arange(2.0, 2.5, 0.05)]
    assert min(levels) > before - 3
    assert rms_db(window(data, 3.6, 0.3)) < -100  # silent after the repeat ends


def test_stereo_ambient_keeps_image_but_effect_is_downmixed(tmp_path):
    left_only = tmp_path / "left.wav"
    t = np.arange(SR) / SR
    soundfile.write(left_only, np.stack([0.25 * np.sin(2 * np.pi * 300 * t), 0 * t], axis=1), SR)
    amb, _ = render(
        timeline_with(sfx_track(flat_clip(left_only, 1.0, kind="ambient", channels=2), role="ambient")), tmp_path
    )
    assert abs(rms_db(amb[:, 0]) - rms_db(0.25 * np.sin(2 * np.pi * 300 * t))) < 0.1  # unity at centre
    assert rms_db(amb[:, 1]) < -100
    sfx, _ = render(timeline_with(sfx_track(flat_clip(left_only, 1.0, channels=2))), tmp_path)
    assert abs(rms_db(sfx[:, 0]) - rms_db(sfx[:, 1])) < 0.01


def test_mix_over_full_scale_is_normalised_and_reported(tmp_path):
    loud = tmp_path / "loud.wav"
    soundfile.write(loud, 0.9 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR), SR)
    tracks = [sfx_track(flat_clip(loud, 1.0, gain_keys=[[0, 3.0], [1, 3.0]])) for _ in range(2)]
    data, stats = render(timeline_with(*tracks), tmp_path)
    assert stats.normalised
    assert stats.peak_dbfs > 0
    assert stats.gain_db < -stats.peak_dbfs + 0.01
    assert 0.97 < np.abs(data).max() <= 1.0


def test_timeline_audio_is_included_only_on_request(tmp_path):
    write_tone(tmp_path / "dialogue.wav", 1.0, SR, 1)
    own = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    own.append(
        otio.schema.Clip(
            name="dialogue",
            source_range=time_range(0.0, 1.0),
            media_reference=otio.schema.ExternalReference(target_url="dialogue.wav"),
        )
    )
    tl = timeline_with(own)
    silent, stats = render(tl, tmp_path, base_dir=tmp_path)
    assert stats.clips == 0
    assert np.abs(silent).max() == 0
    heard, stats = render(tl, tmp_path, base_dir=tmp_path, include_timeline_audio=True)
    assert stats.clips == 1  # mono, centred: the tone's RMS (0.25 / sqrt 2) less the 3 dB pan law
    assert abs(rms_db(heard[:, 0]) - 20 * np.log10(0.25 / 2)) < 0.1


def test_missing_sound_is_a_media_error_and_writes_nothing(annotated_timeline, tmp_path):
    (tmp_path / "bell.wav").unlink()
    with pytest.raises(MediaError, match=r"bell\.wav"):
        render_preview(annotated_timeline, tmp_path / "out.wav")
    assert not list(tmp_path.glob("*out*"))


def write_video(path: Path, seconds: float = 2.0) -> Path:
    """Red for the first second, blue after, 64x48 at 24 fps."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(round(seconds * 24)):
            rgb = np.zeros((48, 64, 3), np.uint8)
            rgb[..., 0 if i < 24 else 2] = 220
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 24)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def video_clip(url: str, start: float, duration: float) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(target_url=url, available_range=time_range(0.0, 2.0))
    return otio.schema.Clip(name="v", source_range=time_range(start, duration), media_reference=ref)


def test_mux_gives_mp4_with_picture_gaps_and_top_track(tmp_path):
    video = write_video(tmp_path / "my clip.mp4")
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.append(video_clip(video.as_uri(), 1.0, 1.0))  # blue
    v1.append(otio.schema.Gap(source_range=time_range(0.0, 0.5)))
    v1.append(video_clip("my clip.mp4", 0.0, 0.5))  # red, relative path
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.append(video_clip(video.as_uri(), 0.0, 0.25))  # red on top of V1's blue
    tone = write_tone(tmp_path / "tone.wav", 2.0, SR, 1)
    tl = timeline_with(v1, v2, sfx_track(flat_clip(tone, 2.0)))
    render_preview(tl, tmp_path / "p.wav")
    calls = []
    mux_preview(tl, tmp_path / "p.wav", tmp_path / "p.mp4", progress=lambda *a: calls.append(a), base_dir=tmp_path)
    assert calls[-1] == ("mux", 48, 48)
    with av.open(str(tmp_path / "p.mp4")) as c:
        assert len(c.streams.video) == 1
        assert len(c.streams.audio) == 1
        vs, aus = c.streams.video[0], c.streams.audio[0]
        assert (vs.width, vs.height, vs.codec_context.name, vs.average_rate) == (64, 48, "h264", 24)
        assert aus.codec_context.name == "aac"
        assert aus.sample_rate == SR
        assert aus.channels == 2
        assert abs(float(vs.duration * vs.time_base) - 2.0) < 0.05
        assert abs(float(aus.duration * aus.time_base) - 2.0) < 0.05
        frames = [f.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0) for f in c.decode(vs)]
    assert len(frames) == 48

    def colour(i: int) -> str:
        r, _, b = frames[i]
        return "black" if max(frames[i]) < 40 else "red" if r > 150 > b else "blue" if b > 150 > r else "?"

    assert [colour(i) for i in (0, 5, 6, 23, 24, 35, 36, 47)] == [
        "red",
        "red",
        "blue",
        "blue",
        "black",
        "black",
        "red",
        "red",
    ]


def test_mux_with_unreadable_video_is_a_media_error(annotated_timeline, tmp_path):
    render_preview(annotated_timeline, tmp_path / "p.wav")
    with pytest.raises(MediaError, match=r"video\.mp4"):
        mux_preview(annotated_timeline, tmp_path / "p.wav", tmp_path / "p.mp4")
    assert not (tmp_path / "p.mp4").exists()
