"""Preview render: the soundify tracks (and, where asked, the timeline's own sound) mixed to a
stereo WAV at a target loudness under a true-peak ceiling, and muxed with the timeline's picture."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import soundfile
from scipy.signal import firwin, resample_poly

from soundify_otio.atomic import atomic_output
from soundify_otio.audio.headers import BadHeader, check_header, checked_info
from soundify_otio.audio.loudness import ProgrammeMeter, programme_gain_db
from soundify_otio.errors import MediaError, OutputError, TimelineError
from soundify_otio.progress import ProgressHook
from soundify_otio.timeline.media import MediaRoots, locate_media
from soundify_otio.timeline.metadata import clip_info, is_generated
from soundify_otio.timeline.recover import recovered
from soundify_otio.timeline.timecode import timeline_rate

BLOCK_SECONDS = 1.0
"""Length of one render block: memory holds one block of output per active clip, not the timeline."""
HEADROOM_DB = -0.1
"""Peak the mix is normalised to when it would clip."""
MAX_GAIN_DB = 48.0
"""The loudest gain key a clip may carry (dB); the writer stays far below (loudness +24, Grad-CAM 0)."""
BLACK_SIZE = (640, 360)
"""Picture size when the timeline has no video clip at all."""
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class RenderStats:
    """What a preview render did: its length, the mix's peak and whether it was normalised."""

    path: Path
    duration: float
    """Seconds of timeline rendered."""
    sample_rate: int
    clips: int
    tracks: int
    peak_dbfs: float
    """Peak of the raw mix (before any protection); above 0 means it would have clipped."""
    normalised: bool
    gain_db: float
    """Gain applied to the whole mix (0 unless normalised)."""
    elapsed: float
    """Wall seconds the render took."""
    loudness: tuple[float, float] | None = None
    """Integrated loudness (LUFS) before and after the gain, where a loudness target was given."""
    true_peak: tuple[float, float] | None = None
    """True peak (dBTP) before and after the gain, where a loudness target was given."""
    ceiling_limited: bool = False
    """The true-peak ceiling held the gain below what the loudness target asked for."""
    unheard: tuple[str, ...] = ()
    """The timeline's own sounds that could not be decoded (each: file and reason)."""
    timeline_sound: bool = False
    """The timeline's own sound is in the mix (not only our tracks)."""

    def mix(self) -> str:
        """What the preview holds, in words (the report says it beside its player)."""
        if not self.timeline_sound:
            return "our tracks alone (as render --ours-only makes it)"
        level = (
            f", brought to {self.loudness[1]:.1f} LUFS (true peak {self.true_peak[1]:.1f} dBTP)"
            if self.loudness is not None and self.true_peak is not None
            else ""
        )
        unheard = f"; {len(self.unheard)} of its sounds could not be decoded" if self.unheard else ""
        return f"the timeline's own sound with our tracks{level}, as render makes it by default{unheard}"


def _clip_path(clip: otio.schema.Clip, base_dir: Path | None, media_roots: MediaRoots) -> Path:
    ref = clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        return locate_media(ref.target_url, base_dir or Path.cwd(), media_roots)
    raise MediaError(f"clip {clip.name!r} has no external media reference")


def _media_offset(clip: otio.schema.Clip) -> float:
    """Seconds into the file of the clip's source start (source time minus the media's own start)."""
    ref = clip.media_reference
    start = clip.source_range.start_time if clip.source_range else otio.opentime.RationalTime()
    if ref.available_range is not None:
        start = start - ref.available_range.start_time.rescaled_to(start)
    return start.to_seconds()


# --- audio -------------------------------------------------------------------------------------


