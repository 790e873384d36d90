"""The pixel pass has no per-shot tax: one reader and one probe per file, CLIP batches shared by shots,
and each shot's analysis exactly what it would be on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soundify_otio.config import Config
from soundify_otio.pipeline import frame_pass as frame_pass_module
from soundify_otio.pipeline import soundify as soundify_module
from soundify_otio.pipeline.frame_pass import sampled_offsets
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.types import Shot

from helpers.known_answer import ColourLabels, colour_model


def _shot(index: int, path: Path, first_frame: int, frames: int, fps: float = 25.0) -> Shot:
    return Shot(index, f"clip {index}", path, first_frame / fps, index * 10.0, frames / fps)


def test_sampled_offsets_step_through_the_shot():
    assert sampled_offsets(60, 25.0, 2.0) == [0, 12, 25, 38, 50]
    assert sampled_offsets(1, 25.0, 2.0) == [0]


def test_tiny_shots_share_one_reader_one_probe_and_full_batches(square, tmp_path, monkeypatch):
    model = colour_model()
    opened, probed, batches = [], [], []
    real_open, real_probe, real_encode = frame_pass_module.FileReader, soundify_module.probe_video, model.encode_frames
    monkeypatch.setattr(frame_pass_module, "FileReader", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    monkeypatch.setattr(soundify_module, "probe_video", lambda p: probed.append(p) or real_probe(p))
    monkeypatch.setattr(model, "encode_frames", lambda f: batches.append(len(f)) or real_encode(f))
    missing = tmp_path / "missing.mp4"
    shots = [_shot(i, square.path, i, 1) for i in range(40)]
    shots.insert(5, _shot(99, missing, 0, 1))
    shots.insert(9, _shot(98, square.path, 500, 1))  # past the file's end
    config = Config(batch_size=16)
    analysis = Soundify(model, ColourLabels(), config, cache=tmp_path / "cache").analyse(shots)
    assert len(opened) == 1
    assert sorted(map(str, probed)) == sorted({str(square.path), str(missing)})
    assert batches == [16, 16, 8]
    assert len(analysis.scenes) == 40
    assert len(analysis.skipped) == 2
    assert {s.clip_name for s in analysis.skipped} == {"clip 99", "clip 98"}

    alone = Soundify(colour_model(), ColourLabels(), config)
    for shot, scene in zip([s for s in shots if s.index < 40], analysis.scenes, strict=True):
        own = alone.analyse([shot]).scenes[0]
        assert scene.scene.id == own.scene.id
        np.testing.assert_array_equal(scene.frames.embeddings, own.frames.embeddings)
        np.testing.assert_array_equal(np.asarray(scene.frames.activations), np.asarray(own.frames.activations))
        np.testing.assert_array_equal(scene.frames.thumbnails, own.frames.thumbnails)


def test_shots_out_of_order_and_overlapping_get_their_own_frames(square, tmp_path):
    shots = [_shot(0, square.path, 30, 30), _shot(1, square.path, 0, 40), _shot(2, square.path, 30, 30)]
    soundify = Soundify(colour_model(), ColourLabels(), Config(batch_size=4), cache=tmp_path / "cache")
    scenes = soundify.analyse(shots).scenes
    assert [s.scene.shot_index for s in scenes] == [0, 1, 2]
    assert scenes[2].scene.id.endswith("#2")
    for scene, first, count in ((scenes[0], 30, 30), (scenes[1], 0, 40)):
        assert len(scene.frames.distances) == count
        expected = Soundify(colour_model(), ColourLabels(), Config()).analyse([_shot(0, square.path, first, count)])
        np.testing.assert_allclose(scene.frames.embeddings, expected.scenes[0].frames.embeddings, atol=1e-6)
    assert soundify.cache.hits == 0
    again = Soundify(colour_model(), ColourLabels(), Config(batch_size=4), cache=tmp_path / "cache")
    again.analyse(shots)
    assert again.cache.hits == 3


def test_clip_batches_are_full_but_the_last_whatever_the_reads(square, tmp_path, monkeypatch):
    """Reads of 4 frames with 2 frames in 3 sampled: the queue passes the batch size in the middle of a read,
    and what is over waits for the next batch (a batch of its own, 1-2 frames, would cost more a frame)."""
    model = colour_model()
    batches: list[int] = []
    real_encode = model.encode_frames
    monkeypatch.setattr(model, "encode_frames", lambda f: batches.append(len(f)) or real_encode(f))
    every = 25 / 1.5
    shots = [_shot(0, square.path, 0, 37), _shot(1, square.path, 37, 23)]
    Soundify(model, ColourLabels(), Config(batch_size=4, sample_fps=every)).analyse(shots)
    sampled = sum(len(sampled_offsets(n, 25.0, every)) for n in (37, 23))
    assert batches == [4] * (sampled // 4) + ([sampled % 4] if sampled % 4 else [])
    assert sampled % 4  # the last batch is partial here, so the test sees one
