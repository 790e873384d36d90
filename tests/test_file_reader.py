"""The PyAV reader (vision.decode.FileReader) returns the frame the timeline means, frame-exact: read in order,
after seeks back and ahead, on a variable-rate file and on open-GOP B-frames; it decodes no further ahead than
FFmpeg's frame threads hold; its plane-read histograms and thumbnails agree with those computed from RGB."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import VideoReformatter

from soundify_otio.errors import MediaError
from soundify_otio.sample.project import footage_path
from soundify_otio.vision.decode import FileReader, keyframe_indices, probe_video
from soundify_otio.vision.planes import YuvFrame

from helpers.numbered import read_number, write_numbered

FRAMES, GOP = 150, 24


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("numbered")


@pytest.fixture(scope="module")
def closed_gop(media: Path) -> Path:
    return write_numbered(media / "closed.mp4", FRAMES, x264=f"keyint={GOP}:min-keyint={GOP}:bframes=3")


@pytest.fixture(scope="module")
def open_gop(media: Path) -> Path:
    """Non-IDR keyframes whose leading B-frames (shown before them) refer to the GOP before."""
    return write_numbered(media / "open.mp4", FRAMES, x264=f"keyint={GOP}:min-keyint={GOP}:bframes=3:open-gop=1")


def _vfr_pts(count: int) -> list[int]:
    """Milliseconds: runs of 20 ms (50 fps) and 80 ms (12.5 fps) frames, and one 33 ms frame."""
    steps = [20 if (n // 10) % 2 == 0 else 80 for n in range(count)]
    steps[count // 2] = 33
    return [int(t) for t in np.concatenate([[0], np.cumsum(steps[:-1])])]


@pytest.fixture(scope="module")
def variable_rate(media: Path) -> Path:
    pts = _vfr_pts(FRAMES)
    return write_numbered(media / "vfr.mp4", FRAMES, fps=25, pts=pts, time_base=Fraction(1, 1000), x264="bframes=2")


def _numbers(frames: np.ndarray) -> list[int]:
    return [read_number(frame) for frame in frames]


def _meant(path: Path, count: int) -> list[int]:
    """Per timeline frame i: the number of the frame on screen at (i + 1/2) / fps, found from the packets'
    timestamps alone (frames are numbered in presentation order)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size)
        fps, tb, origin = Fraction(stream.average_rate), stream.time_base, stream.start_time or 0
    times = [(p - origin) * tb for p in pts]
    return [max(0, int(np.searchsorted(times, (i + Fraction(1, 2)) / fps, side="left")) - 1) for i in range(count)]


@pytest.mark.parametrize("name", ["closed_gop", "open_gop"])
def test_read_in_order_every_frame_is_its_own(name, request):
    path = request.getfixturevalue(name)
    reader = FileReader(path, 64)
    batches = [reader.read(range(s, min(s + 16, FRAMES)), rgb=range(FRAMES)) for s in range(0, FRAMES, 16)]
    assert _numbers(np.concatenate([b.rgb for b in batches])) == list(range(FRAMES))
    assert sum(len(b) for b in batches) == FRAMES
    assert reader.seeks == 0


@pytest.mark.parametrize("name", ["closed_gop", "open_gop"])
def test_after_seeks_back_and_ahead_frames_stay_exact(name, request):
    """Every frame in a shuffled order (so each read seeks back, or reads or seeks ahead), and the frames around
    each keyframe: an open GOP's leading B-frames come before their keyframe but after it in the stream."""
    path = request.getfixturevalue(name)
    order = list(range(FRAMES))
    random.Random(7).shuffle(order)
    around_keys = [k + d for k in range(GOP, FRAMES, GOP) for d in (-3, -1, 0, 1)][::-1]
    reader = FileReader(path, 64)
    assert _numbers(reader.rgb(order + around_keys)) == order + around_keys
    assert reader.seeks > FRAMES // 3


def test_a_read_far_ahead_seeks_instead_of_decoding_the_frames_between(closed_gop):
    """Once the reader has seen how far apart keyframes are, a read further ahead than that seeks."""
    reader = FileReader(closed_gop, 64)
    assert _numbers(reader.read(range(0, GOP + 2), rgb=[GOP]).rgb) == [GOP]
    decoded = reader.decoded
    assert _numbers(reader.read(range(FRAMES - 5, FRAMES), rgb=range(FRAMES)).rgb) == list(range(FRAMES - 5, FRAMES))
    assert reader.seeks == 1
    assert reader.decoded - decoded < 2 * GOP


def test_variable_frame_rate_gives_the_frame_on_screen(variable_rate):
    info = probe_video(variable_rate)
    meant = _meant(variable_rate, info.frame_count)
    assert len(set(meant)) < len(meant)
    assert set(range(FRAMES)) - set(meant)  # frames repeated and passed over
    reader = FileReader(variable_rate, 64)
    assert _numbers(reader.read(range(info.frame_count), rgb=range(info.frame_count)).rgb) == meant
    order = list(range(info.frame_count))
    random.Random(3).shuffle(order)
    assert _numbers(FileReader(variable_rate, 64).rgb(order)) == [meant[i] for i in order]


