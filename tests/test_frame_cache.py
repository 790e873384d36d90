"""The frame cache: what one decode pass leaves on disk, and when it may be reused."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from soundify_otio.config import Config
from soundify_otio.pipeline.frame_cache import ActivationStore, FrameCache, gather_rows
from soundify_otio.types import Shot

THUMBS = np.arange(50 * 32 * 32 * 3).reshape(50, 32, 32, 3).astype(np.uint8)
"""A stand-in motion signal: 50 frames of 32x32 Y/Cb/Cr."""


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
    saved = cache.save(
        "k", 25.0, np.zeros(50), np.array([0.0, 0.5]), np.eye(2, dtype=np.float32), store, thumbnails=THUMBS
    )
    loaded = FrameCache(tmp_path).load("k")
    np.testing.assert_array_equal(loaded.thumbnails, THUMBS)
    assert isinstance(loaded.activations, np.memmap)
    assert isinstance(saved.activations, np.memmap)
    np.testing.assert_array_equal(loaded.embeddings, np.eye(2))
    assert loaded.fps == 25.0
    assert loaded.activations.shape == (2, 3, 1, 1)
    scratch = FrameCache(None)
    assert scratch.load("k") is None
    assert scratch.misses == 1  # a scratch cache never serves old runs


def test_cache_key_is_the_media_content_not_its_path_or_mtime(tmp_path):
    """Two machines' copies of one file share entries; any change at the sampled places does not."""
    data = np.random.default_rng(1).integers(0, 256, 3 << 20, dtype=np.uint8).tobytes()
    here, there = tmp_path / "a" / "reel.mp4", tmp_path / "b" / "renamed.mp4"
    for path in (here, there):
        path.parent.mkdir()
        path.write_bytes(data)
    os.utime(there, ns=(1_000_000_000, 1_000_000_000))
    cache, config = FrameCache(tmp_path / "cache"), Config()

    def key(path):
        return cache.key(Shot(0, "clip", path, 0.0, 0.0, 1.0), 0, 25, "RN50/openai", config)

    assert key(here) == key(there)
    for place in (100, len(data) - 100):  # the container header; the index at the end (an MP4's moov)
        edited = bytearray(data)
        edited[place] ^= 0xFF
        there.write_bytes(bytes(edited))
        assert key(here) != key(there)
    there.write_bytes(data[:-1])  # truncated by a byte
    assert key(here) != key(there)


def test_concurrent_writers_of_one_entry_leave_it_whole(tmp_path):
    """Workers sharing a cache folder may encode the same shot at once: every save succeeds, the
    entry reads back whole, and no temporary file is left (same process id included)."""
    rows = np.random.default_rng(2).random((6, 8, 2, 2)).astype(np.float16)
    barrier = threading.Barrier(6)

    def write(_: int) -> None:
        cache = FrameCache(tmp_path)
        store = cache.activation_store("k", 6)
        barrier.wait()
        for i in range(6):
            store.append(rows[i : i + 1])
        cache.save("k", 25.0, np.zeros(50), np.arange(6) / 2, np.eye(6, dtype=np.float32), store, thumbnails=THUMBS)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    loaded = FrameCache(tmp_path).load("k")
    np.testing.assert_array_equal(loaded.activations, rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.activations.npy", "k.npz"]


def test_an_entry_without_the_motion_signal_is_a_miss(tmp_path):
    """Entries written before thumbnails were kept are decoded again, not served without them."""
    np.savez(tmp_path / "old.npz", fps=25.0, distances=np.zeros(2), sample_times=np.zeros(1), embeddings=np.eye(1))
    np.save(tmp_path / "old.activations.npy", np.ones((1, 1, 1, 1), np.float16))
    cache = FrameCache(tmp_path)
    assert cache.load("old") is None
    assert cache.misses == 1


def test_an_entry_with_grey_thumbnails_is_a_miss(tmp_path):
    """Format 1 kept grey thumbnails [n, 32, 32]; fine sync now reads colour, so such an entry is decoded again."""
    grey = THUMBS[..., 0]
    arrays = {"distances": np.zeros(2), "sample_times": np.zeros(1), "embeddings": np.eye(1), "thumbnails": grey}
    np.savez(tmp_path / "old.npz", fps=25.0, **arrays)
    np.save(tmp_path / "old.activations.npy", np.ones((1, 1, 1, 1), np.float16))
    cache = FrameCache(tmp_path)
    assert cache.load("old") is None
    assert cache.misses == 1


def _resident_kb(path) -> int:
    """This process's resident pages of its mappings of `path` (from /proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux's /proc/self/smaps")
def test_gathered_rows_leave_no_mapped_page_resident(tmp_path):
    """Grad-CAM reads each scene's rows of the memory-mapped activations; the mapping's pages are dropped
    after, so a run does not end up holding its whole activations file (240 MB for 10 minutes of RN50)."""
    path = tmp_path / "rows.npy"
    rows = np.random.default_rng(0).random((64, 1024, 16)).astype(np.float16)  # 2 MiB
    np.save(path, rows)
    mapped = np.load(path, mmap_mode="r")
    assert np.isfinite(np.asarray(mapped, dtype=np.float32).sum())  # reads every page
    touched = _resident_kb(path)
    picked = gather_rows(mapped[8:], [3, 40])
    np.testing.assert_array_equal(picked, rows[[11, 48]])
    assert touched >= 1900
    assert _resident_kb(path) < 64
    np.testing.assert_array_equal(mapped[11], rows[11])  # the mapping still reads the file