class _Source:
    """Sequential-or-random reads of a sound file at the output rate; resampling is done per chunk
    with enough overlap that the seams are exact (same result as resampling the whole file)."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.path = path
        try:
            self._file = soundfile.SoundFile(str(path))
        except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
            raise MediaError(f"cannot read sound: {exc}", path) from exc
        try:
            check_header(self._file.samplerate, self._file.channels, self._file.frames)
        except BadHeader as exc:
            self._file.close()
            raise MediaError(f"cannot read sound: {exc}", path) from exc
        self.channels = self._file.channels
        g = math.gcd(sample_rate, self._file.samplerate)
        self._up, self._down = sample_rate // g, self._file.samplerate // g
        if self._up != self._down:
            rate = max(self._up, self._down)
            self._fir = firwin(20 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
            self._pad = 10 * rate // self._up + 2

    def close(self) -> None:
        self._file.close()

    def _raw(self, start: int, n: int) -> np.ndarray:
        """Native-rate frames [start, start + n), zeros outside the file."""
        out = np.zeros((n, self.channels), np.float32)
        lo, hi = max(start, 0), min(start + n, self._file.frames)
        if hi > lo:
            try:
                self._file.seek(lo)
                out[lo - start : hi - start] = self._file.read(hi - lo, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError) as exc:
                raise MediaError(f"cannot read sound: {exc}", self.path) from exc
        return out

    def read(self, start: int, n: int) -> np.ndarray:
        """Output-rate frames [start, start + n) as (n, channels) float32."""
        if self._up == self._down:
            return self._raw(start, n)
        up, down = self._up, self._down
        first = (start * down // up - self._pad) // down * down
        last = -(-(start + n) * down // up) + self._pad
        y = resample_poly(self._raw(first, last - first), up, down, axis=0, window=self._fir)
        skip = start - first * up // down
        return y[skip : skip + n].astype(np.float32, copy=False)


@dataclass
class _Segment:
    """One clip as heard: output samples [start, end) (with transition handles), and its automation."""

    path: Path
    start: int
    end: int
    clip_start: int
    """Output sample of the clip's first frame: t = 0 of its keyframes."""
    source_start: int
    """Output-rate sample of the file heard at `start`."""
    duration: float
    pan: tuple[np.ndarray, np.ndarray]
    gain_db: tuple[np.ndarray, np.ndarray]
    fade_in: float
    fade_out: float
    xfade_in: tuple[float, float] | None
    xfade_out: tuple[float, float] | None
    stereo: bool


_VALUE_RANGES = {"pan": (-1.0, 1.0), "gain_db": (-200.0, MAX_GAIN_DB)}
"""What each keyframed value may be (docs/metadata.md); anything else is refused, never mixed."""


def _curve(raw: list[list[float]], key: str, clip: otio.schema.Clip) -> tuple[np.ndarray, np.ndarray]:
    """A clip's keyframes as (times, values), checked: finite, times non-decreasing, values in range."""
    low, high = _VALUE_RANGES[key]
    try:
        keys = np.asarray(raw, dtype=float)
        if keys.ndim != 2 or keys.shape[0] < 1 or keys.shape[1] != 2:
            raise ValueError("not a list of [time, value] pairs")
        if not np.isfinite(keys).all():
            raise ValueError("a time or value is not a finite number")
        if np.any(np.diff(keys[:, 0]) < 0):
            raise ValueError("times go backwards")
        if keys[:, 1].min() < low or keys[:, 1].max() > high:
            raise ValueError(f"a value lies outside {low:g}..{high:g}")
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise TimelineError(f"clip {_name(clip)}: malformed soundify keyframes {key!r}: {exc}") from exc
    return keys[:, 0], keys[:, 1]


def _name(clip: otio.schema.Clip) -> str:
    return repr(clip.name[:80])


def _offset_seconds(transition: otio.schema.Transition | None, which: str) -> float:
    """A transition's in or out offset in seconds (0 without a transition), finite and not negative."""
    if transition is None:
        return 0.0
    value = getattr(transition, which).to_seconds()
    if not math.isfinite(value) or value < 0:
        raise TimelineError(f"transition {transition.name!r:.80}: {which} is not a length of time")
    return value


