"""Synthetic footage: decodes to what was asked for, with the truth where it says."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from soundify_otio.errors import MediaError, OutputError

from helpers import synthetic


def _decode(path: Path, fmt: str) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format=fmt) for f in container.decode(video=0)]


def _jumps(frames: list[np.ndarray]) -> np.ndarray:
    hists = np.array([np.histogram(f, 16, (0, 256))[0] / f.size for f in frames])
    return np.abs(np.diff(hists, axis=0)).sum(axis=1)


def test_write_video_streams_frames_in_order(tmp_path: Path) -> None:
    asked: list[int] = []

    def frame(i: int) -> np.ndarray:
        asked.append(i)
        return np.full((48, 64, 3), i * 10, np.uint8)

    synthetic.write_video(tmp_path / "ramp.mp4", frame, 20, 25, 64, 48)
    assert asked == list(range(20))
    frames = _decode(tmp_path / "ramp.mp4", "gray")
    assert len(frames) == 20
    assert frames[0].shape == (48, 64)
    assert np.all(np.diff([f.mean() for f in frames]) > 5)


def test_write_video_mpeg4_fallback(tmp_path: Path) -> None:
    path = synthetic.write_video(
        tmp_path / "m.mp4", lambda i: np.zeros((32, 32, 3), np.uint8), 10, 25, 32, 32, codec="mpeg4"
    )
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
    assert len(_decode(path, "rgb24")) == 10


def test_write_video_rejects_bad_shapes(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="even"):
        synthetic.write_video(tmp_path / "odd.mp4", lambda i: np.zeros((31, 32, 3), np.uint8), 2, 25, 32, 31)
    with pytest.raises(OutputError, match="frame 0"):
        synthetic.write_video(tmp_path / "bad.mp4", lambda i: np.zeros((16, 16, 3), np.uint8), 2, 25, 32, 32)


def test_hard_cuts_change_exactly_at_the_cuts(tmp_path: Path) -> None:
    cuts = [12, 30, 31, 55]
    frames = _decode(synthetic.hard_cuts(tmp_path / "cuts.mp4", cuts, n_frames=70, size=(96, 64)), "gray")
    assert len(frames) == 70
    jumps = _jumps(frames)
    assert [int(i) + 1 for i in np.nonzero(jumps > 0.24)[0]] == cuts
    assert jumps[np.array(cuts) - 1].min() > 1.5
    assert np.delete(jumps, np.array(cuts) - 1).max() < 0.05
    motion = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(frames)]
    assert min(motion) > 0.5  # the sliding bar moves inside every segment too


def test_hard_cuts_rejects_cuts_outside(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        synthetic.hard_cuts(tmp_path / "x.mp4", [0, 5], n_frames=10, size=(32, 32))


def test_moving_square_moves_left_to_right(tmp_path: Path) -> None:
    video = synthetic.moving_square(tmp_path / "sq.mp4", n_frames=40, size=(160, 96), visible=range(8, 32))
    frames = _decode(video.path, "rgb24")
    assert len(frames) == 40
    xs = []
    for i, f in enumerate(frames):
        red = (f[..., 0] > 180) & (f[..., 1] < 90) & (f[..., 2] < 90)
        if i in range(8, 32):
            assert red.sum() > 400, i
            xs.append(red.nonzero()[1].mean() / f.shape[1])
            assert xs[-1] == pytest.approx(video.centres[i], abs=0.02)
        else:
            assert red.sum() == 0
            assert video.centres[i] is None
    assert np.all(np.diff(xs) > 0)
    assert xs[0] < 0.15
    assert xs[-1] > 0.85
    grey = frames[0][..., 1]
    assert abs(int(np.median(grey)) - 128) <= 3


def test_long_timeline_clips_and_truth(tmp_path: Path) -> None:
    timeline = synthetic.long_timeline(tmp_path, minutes=0.2, size=(64, 48), file_minutes=0.1)
    clips = list(timeline.find_clips())
    assert len(clips) == 2
    assert timeline.duration().value == 300
    for clip in clips:
        path = Path(clip.media_reference.target_url.removeprefix("file://"))
        frames = _decode(path, "gray")
        assert len(frames) == clip.source_range.duration.value == 150
        cuts = list(clip.metadata["synthetic"]["cut_frames"])
        assert cuts
        assert all(0 < c < 150 for c in cuts)
        assert [int(i) + 1 for i in np.nonzero(_jumps(frames) > 0.24)[0]] == cuts


@pytest.mark.parametrize("mode", ["truncate", "garbage"])
def test_corrupt_copy_is_undecodable(tmp_path: Path, mode: str) -> None:
    good = synthetic.hard_cuts(tmp_path / "good.mp4", [10], n_frames=40, size=(64, 48))
    bad = synthetic.corrupt_copy(good, tmp_path / "bad.mp4", mode)
    assert bad.stat().st_size != good.stat().st_size or bad.read_bytes() != good.read_bytes()
    with pytest.raises(av.FFmpegError):
        _decode(bad, "gray")


def test_corrupt_copy_missing_source(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        synthetic.corrupt_copy(tmp_path / "nope.mp4", tmp_path / "x.mp4")
