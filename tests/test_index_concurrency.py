"""The library index shared by several workers: one writer at a time, nobody's work lost or deleted."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest

from soundify_otio.errors import LibraryError
from soundify_otio.library import index as library_index
from soundify_otio.library.index import FileFacts, LibraryIndex

WRITERS, ROUNDS = 4, 25


def _write_many(path: str, writer: int) -> int:
    """One worker: open the shared index (perhaps while others create it), then many small writes."""
    index = LibraryIndex.open([Path(path)])
    assert index.location == path, f"worker {writer} fell back to {index.location}"
    for n in range(ROUNDS):
        index.write_embeddings("RN50/none", {f"w{writer} t{n}": np.full(4, writer, np.float32)})
        index.write([FileFacts(f"w{writer}/{n}.wav", 1, n, "d", "", "WAV", 48000, 1, 48000, 1.0)], [])
    return len(index.embeddings("RN50/none", [f"w{writer} t{n}" for n in range(ROUNDS)]))


@pytest.mark.slow
def test_workers_opening_and_writing_one_index_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared" / ".soundify-index.sqlite")
    with ProcessPoolExecutor(WRITERS, mp_context=get_context("spawn")) as pool:
        seen = list(pool.map(_write_many, [path] * WRITERS, range(WRITERS)))
    assert seen == [ROUNDS] * WRITERS
    index = LibraryIndex.open([Path(path)])
    assert len(index.files()) == WRITERS * ROUNDS
    texts = [f"w{w} t{n}" for w in range(WRITERS) for n in range(ROUNDS)]
    assert len(index.embeddings("RN50/none", texts)) == WRITERS * ROUNDS


def test_an_index_locked_by_another_writer_is_waited_for_then_refused_never_deleted(
    tmp_path, monkeypatch, caplog
) -> None:
    path = tmp_path / ".soundify-index.sqlite"
    LibraryIndex.open([path]).write_embeddings("RN50/none", {"kept": np.ones(4, np.float32)})
    monkeypatch.setattr(library_index, "_LOCK_TIMEOUT", 0.6)
    monkeypatch.setattr(library_index, "_LOCK_NOTICE", 0.2)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another worker in the middle of a long write
    try:
        started = time.monotonic()
        with pytest.raises(LibraryError, match=r"write lock for over 0\.6 s") as refused:
            LibraryIndex.open([path])  # it could not use the index now...
        assert 0.5 < time.monotonic() - started < 5.0
        assert refused.value.path == str(path)
        assert "waiting up to 0.6 s" in caplog.text
        assert str(path) in caplog.text  # ...and said what it waited for
    finally:
        holder.rollback()
        holder.close()
    assert "kept" in LibraryIndex.open([path]).embeddings("RN50/none", ["kept"])  # ...and did not delete it