def _track_segments(
    track: otio.schema.Track, sr: int, base_dir: Path | None, media_roots: MediaRoots
) -> list[_Segment]:
    """The track's enabled clips as segments; positions are track time (global_start_time not added)."""
    items = list(track)
    segments: list[_Segment] = []
    pos = 0.0
    flat = (np.zeros(1), np.zeros(1))
    for i, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            continue
        start, dur = pos, item.duration().to_seconds()
        pos += dur
        if not isinstance(item, otio.schema.Clip) or not item.enabled:
            continue
        before = items[i - 1] if i > 0 else None
        after = items[i + 1] if i + 1 < len(items) else None
        before = before if isinstance(before, otio.schema.Transition) else None
        after = after if isinstance(after, otio.schema.Transition) else None
        head_in = _offset_seconds(before, "in_offset")  # earlier start, into the fade
        head_out = _offset_seconds(before, "out_offset")
        tail_in = _offset_seconds(after, "in_offset")
        tail = _offset_seconds(after, "out_offset")  # later end, out of the fade
        path = _clip_path(item, base_dir, media_roots)
        _require_regular_file(path)
        try:
            info = checked_info(path)
        except (soundfile.LibsndfileError, RuntimeError, OSError, BadHeader) as exc:
            reason = "missing" if not path.exists() else f"not a readable sound file ({exc})"
            raise MediaError(reason, path) from exc
        record = clip_info(item)  # our record, or rebuilt from the format by recovered()
        if record is not None:
            pan, gain = _curve(record.pan, "pan", item), _curve(record.gain_db, "gain_db", item)
            fade_in, fade_out = record.fade_in, record.fade_out
            stereo = record.kind != "effect" and info.channels >= 2
        else:
            pan, gain, fade_in, fade_out, stereo = flat, flat, 0.0, 0.0, info.channels >= 2
        segments.append(
            _Segment(
                path=path,
                start=round((start - head_in) * sr),
                end=round((start + dur + tail) * sr),
                clip_start=round(start * sr),
                source_start=round((_media_offset(item) - head_in) * sr),
                duration=dur,
                pan=pan,
                gain_db=gain,
                fade_in=fade_in,
                fade_out=fade_out,
                xfade_in=(-head_in, head_out) if head_in + head_out > 0 else None,  # a 0-length transition is a cut
                xfade_out=(dur - tail_in, dur + tail) if tail_in + tail > 0 else None,
                stereo=stereo,
            )
        )
    return segments


def _mix(seg: _Segment, src: _Source, buf: np.ndarray, b0: int, sr: int) -> None:
    """Add the segment's part inside the block starting at output sample b0 to buf."""
    lo, hi = max(b0, seg.start), min(b0 + len(buf), seg.end)
    if hi <= lo:
        return
    x = src.read(seg.source_start + lo - seg.start, hi - lo)
    t = (np.arange(lo, hi) - seg.clip_start) / sr
    env = 10.0 ** (np.interp(t, *seg.gain_db) / 20.0)
    if seg.fade_in > 0:
        env *= np.clip(t / seg.fade_in, 0.0, 1.0)
    if seg.fade_out > 0:
        env *= np.clip((seg.duration - t) / seg.fade_out, 0.0, 1.0)
    if seg.xfade_in:
        a, b = seg.xfade_in
        env *= np.sin(np.pi / 2 * np.clip((t - a) / (b - a), 0.0, 1.0))
    if seg.xfade_out:
        a, b = seg.xfade_out
        env *= np.cos(np.pi / 2 * np.clip((t - a) / (b - a), 0.0, 1.0))
    theta = (np.interp(t, *seg.pan) + 1.0) * np.pi / 4
    left, right = np.cos(theta), np.sin(theta)
    if seg.stereo:
        left, right = np.minimum(1.0, _SQRT2 * left), np.minimum(1.0, _SQRT2 * right)
        xl, xr = x[:, 0], x[:, 1]
    else:
        xl = xr = x.mean(axis=1)
    buf[lo - b0 : hi - b0, 0] += xl * env * left
    buf[lo - b0 : hi - b0, 1] += xr * env * right


def _audio_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    """Our tracks (the timeline's own sound is mixed by `_own_sound`)."""
    return [t for t in timeline.tracks if isinstance(t, otio.schema.Track) and t.enabled and is_generated(t)]


def _own_sound(
    timeline: otio.schema.Timeline, total: int, sample_rate: int, folder: Path, base_dir: Path, media_roots: MediaRoots
) -> tuple[np.ndarray, list[MediaError], int]:
    """The timeline's own sound (its audio clips, and the production sound of video clips no audio clip
    links) mixed to stereo in a memory-mapped scratch file in `folder`; the sources that could not be
    heard; and how many were mixed."""
    import tempfile

    from soundify_otio.audio.decode import mix_stereo_into
    from soundify_otio.timeline.shots import find_shots
    from soundify_otio.timeline.sound import timeline_sound

    shots, _ = find_shots(timeline, base_dir, media_roots)
    sources = timeline_sound(timeline, shots, base_dir, media_roots)
    shape = (max(1, total), 2)
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".soundify-own-") as scratch:
            if hasattr(os, "posix_fallocate"):  # a full disk fails here, not as SIGBUS in the mapped writes
                os.posix_fallocate(scratch.fileno(), 0, shape[0] * shape[1] * 4)
            own = np.memmap(scratch, dtype=np.float32, mode="w+", shape=shape)
    except OSError as exc:
        raise OutputError(f"cannot write the scratch mix of the timeline's own sound ({exc.strerror})", folder) from exc
    problems = mix_stereo_into(own, sources, sample_rate)
    unheard = [p for p in problems if "no audio stream" not in p.reason]  # a silent video file is no loss
    return own, unheard, len(sources) - len(problems)