def test_the_sample_footage_after_seeks_matches_a_plain_decode():
    """bikes.mp4 (no numbers burnt in): the reader's frames at shuffled indices are those of PyAV decoding
    the file from its start, frame by frame."""
    path = footage_path()
    with av.open(str(path)) as container:
        plain = [
            f.to_ndarray(width=64, height=64, format="rgb24", interpolation="AREA") for f in container.decode(video=0)
        ]
    info = probe_video(path)
    assert info.frame_count == len(plain)
    indices = list(range(0, len(plain), 3))
    random.Random(5).shuffle(indices)
    reader = FileReader(path, 64)
    got = reader.rgb(indices)
    np.testing.assert_array_equal(got, np.stack([plain[i] for i in indices]))
    assert reader.seeks > 0


def test_nothing_is_decoded_ahead_of_the_reads(closed_gop):
    """The first frames read leave the decoder no further on than FFmpeg's frame threads hold (one frame per
    thread and a few frames of B-frame reordering), however long the caller waits."""
    reader = FileReader(closed_gop, 64)
    reader.read(range(0, 10))
    threads = reader._stream.codec_context.thread_count or 16
    assert 10 <= reader.decoded <= 10 + threads + 4
    decoded = reader.decoded
    reader.read(range(10, 11))
    assert reader.decoded <= decoded + 1


def test_keyframe_indices_are_the_timeline_frames_of_keyframes(closed_gop, open_gop):
    for path in (closed_gop, open_gop):
        keys = keyframe_indices(path)
        assert list(keys) == list(range(0, FRAMES, GOP))
        assert _numbers(FileReader(path, 64).rgb(keys)) == list(keys)


def test_a_truncated_file_ends_where_its_frames_end(tmp_path):
    """The header counts FRAMES frames (its index comes first) but half the media data is cut off."""
    whole = write_numbered(tmp_path / "whole.mp4", FRAMES, x264=f"keyint={GOP}", faststart=True)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    with av.open(str(whole)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
    assert data.find(b"moov") < data.find(b"mdat")
    assert probe_video(whole).frame_count == FRAMES
    cut.write_bytes(data[: int(packets[FRAMES // 2].pos)])
    reader = FileReader(cut, 64)
    batch = reader.read(range(FRAMES), rgb=range(FRAMES))
    assert FRAMES // 3 < len(batch) < FRAMES
    assert len(reader) == len(batch)
    assert _numbers(batch.rgb) == list(range(len(batch)))


def test_unreadable_files_are_media_errors_naming_them(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    for path in (tmp_path / "missing.mp4", tmp_path, text):
        with pytest.raises(MediaError) as caught:
            FileReader(path, 64)
        assert str(path) in str(caught.value)


def _ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 Y'CbCr of uint8 RGB (the JPEG equations), float."""
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return np.stack([y, 128 + (b - y) / 1.772, 128 + (r - y) / 1.402], axis=-1)


def _block_means(picture: np.ndarray, size: int = 32) -> np.ndarray:
    h, w = picture.shape[:2]
    return picture.reshape(size, h // size, size, w // size, -1).mean(axis=(1, 3))


@pytest.mark.parametrize("name", ["closed_gop", "sample"])
def test_plane_thumbnails_match_those_computed_from_rgb(name, request):
    """The reader's thumbnails (planes averaged by libswscale) against Y'CbCr computed from its 224x224 RGB
    frames and averaged over 7x7 blocks."""
    path = footage_path() if name == "sample" else request.getfixturevalue(name)
    reader = FileReader(path, 224)
    batch = reader.read(range(0, 60), rgb=range(0, 60, 5))
    reference = np.stack([_block_means(_ycbcr(frame)) for frame in batch.rgb])
    ours = batch.thumbnails[batch.rgb_indices].astype(np.float64)
    assert batch.thumbnails.shape == (60, 32, 32, 3)
    assert batch.thumbnails.dtype == np.uint8
    difference = np.abs(ours - reference)
    assert difference.mean() < 1.5, (difference.mean(), difference.max())
    assert np.percentile(difference, 99) < 8, (difference.mean(), difference.max())


def test_luma_histograms_match_grey_histograms_of_rgb():
    """Histograms read from the luma plane of the street footage against BT.601 grey histograms of its 224x224
    RGB frames (every other pixel, as scene splitting counted them before): the cut threshold (0.24 of L1
    distance between neighbouring frames) keeps its meaning."""
    path = footage_path()
    batch = FileReader(path, 224, bins=16).read(range(0, 60), rgb=range(0, 60, 5))
    for index, frame in zip(batch.rgb_indices, batch.rgb, strict=True):
        grey = np.round(_ycbcr(frame[::2, ::2])[..., 0]).astype(int)
        reference = np.bincount((grey * 16 >> 8).ravel(), minlength=16) / grey.size
        assert np.abs(batch.histograms[index] - reference).sum() < 0.24 / 2


def test_full_range_and_other_layouts_read_as_full_range_ycbcr(tmp_path):
    """A yuvj420p (full-range) frame and a 10-bit one give the thumbnail of the same RGB picture."""
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:, :48] = (200, 30, 60)
    rgb[:, 48:] = (20, 180, 240)
    expected = _block_means(_ycbcr(rgb))
    for fmt in ("yuv420p", "yuvj420p", "yuv420p10le", "rgb24"):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        if fmt != "rgb24":
            frame = frame.reformat(format=fmt)
        thumb = YuvFrame.of(frame).motion_thumbnail(VideoReformatter()).astype(np.float64)
        assert np.abs(thumb - expected).mean() < 3, fmt
