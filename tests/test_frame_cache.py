"""The frame cache: what one decode pass leaves on disk, and when it may be reused."""

from __future__ import annotations

import numpy as np

from soundify_otio.config import Config
from soundify_otio.pipeline.frame_cache import ActivationStore, FrameCache
from soundify_otio.types import Shot


def test_activation_store_writes_what_was_encoded(tmp_path):
    rows = np.random.default_rng(0).random((5, 4, 2, 2)).astype(np.float16)
    full = ActivationStore(tmp_path / ".full.npy", 5)
    full.append(rows[:2])
    full.append(rows[2:])
    full.close(tmp_path / "full.npy")
    short = ActivationStore(tmp_path / ".short.npy", 9)  # the decoder gave fewer frames than planned
    short.append(rows[:3])
    short.close(tmp_path / "short.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "full.npy"), rows)
    np.testing.assert_array_equal(np.load(tmp_path / "short.npy"), rows[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.npy", "short.npy"]


def test_cache_key_follows_media_identity_model_and_sampling(tmp_path):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x" * 100)
    shot = Shot(0, "clip", media, 0.0, 0.0, 1.0)
    cache = FrameCache(tmp_path / "cache")
    key = cache.key(shot, 0, 25, "RN50/openai", Config())
    assert key == cache.key(shot, 0, 25, "RN50/openai", Config())
    assert key != cache.key(shot, 0, 25, "RN50/none", Config())
    assert key != cache.key(shot, 0, 24, "RN50/openai", Config())
    assert key != cache.key(shot, 0, 25, "RN50/openai", Config(sample_fps=4.0))
    media.write_bytes(b"y" * 101)  # the file changed
    assert key != cache.key(shot, 0, 25, "RN50/openai", Config())


def test_saved_pass_loads_back_memory_mapped(tmp_path):
    cache = FrameCache(tmp_path)
    store = cache.activation_store("k", 2)
    store.append(np.ones((2, 3, 1, 1), np.float16))
    saved = cache.save("k", 25.0, np.zeros(50), np.array([0.0, 0.5]), np.eye(2, dtype=np.float32), store)
    loaded = FrameCache(tmp_path).load("k")
    assert isinstance(loaded.activations, np.memmap) and isinstance(saved.activations, np.memmap)
    np.testing.assert_array_equal(loaded.embeddings, np.eye(2))
    assert loaded.fps == 25.0 and loaded.activations.shape == (2, 3, 1, 1)
    scratch = FrameCache(None)
    assert scratch.load("k") is None and scratch.misses == 1  # a scratch cache never serves old runs
