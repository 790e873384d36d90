"""The frame cache: one shot's pixel analysis on disk, so a re-run (new picks, another format) never
decodes or encodes a frame again."""

from __future__ import annotations

import hashlib
import logging
import mmap
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from soundify_otio.config import Config
from soundify_otio.types import Shot

log = logging.getLogger(__name__)

_BLOCK = 64 << 10
_BLOCKS = 16
"""Content identity reads the first and last block and this many evenly spaced between (about 1 MiB)."""
FORMAT_VERSION = 2
"""Part of every entry's key, bumped when what an entry holds changes (2: Y'CbCr thumbnails [n, 32, 32, 3]
and luma-plane histograms, read by PyAV; 1: grey thumbnails from decord's RGB)."""


def gather_rows(activations: np.ndarray, rows: np.ndarray | list[int]) -> np.ndarray:
    """A copy of `rows` of a shot's activations. Where they are memory-mapped, the mapping's pages are then
    dropped from this process (the page cache keeps them, a later read maps them back): reading every
    scene's rows would otherwise leave the run's whole file resident (240 MB for 10 minutes of RN50)."""
    picked = np.array(activations[rows])
    base = activations.base
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        base.madvise(mmap.MADV_DONTNEED)
    return picked


@dataclass
class ShotFrames:
    """Everything the stages need of one shot's pixels, from a single decode pass."""

    fps: float
    distances: np.ndarray
    """Per decoded frame: grey-histogram distance to the previous frame."""
    sample_times: np.ndarray
    """Seconds from the shot's start of each CLIP-encoded frame."""
    embeddings: np.ndarray
    activations: np.ndarray
    """float16 activations of the Grad-CAM layer, one per encoded frame."""
    thumbnails: np.ndarray
    """Per decoded frame: a small full-range BT.601 Y'CbCr picture (uint8 [n, 32, 32, 3]), the motion signal
    fine sync reads (vision.planes.YuvFrame.motion_thumbnail)."""