def render_preview(
    timeline: otio.schema.Timeline,
    out_wav: Path,
    *,
    sample_rate: int = 48000,
    include_timeline_audio: bool = False,
    loudness: float | None = None,
    true_peak: float = -1.0,
    progress: ProgressHook | None = None,
    base_dir: Path | None = None,
    media_roots: MediaRoots = (),
) -> RenderStats:
    """Bake the soundify tracks (and, with `include_timeline_audio`, the timeline's own sound: its audio
    clips at their levels and the production sound of unlinked video clips) into a stereo float WAV
    following their keyframes, fades and crossfades. With a `loudness` target (LUFS) the programme is
    brought to it, the gain lowered where the true peak would pass `true_peak` (dBTP); without one it is
    normalised only if it would clip. Progress stages: "render" and "normalise" (blocks done, total)."""
    began = time.perf_counter()
    out_wav = Path(out_wav)
    timeline = recovered(timeline, base_dir or Path.cwd(), media_roots)  # our tracks, read back from any format
    tracks = _audio_tracks(timeline)
    segments = sorted(
        (s for tr in tracks for s in _track_segments(tr, sample_rate, base_dir, media_roots)), key=lambda s: s.start
    )
    total = round(timeline.tracks.duration().to_seconds() * sample_rate)
    own: np.ndarray | None = None
    unheard: list[MediaError] = []
    own_clips = 0
    if include_timeline_audio:
        folder = out_wav.resolve().parent
        own, unheard, own_clips = _own_sound(timeline, total, sample_rate, folder, base_dir or Path.cwd(), media_roots)
    meter = ProgrammeMeter(sample_rate, 2)
    block = max(1, round(BLOCK_SECONDS * sample_rate))
    n_blocks = -(-total // block)
    fmt = "RF64" if total * 8 >= 2**32 - 1024 else "WAV"
    peak, nxt = 0.0, 0
    active: list[tuple[_Segment, _Source]] = []
    with (
        atomic_output(out_wav, ".wav", verify=lambda written: _check_wav(written, total, sample_rate)) as tmp,
        _writing(out_wav),
    ):
        with soundfile.SoundFile(str(tmp), "w", sample_rate, 2, subtype="FLOAT", format=fmt) as out:
            for k, b0 in enumerate(range(0, total, block)):
                buf = np.zeros((min(block, total - b0), 2), np.float32)
                while nxt < len(segments) and segments[nxt].start < b0 + len(buf):
                    active.append((segments[nxt], _Source(segments[nxt].path, sample_rate)))
                    nxt += 1
                for seg, src in active:
                    _mix(seg, src, buf, b0, sample_rate)
                if own is not None:
                    buf += own[b0 : b0 + len(buf)]
                for seg, src in [a for a in active if a[0].end <= b0 + len(buf)]:
                    src.close()
                    active.remove((seg, src))
                if not np.isfinite(buf).all():  # never written: a NaN would poison the whole preview
                    raise TimelineError(f"the mix has non-finite samples at {b0 / sample_rate:.3f} s")
                peak = max(peak, float(np.abs(buf).max(initial=0.0)))
                if loudness is not None:
                    meter.add(buf)
                out.write(buf)
                if progress:
                    progress("render", k + 1, n_blocks)
        for _, src in active:
            src.close()
        del own  # the scratch file goes with its last map
        levels, limited = None, False
        if loudness is not None:
            before, peak_before = meter.integrated(), meter.true_peak_db()
            gain_db, limited = programme_gain_db(before, peak_before, loudness, true_peak)
            gain = 10.0 ** (gain_db / 20.0)
            levels = ((before, before + gain_db), (peak_before, peak_before + gain_db))
        else:
            gain = 10.0 ** (HEADROOM_DB / 20.0) / peak if peak > 1.0 else 1.0
        if gain != 1.0:
            _scale_in_place(tmp, gain, block, progress)
    return RenderStats(
        path=out_wav,
        duration=total / sample_rate,
        sample_rate=sample_rate,
        clips=len(segments) + own_clips,
        tracks=len(tracks),
        peak_dbfs=20.0 * math.log10(peak) if peak > 0 else -math.inf,
        normalised=gain != 1.0,
        gain_db=20.0 * math.log10(gain),
        elapsed=time.perf_counter() - began,
        loudness=levels[0] if levels else None,
        true_peak=levels[1] if levels else None,
        ceiling_limited=limited,
        unheard=tuple(str(p) for p in unheard),
        timeline_sound=include_timeline_audio,
    )


@contextmanager
def _writing(target: Path) -> Iterator[None]:
    """libsndfile's errors while the preview is written (opened, appended, closed: a full disk, say)
    become an OutputError naming `target`; reading a source raises MediaError, so none is mistaken."""
    try:
        yield
    except soundfile.LibsndfileError as exc:
        raise OutputError(f"cannot write: {exc.error_string} (is the disk full?)", target) from exc


def _check_wav(path: Path, frames: int, sample_rate: int) -> None:
    """The written preview holds every frame it should (a short write on a full disk does not)."""
    info = soundfile.info(str(path))
    if (info.frames, info.samplerate, info.channels) != (frames, sample_rate, 2):
        raise ValueError(f"{info.frames} of {frames} frames written")


def _check_video(path: Path) -> None:
    """The written .mp4 opens and holds a picture and a sound stream."""
    with av.open(str(path)) as container:
        if not (container.streams.video and container.streams.audio):
            raise ValueError("a stream is missing")


def _scale_in_place(path: Path, gain: float, block: int, progress: ProgressHook | None) -> None:
    """Multiply a float WAV by gain, block by block, rewriting it in place."""
    with soundfile.SoundFile(str(path), "r+") as f:
        n_blocks = -(-f.frames // block)
        for k, pos in enumerate(range(0, f.frames, block)):
            f.seek(pos)
            data = f.read(block, dtype="float32", always_2d=True)
            f.seek(pos)
            f.write(data * np.float32(gain))
            if progress:
                progress("normalise", k + 1, n_blocks)


# --- video -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shot:
    """A clip's stretch of output frames [start, end) and the file time of its first frame."""

    path: Path
    start: int
    end: int
    source: float


def _video_runs(
    timeline: otio.schema.Timeline, rate: float, n_frames: int, base_dir: Path | None, media_roots: MediaRoots
) -> list[tuple[int, int, _Shot | None]]:
    """Output frames as runs (start, end, shot or None for black); the top track wins overlaps."""
    shots: list[_Shot] = []
    owner = np.full(n_frames, -1, np.int64)
    for track in timeline.video_tracks():
        if not track.enabled:
            continue
        pos = 0.0
        for item in track:
            if isinstance(item, otio.schema.Transition):
                continue
            start, pos = pos, pos + item.duration().to_seconds()
            if isinstance(item, otio.schema.Clip) and item.enabled:
                shot = _Shot(
                    _clip_path(item, base_dir, media_roots), round(start * rate), round(pos * rate), _media_offset(item)
                )
                owner[shot.start : shot.end] = len(shots)
                shots.append(shot)
    runs: list[tuple[int, int, _Shot | None]] = []
    edges = np.flatnonzero(np.diff(owner)) + 1
    for a, b in zip(np.r_[0, edges], np.r_[edges, n_frames]):
        if b > a:
            idx = int(owner[a])
            runs.append((int(a), int(b), shots[idx] if idx >= 0 else None))
    return runs


def _require_regular_file(path: Path) -> None:
    """MediaError for a missing path or anything but a regular file: opening a FIFO or a device
    would block or never end."""
    if not path.exists():
        raise MediaError("missing", path)
    if not path.is_file():
        raise MediaError("is not a regular file (a folder, FIFO or device)", path)


def _open_video(path: Path) -> av.container.InputContainer:
    _require_regular_file(path)
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise MediaError(f"cannot open video: {exc}", path) from exc
    if not container.streams.video:
        container.close()
        raise MediaError("has no video stream", path)
    return container


def _shot_frames(shot: _Shot, first: int, count: int, rate: float) -> Iterator[av.VideoFrame]:
    """`count` frames of the shot from output frame `first`, the nearest source frame for each."""
    with _open_video(shot.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base
        if time_base is None:
            raise MediaError("its video stream has no time base", shot.path)
        origin = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
        t0 = origin + shot.source + (first - shot.start) / rate
        tolerance = 0.5 / rate
        container.seek(max(0, int(t0 / time_base)), stream=stream)
        k, current = 0, None
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                while k < count and frame.time > t0 + k / rate + tolerance:
                    yield frame if current is None else current
                    k += 1
                if k >= count:
                    return
                current = frame
        except av.FFmpegError as exc:
            raise MediaError(f"cannot decode video: {exc}", shot.path) from exc
        if current is None:
            raise MediaError(f"no frame at {t0:.3f} s", shot.path)
        for _ in range(count - k):
            yield current


MAX_VIDEO_RATE = 1000
"""Highest timeline frame rate a video preview is made at (high-speed footage is edited at far less)."""


def check_video_rate(timeline: otio.schema.Timeline, path: Path | None = None) -> float:
    """The timeline's frame rate, or TimelineError (naming `path`) when no video preview is made at it."""
    rate = timeline_rate(timeline)
    if rate > MAX_VIDEO_RATE:
        raise TimelineError(
            f"its frame rate is {rate:g} fps; a video preview is made at {MAX_VIDEO_RATE} fps at most", path
        )
    return rate


def mux_preview(
    timeline: otio.schema.Timeline,
    wav: Path,
    out_video: Path,
    progress: ProgressHook | None = None,
    *,
    base_dir: Path | None = None,
    media_roots: MediaRoots = (),
) -> None:
    """Encode the timeline's picture (H.264 yuv420p at the timeline rate) with `wav` as AAC into an
    .mp4, streaming frames; gaps are black, frames are scaled to the first clip's size.
    Progress stage: "mux" (frames done, total). TimelineError, before anything is allocated, for a
    timeline whose frame rate is above MAX_VIDEO_RATE (a rate of 1e9 would mean a frame table of
    8 GB per second)."""
    rate = check_video_rate(timeline)
    fps = Fraction(rate).limit_denominator(1001)
    n_frames = math.ceil(timeline.tracks.duration().to_seconds() * rate - 1e-6)
    runs = _video_runs(timeline, rate, n_frames, base_dir, media_roots)
    width, height = BLACK_SIZE
    for i, path in enumerate(dict.fromkeys(r[2].path for r in runs if r[2] is not None)):
        with _open_video(path) as c:  # every file checked before anything is written
            if i == 0:
                width, height = c.streams.video[0].width // 2 * 2, c.streams.video[0].height // 2 * 2
    try:
        audio = soundfile.SoundFile(str(wav))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise MediaError(f"cannot read preview audio: {exc}", wav) from exc
    if audio.channels > 2:
        audio.close()
        raise MediaError(f"{audio.channels} channels; expected mono or stereo", wav)
    layout = "stereo" if audio.channels == 2 else "mono"
    black = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")
    black = black.reformat(format="yuv420p")
    with (
        audio,
        atomic_output(Path(out_video), ".mp4", verify=_check_video) as tmp,
        av.open(str(tmp), "w", format="mp4") as out,
    ):
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "20"}
        as_ = out.add_stream("aac", rate=audio.samplerate, layout=layout)
        as_.bit_rate = 192_000
        sent = 0

        def feed_audio(until: int) -> None:
            nonlocal sent
            while sent < until:
                data = audio.read(min(4096, until - sent), dtype="float32", always_2d=True)
                if not len(data):
                    return
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T), format="fltp", layout=layout)
                frame.sample_rate, frame.pts = audio.samplerate, sent
                frame.time_base = Fraction(1, audio.samplerate)
                out.mux(as_.encode(frame))
                sent += len(data)

        done = 0
        for start, end, shot in runs:
            count = end - start
            frames = _shot_frames(shot, start, count, rate) if shot else (black for _ in range(count))
            for frame in frames:
                picture = frame.reformat(width=width, height=height, format="yuv420p")
                picture.pts, picture.time_base = done, 1 / fps
                out.mux(vs.encode(picture))
                done += 1
                feed_audio(math.ceil(done / rate * audio.samplerate))
                if progress:
                    progress("mux", done, n_frames)
        feed_audio(audio.frames)
        out.mux(vs.encode(None))
        out.mux(as_.encode(None))
