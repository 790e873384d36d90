"""A file read in order by a succession of decord readers (vision.decode.FileReader): the same frames as one
reader, each new reader starting on a keyframe, and the frame pass's analysis and CLIP batches unchanged."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import decord
import numpy as np
import pytest

from soundify_otio.config import Config
from soundify_otio.pipeline import frame_pass as frame_pass_module
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.types import Shot
from soundify_otio.vision import decode
from soundify_otio.vision.decode import FileReader, open_reader

from helpers.known_answer import ColourLabels, colour_model
from helpers.threads import counts_threads, native_threads

FRAMES, GOP, SIZE = 90, 10, 64


@pytest.fixture(scope="module")
def gop_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A moving square, a keyframe every GOP frames (x264, no scene-cut keyframes)."""
    path = tmp_path_factory.mktemp("media") / "gop.mp4"
    options = {"preset": "ultrafast", "crf": "18", "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0"}
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25), options=options)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(FRAMES):
            img = np.full((96, 160, 3), 90, np.uint8)
            img[30:60, (i * 3) % 130 : (i * 3) % 130 + 30] = (200 + i % 50, 40, 255 - i)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    return path


def _plain(path: Path, first: int, stop: int) -> np.ndarray:
    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), width=SIZE, height=SIZE)
    return reader.get_batch(list(range(first, stop))).asnumpy()


def test_fresh_readers_take_over_on_keyframes_with_the_same_frames(gop_video):
    positions: list[int] = []
    closed: list[int] = []
    reader: FileReader

    def open_():
        positions.append(reader._next if positions else 0)
        return open_reader(gop_video, SIZE)

    reader = FileReader(open_, gop_video, reopen_frames=25, on_close=lambda: closed.append(reader._next))
    assert list(reader.keyframes) == list(range(0, FRAMES, GOP))
    frames = np.concatenate([reader.read(range(s, min(s + 7, FRAMES))) for s in range(0, FRAMES, 7)])
    reader.close()
    np.testing.assert_array_equal(frames, _plain(gop_video, 0, FRAMES))
    assert positions == [0, 30, 60]  # the first keyframe at or past 25 frames read by each reader
    assert closed == [30, 60, FRAMES]  # each reader closed before the next opened, and at the end


def test_a_reader_started_mid_file_and_reads_that_jump_stay_right(gop_video):
    reader = FileReader(lambda: open_reader(gop_video, SIZE), gop_video, reopen_frames=8)
    np.testing.assert_array_equal(reader.read(range(13, 24)), _plain(gop_video, 13, 24))
    np.testing.assert_array_equal(reader.read(range(24, 45)), _plain(gop_video, 24, 45))
    np.testing.assert_array_equal(reader.read(range(5, 9)), _plain(gop_video, 5, 9))  # back: one seek, no switch
    assert reader.opened == 2  # one switch, at keyframe 30 (read 11 frames by then)


def test_without_reopening_one_reader_reads_the_file(gop_video):
    reader = FileReader(lambda: open_reader(gop_video, SIZE), gop_video, reopen_frames=0)
    for s in range(0, FRAMES, 16):
        reader.read(range(s, min(s + 16, FRAMES)))
    assert reader.opened == 1


def _analyse(
    path: Path, tmp: Path, monkeypatch, reopen: int, sample_fps: float = 5.0, threads: list[int] | None = None
) -> tuple[list, list[int], int]:
    """Scenes, CLIP batch sizes and readers opened of two shots of `path`; with `threads`, the process's
    thread count at each batch."""
    monkeypatch.setattr(decode, "REOPEN_FRAMES", reopen)
    model = colour_model()
    batches: list[int] = []
    opened: list[int] = []
    real_encode, real_open = model.encode_frames, frame_pass_module.open_reader

    def encode(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batches.append(len(frames))
        if threads is not None:
            threads.append(native_threads())
        return real_encode(frames)

    monkeypatch.setattr(model, "encode_frames", encode)
    monkeypatch.setattr(frame_pass_module, "open_reader", lambda *a: opened.append(1) or real_open(*a))
    shots = [
        Shot(i, f"clip {i}", path, first / 25, i * 10.0, n / 25) for i, (first, n) in enumerate([(0, 37), (37, 50)])
    ]
    config = Config(batch_size=4, analysis_size=SIZE, sample_fps=sample_fps)
    scenes = Soundify(model, ColourLabels(), config, cache_dir=tmp).analyse(shots).scenes
    return scenes, batches, len(opened)


def test_frame_pass_analysis_and_batches_do_not_change_with_reopening(gop_video, tmp_path, monkeypatch):
    once, batches_once, opened_once = _analyse(gop_video, tmp_path / "a", monkeypatch, 0)
    often, batches_often, opened_often = _analyse(gop_video, tmp_path / "b", monkeypatch, 12)
    assert opened_once == 1 and opened_often > 3
    assert batches_often == batches_once
    assert [s.scene.id for s in often] == [s.scene.id for s in once]
    for a, b in zip(once, often, strict=True):
        np.testing.assert_array_equal(a.frames.distances, b.frames.distances)
        np.testing.assert_array_equal(a.frames.thumbnails, b.frames.thumbnails)
        np.testing.assert_array_equal(a.frames.embeddings, b.frames.embeddings)
        np.testing.assert_array_equal(np.asarray(a.frames.activations), np.asarray(b.frames.activations))


def test_clip_batches_are_full_but_the_last_whatever_the_reads(gop_video, tmp_path, monkeypatch):
    """Reads of 4 frames with 2 frames in 3 sampled: the queue passes the batch size in the middle of a
    read, and what is over waits for the next batch (it used to become a batch of its own, 1-2 frames,
    slower a frame and, counted towards SEALED_LIMIT, encoded beside a decoder still running ahead)."""
    every = 25 / 1.5
    sampled = sum(len(frame_pass_module.sampled_offsets(n, 25, every)) for n in (37, 50))
    for reopen in (0, 12):
        _, batches, _ = _analyse(gop_video, tmp_path / f"r{reopen}", monkeypatch, reopen, sample_fps=every)
        assert batches == [4] * (sampled // 4) + [sampled % 4]


def test_asked_to_be_replaced_a_reader_goes_at_its_next_keyframe(gop_video):
    reader = FileReader(lambda: open_reader(gop_video, SIZE), gop_video, reopen_frames=1000)
    reader.read(range(0, 16))
    reader.replace_soon()
    np.testing.assert_array_equal(reader.read(range(16, 40)), _plain(gop_video, 16, 40))
    assert reader.opened == 2  # replaced at keyframe 20, not after 1,000 frames


@counts_threads
def test_with_every_frame_sampled_no_batch_is_encoded_beside_an_open_decoder(gop_video, tmp_path, monkeypatch):
    """Four full batches waiting ask the reader to go at its next keyframe, where they are encoded with no
    decoder thread running (a decord reader runs 4); the batches are those of a single reader."""
    idle = native_threads()
    threads: list[int] = []
    _, batches, opened = _analyse(gop_video, tmp_path / "a", monkeypatch, 1000, sample_fps=25.0, threads=threads)
    _, one_reader, _ = _analyse(gop_video, tmp_path / "b", monkeypatch, 0, sample_fps=25.0)
    assert opened > 1 and batches == one_reader == [4] * 21 + [3]
    assert max(threads) <= idle