def media_identity(path: Path) -> str:
    """Identifies a media file by its content, not its path: BLAKE2b of the size and ~1 MiB read at
    fixed places (first and last 64 KiB and 16 blocks evenly spaced between).

    Two machines' copies of the same file, under any path or mtime, get the same identity; an
    edit, a re-render, a re-encode or a truncation changes the container header, the index at the
    end or the compressed data at those places. Hashing every byte would make a check of a reel's
    media read gigabytes. Remembered per (path, size, mtime) within a process."""
    path = Path(path).resolve()
    stat = path.stat()
    return _content_identity(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _content_identity(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
    last = max(0, size - _BLOCK)
    offsets = sorted({last * i // (_BLOCKS + 1) for i in range(_BLOCKS + 2)})
    with path.open("rb") as f:
        for offset in offsets:
            f.seek(offset)
            h.update(f.read(_BLOCK))
    return h.hexdigest()


class FrameCache:
    """ShotFrames on disk, keyed by media content identity, shot range, model and sampling.

    The key holds no path, so workers on several machines sharing one cache folder recognise
    the same media wherever each mounts it. Entries are written under unique temporary names and
    renamed into place (activations first, the summary last), so concurrent writers of the same
    entry never see each other's half-written files and a reader sees a whole entry or none.

    Grad-CAM activations (the bulk: ~200 KB per sampled frame for RN50) are written to a .npy file
    as they are encoded and read back memory-mapped, so a long timeline's never sit in memory.
    Without a cache folder nothing is kept for later runs: the run's activations go to one file in a
    scratch folder (removed after the run), the rest stays in memory, so a shot costs no files.
    """

    def __init__(self, root: Path | None) -> None:
        self.persistent = root is not None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._run: RunActivations | None = None
        if root is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="soundify-frames-")
            root = Path(self._scratch.name)
        self.root = Path(root)
        self._root_made = False
        self.hits = 0
        self.misses = 0

    def key(self, shot: Shot, first: int, stop: int, model_id: str, config: Config) -> str:
        identity = (
            FORMAT_VERSION,
            media_identity(shot.media_path),
            first,
            stop,
            model_id,
            config.sample_fps,
            config.analysis_size,
            config.scene_bins,
        )
        return hashlib.sha1(repr(identity).encode()).hexdigest()

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npz", self.root / f"{key}.activations.npy"

    def load(self, key: str) -> ShotFrames | None:
        """The cached analysis, or None (counted as a miss). An entry that cannot be read or does not
        hold what save wrote (a truncated .npz, arrays that disagree) is ignored with a warning and
        removed, so this run's pass writes it again."""
        summary, activations = self._paths(key)
        if not (self.persistent and summary.is_file() and activations.is_file()):
            self.misses += 1
            return None
        try:
            with np.load(summary, allow_pickle=False) as data:
                frames = ShotFrames(
                    float(data["fps"]),
                    data["distances"],
                    data["sample_times"],
                    data["embeddings"],
                    np.load(activations, mmap_mode="r", allow_pickle=False),
                    data["thumbnails"],
                )
            _check_frames(frames)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("ignoring unreadable cache entry %s (%s); it is made again", summary, exc)
            summary.unlink(missing_ok=True)
            activations.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return frames

    def load_sound(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A timeline's own sound as the dialogue analysis heard it (16 kHz mono) and its speech
        probabilities, or None."""
        path = self.root / f"{key}.sound.npz"
        if not (self.persistent and path.is_file()):
            return None
        try:
            with np.load(path) as data:
                return data["signal"], data["speech"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable cache entry %s (%s)", path, exc)
            return None

    def save_sound(self, key: str, signal: np.ndarray, speech: np.ndarray) -> None:
        """Keep the dialogue analysis's signal and speech probabilities (atomically); nothing without a cache folder."""
        if not self.persistent:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f".{key}.{uuid.uuid4().hex}.sound.npz"
        try:
            np.savez(temp, signal=signal, speech=speech)
            temp.replace(self.root / f"{key}.sound.npz")
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def activation_store(self, key: str, count: int) -> ActivationStore | RunSegment:
        """Where an encoding pass writes its activations, `count` frames in all."""
        if not self.persistent:
            if self._run is None:
                self._run = RunActivations(self.root / "activations.bin")
            return self._run.segment()
        if not self._root_made:
            self.root.mkdir(parents=True, exist_ok=True)
            self._root_made = True
        return ActivationStore(self.root / f".{key}.{uuid.uuid4().hex}.activations.npy", count)

    def save(
        self,
        key: str,
        fps: float,
        distances: np.ndarray,
        sample_times: np.ndarray,
        embeddings: np.ndarray,
        store: ActivationStore | RunSegment,
        *,
        thumbnails: np.ndarray,
    ) -> ShotFrames:
        """Keep a finished pass (atomically) and return it with its activations memory-mapped."""
        if isinstance(store, RunSegment):
            return ShotFrames(fps, distances, sample_times, embeddings, store.mapped(), thumbnails)
        summary, activations = self._paths(key)
        mapped = store.close(activations)
        temp = self.root / f".{key}.{uuid.uuid4().hex}.npz"
        try:
            np.savez(
                temp,
                fps=fps,
                distances=distances,
                sample_times=sample_times,
                embeddings=embeddings,
                thumbnails=thumbnails,
            )
            temp.replace(summary)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return ShotFrames(fps, distances, sample_times, embeddings, mapped, thumbnails)


def _check_frames(frames: ShotFrames) -> None:
    """ValueError unless a loaded entry's arrays agree with each other as save writes them."""
    if not (np.isfinite(frames.fps) and frames.fps > 0):
        raise ValueError(f"frame rate {frames.fps}")
    if frames.embeddings.ndim != 2 or frames.sample_times.ndim != 1 or frames.distances.ndim != 1:
        raise ValueError("arrays of the wrong shape")
    if not (frames.activations.shape[0] == frames.embeddings.shape[0] == frames.sample_times.shape[0]):
        raise ValueError("activations, embeddings and sample times disagree in length")
    if frames.thumbnails.ndim != 4:
        raise ValueError("thumbnails are not Y/Cb/Cr pictures")


class ActivationStore:
    """A .npy file filled batch by batch as frames are encoded (its row shape known from the first batch).

    Batches are appended with plain writes, not through a memory map, so what was written does not
    stay mapped into the process while the rest of a long shot is encoded.
    """

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.count = count
        self.filled = 0
        self._file: BinaryIO | None = None
        self._row: tuple[np.dtype, tuple[int, ...]] | None = None
        self._header_bytes = 0

    def append(self, batch: np.ndarray) -> None:
        if self._file is None:
            self._file = self.path.open("w+b")  # readable too: the finished rows are mapped from it
            self._row = (batch.dtype, batch.shape[1:])
            header = {
                "descr": np.lib.format.dtype_to_descr(batch.dtype),
                "fortran_order": False,
                "shape": (self.count, *batch.shape[1:]),
            }
            np.lib.format.write_array_header_1_0(self._file, header)
            self._header_bytes = self._file.tell()
        self._file.write(np.ascontiguousarray(batch).tobytes())
        self.filled += batch.shape[0]

    def discard(self) -> None:
        """Drop a pass that failed part-way."""
        if self._file is not None:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def close(self, final: Path) -> np.memmap:
        """Finish the file, move it into place (re-written shorter if fewer frames came than planned) and
        return its rows memory-mapped."""
        if self._file is None or self._row is None:
            raise ValueError("no frame was encoded")
        if self.filled == self.count:
            dtype, shape = self._row
            rows = np.memmap(self._file, dtype=dtype, mode="r", offset=self._header_bytes, shape=(self.count, *shape))
            self._file.close()
            self.path.replace(final)  # the map holds the file itself, whatever its name
            return rows
        self._file.close()
        dtype, shape = self._row
        rows = np.memmap(self.path, dtype=dtype, mode="r", offset=self._header_bytes, shape=(self.filled, *shape))
        shorter = self.path.with_name(f"{self.path.stem}.short.npy")
        try:
            np.save(shorter, rows)
            del rows
            shorter.replace(final)
        finally:
            shorter.unlink(missing_ok=True)
            self.path.unlink()
        return np.load(final, mmap_mode="r")


class RunActivations:
    """One file holding the activations of every shot of a run that keeps nothing for later runs (a
    scratch cache): each shot's rows are appended as they are encoded and read back memory-mapped
    from the same open file, so a shot costs no file of its own."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w+b")
        self.size = 0

    def segment(self) -> RunSegment:
        return RunSegment(self)

    def write(self, data: bytes) -> int:
        """Append `data`; its offset in the file."""
        offset = self.size
        self._file.seek(offset)  # a map made since may have moved the position
        self._file.write(data)
        self._file.flush()  # what is mapped next reads the file, not this buffer
        self.size += len(data)
        return offset

    def map(self, dtype: np.dtype, shape: tuple[int, ...], offset: int) -> np.memmap:
        return np.memmap(self._file, dtype=dtype, mode="r", offset=offset, shape=shape)


class RunSegment:
    """One shot's rows in a RunActivations file (what ActivationStore is for a kept entry). A shot's
    rows are encoded together (its sampled frames are queued one after another), so they lie end to end."""

    def __init__(self, run: RunActivations) -> None:
        self.run = run
        self.filled = 0
        self._offset: int | None = None
        self._end = 0
        self._row: tuple[np.dtype, tuple[int, ...]] | None = None

    def append(self, batch: np.ndarray) -> None:
        offset = self.run.write(np.ascontiguousarray(batch).tobytes())
        if self._offset is None:
            self._offset, self._row = offset, (batch.dtype, batch.shape[1:])
        elif offset != self._end:
            raise RuntimeError("a shot's activations were interleaved with another shot's")
        self._end = self.run.size
        self.filled += batch.shape[0]

    def discard(self) -> None:
        """Nothing to remove: the rows stay unused in the run's file, which goes with the run."""

    def mapped(self) -> np.memmap:
        if self._offset is None or self._row is None:
            raise ValueError("no frame was encoded")
        dtype, shape = self._row
        return self.run.map(dtype, (self.filled, *shape), self._offset)
