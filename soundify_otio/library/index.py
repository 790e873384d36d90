"""The persistent library index: one SQLite file of per-file facts and cached text embeddings.

A file is re-read only when it is new or changed. Identity is (size, mtime) first; when only the
mtime moved (a copy, a checkout, a touch) a quick digest decides: BLAKE2b of the size and the first
and last 64 KiB. Those blocks hold the header and metadata chunks and the end of the audio, so an
edit, a re-render or a truncation changes them, while a full hash would make indexing a library of
long ambiences I/O-bound (gigabytes read to learn nothing the header did not say). Files that moved
keep their facts when a vanished file had the same digest. New and changed files are probed in a
process pool (headers, tags, loudness) started with "spawn", which is safe when the caller has
threads or a GPU runtime loaded.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields, replace
from itertools import repeat
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from soundify_otio.audio.headers import BadHeader, check_header, checked_info
from soundify_otio.errors import LibraryError, OutputError
from soundify_otio.library import transients
from soundify_otio.library.tags import EmbeddedTags, read_riff, read_tags
from soundify_otio.progress import ProgressHook
from soundify_otio.user_cache import user_cache_dir

INDEX_NAME = ".soundify-index.sqlite"
SCHEMA_VERSION = 3
"""2: one-shot facts (attacks, dominant, transient) per file; 3: the share of speech in it."""
SOUND_EXTENSIONS = {
    ".wav": "WAV",
    ".wave": "WAV",
    ".bwf": "WAV",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".aifc": "AIFF",
}
UNSUPPORTED_EXTENSIONS = {".mp3", ".m4a", ".aac", ".wma", ".opus", ".mp4", ".caf", ".ac3"}
_CONTENT_FAMILY = {
    "WAV": "WAV",
    "WAVEX": "WAV",
    "RF64": "WAV",
    "W64": "WAV",
    "FLAC": "FLAC",
    "OGG": "OGG",
    "AIFF": "AIFF",
}
log = logging.getLogger(__name__)

_EDGE = 64 << 10
_LOUDNESS_SECONDS = 600.0
"""Loudness is measured on at most this much of a file (long ambiences are steady)."""
SPEECH_SECONDS = 120.0
"""Speech is looked for in at most this much of a file (at ~50x real time: 2.4 s a file at most)."""
_POOL_THRESHOLD = 64
"""Fewer files than this are probed in-process (a pool's start-up costs more)."""
_LOCK_TIMEOUT = 60.0
"""Seconds a writer waits for another's write to finish before giving up (workers share an index)."""
_LOCK_NOTICE = 1.0
"""Seconds a writer waits for the lock before it says what it is waiting for."""


@dataclass(frozen=True)
class FileFacts:
    """What the index knows of one file: identity, audio facts and tags, or why it was skipped."""

    rel: str
    """Path relative to the library root, '/'-separated."""
    size: int
    mtime_ns: int
    digest: str
    reason: str
    """Why the file is skipped; '' for a usable sound."""
    format: str = ""
    sample_rate: int = 0
    channels: int = 0
    frames: int = 0
    duration: float = 0.0
    loudness: float | None = None
    tags: str = "{}"
    """EmbeddedTags as JSON."""
    attacks: int = 0
    """Distinct attacks in the audio (transients.analyse; 0 for files too long to be one-shots)."""
    dominant: bool = False
    """One attack dominates and the sound rings out: audio-wise a one-shot."""
    transient: float | None = None
    """Seconds from the file's start where the dominant attack's waveform peaks."""
    speech: float = 0.0
    """Share (0..1) of the file's first SPEECH_SECONDS in which Silero VAD hears speech."""

    @property
    def usable(self) -> bool:
        return not self.reason

    def embedded_tags(self) -> EmbeddedTags:
        return EmbeddedTags.from_json(self.tags)


@dataclass(frozen=True)
class SyncReport:
    """The outcome of bringing the index up to date with the folder."""

    facts: tuple[FileFacts, ...]
    """Every sound file found, usable or skipped, sorted by path."""
    unlisted: tuple[tuple[Path, str], ...]
    """Skipped paths the index cannot hold (unreadable folders, non-UTF-8 names, other formats)."""
    csvs: tuple[str, ...]
    read: int
    reused: int
    removed: int


def quick_digest(path: Path, size: int) -> str:
    """BLAKE2b of the size and the first and last 64 KiB (see the module docstring for why)."""
    h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
    with path.open("rb") as f:
        h.update(f.read(_EDGE))
        if size > _EDGE:
            f.seek(max(_EDGE, size - _EDGE))
            h.update(f.read(_EDGE))
    return h.hexdigest()


def integrated_loudness(data: np.ndarray, sample_rate: int) -> float | None:
    """ITU-R BS.1770 integrated loudness in LUFS; None for silence. Short sounds are looped to
    the 0.4 s gating block; more than five channels are measured on the first five."""
    import pyloudnorm  # imports scipy.signal (about 1 s): only where a sound is measured, not to read an index

    data = data[:, :5] if data.ndim == 2 else data
    block = int(0.4 * sample_rate) + 1
    if len(data) < block:
        data = np.concatenate([data] * (block // max(len(data), 1) + 1))
    value = pyloudnorm.Meter(sample_rate).integrated_loudness(data)
    return float(value) if np.isfinite(value) else None


def probe(root: str, rel: str) -> FileFacts:
    """Read one file's facts; never raises for a bad file (the reason says what is wrong)."""
    path = Path(root, rel)
    try:
        stat = path.stat()
        if stat.st_size == 0:
            return FileFacts(rel, 0, stat.st_mtime_ns, "", "empty file: 0 bytes")
        digest = quick_digest(path, stat.st_size)
    except PermissionError:
        return FileFacts(rel, 0, 0, "", "permission denied: the file cannot be read")
    except OSError as exc:
        return FileFacts(rel, 0, 0, "", f"unreadable: {exc.strerror or exc}")
    try:
        return FileFacts(rel, stat.st_size, stat.st_mtime_ns, digest, "", *_audio_facts(path))
    except _Skip as skip:
        return FileFacts(rel, stat.st_size, stat.st_mtime_ns, digest, str(skip))
    except OSError as exc:
        return FileFacts(rel, stat.st_size, stat.st_mtime_ns, digest, f"unreadable: {exc.strerror or exc}")


class _Skip(Exception):
    """Why a file cannot be used (the message is the reason shown to the user)."""


def speech_share(data: np.ndarray, sample_rate: int) -> float:
    """The share of the first SPEECH_SECONDS of `data` ([frames, channels]) that holds speech (Silero VAD)."""
    from math import gcd

    from scipy.signal import resample_poly

    from soundify_otio.audio import speech

    mono = data[: int(SPEECH_SECONDS * sample_rate)].mean(axis=1)
    if len(mono) < 0.25 * sample_rate:
        return 0.0
    common = gcd(speech.RATE, sample_rate)
    heard = resample_poly(mono, speech.RATE // common, sample_rate // common).astype(np.float32)
    found = speech.regions(speech.probabilities(heard), speech.RegionRules())
    return round(min(1.0, sum(r.end - r.start for r in found) / (len(heard) / speech.RATE)), 4)


def _audio_facts(
    path: Path,
) -> tuple[str, int, int, int, float, float | None, str, int, bool, float | None, float]:
    expected = SOUND_EXTENSIONS[path.suffix.lower()]
    riff = read_riff(path)
    if riff is not None and riff.truncated:
        raise _Skip(
            f"truncated: the data chunk declares {riff.data_declared} bytes, the file holds {riff.data_available}"
        )
    try:
        info = checked_info(path)
    except BadHeader as exc:
        raise _Skip(f"bad header: {exc}") from exc
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        if riff is not None and riff.format_tag is not None:
            raise _Skip(f"unsupported codec: WAV format tag 0x{riff.format_tag:04X} ({_message(exc)})") from exc
        raise _Skip(f"unreadable: not a valid {expected} file ({_message(exc)})") from exc
    family = _CONTENT_FAMILY.get(info.format, info.format)
    if family != expected:
        raise _Skip(f"wrong extension: the content is {family}, the name says {path.suffix}")
    if info.frames <= 0:
        raise _Skip("no audio: 0 frames")
    wanted = min(info.frames, int(_LOUDNESS_SECONDS * info.samplerate))
    try:
        data, _ = soundfile.read(str(path), frames=wanted, dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise _Skip(f"corrupt audio: {_message(exc)}") from exc
    if len(data) < wanted:
        raise _Skip(f"truncated: decoded {len(data)} of {info.frames} frames")
    try:
        tags = read_tags(path, riff)
    except (ValueError, IndexError, UnicodeError):
        tags = EmbeddedTags()
    hits = transients.analyse(data, info.samplerate)
    return (
        family,
        info.samplerate,
        info.channels,
        info.frames,
        info.frames / info.samplerate,
        integrated_loudness(data, info.samplerate),
        tags.to_json(),
        hits.attacks,
        hits.dominant,
        hits.transient,
        speech_share(data, info.samplerate),
    )


def _message(exc: Exception) -> str:
    """libsndfile's reason without the path it repeats."""
    return re.sub(r"^Error opening .*?: |^Error : ", "", str(exc)).strip()


def default_index_paths(root: Path) -> list[Path]:
    """Where the index of ``root`` may live, in order: ``<root>/.soundify-index.sqlite`` when the
    folder is writable, then a per-user cache file (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    cache = user_cache_dir()
    key = hashlib.sha1(str(root.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return ([root / INDEX_NAME] if os.access(root, os.W_OK) else []) + [cache / f"library-{key}.sqlite"]


_COLUMNS = tuple(f.name for f in fields(FileFacts))
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS files ({", ".join(_COLUMNS)}, label TEXT, kind TEXT, text TEXT,
                                  PRIMARY KEY (rel));
CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT, text TEXT, vector BLOB,
                                       PRIMARY KEY (model_id, text));
"""


_SQLITE_MAGIC = b"SQLite format 3\x00"
_OUR_TABLES = {"files", "embeddings"}


def _is_ours(path: Path) -> bool:
    """Whether an existing file may serve as (or be rebuilt into) an index: empty, or an SQLite
    database holding no table but the index's own."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
        if not head:
            return True
        if head != _SQLITE_MAGIC:
            return False
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            db.close()
    except (OSError, sqlite3.Error):
        return False
    return tables <= _OUR_TABLES | {"_probe"}


def _connect(target: str) -> sqlite3.Connection | None:
    """An index database with the current schema (rebuilt when older or corrupt), or None.

    The schema check and any rebuild run under the write lock, so processes opening one index at
    once do not drop each other's tables; a lock not granted within the timeout is not corruption
    (LibraryError, see _writing)."""
    try:
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(target, timeout=_LOCK_TIMEOUT)
    except (sqlite3.Error, OSError):
        return None
    try:
        with _writing(db):
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                db.execute("DROP TABLE IF EXISTS files")
                db.execute("DROP TABLE IF EXISTS embeddings")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
    except LibraryError:  # locked past the timeout
        db.close()
        raise
    except sqlite3.OperationalError:  # read-only, or the disk is full
        try:
            current = db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            db.execute("SELECT 1 FROM files, embeddings LIMIT 0")
        except sqlite3.Error:
            current = False
        if current:
            return db  # a current index that cannot be written now still answers
        db.close()
        return None
    except sqlite3.DatabaseError:
        db.close()
        return _rebuilt(target)
    return db


@contextmanager
def _writing(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the database's one write lock up front (BEGIN IMMEDIATE).

    Several workers may share an index; taking the lock before reading means two of them never
    both hold a read lock and wait for each other to upgrade (which SQLite answers with 'locked'
    at once, without waiting), and every writer simply queues for the lock. A wait longer than
    _LOCK_NOTICE is announced (naming the index), and one past _LOCK_TIMEOUT ends in LibraryError."""
    _begin_immediate(db)
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


def _begin_immediate(db: sqlite3.Connection) -> None:
    db.execute(f"PRAGMA busy_timeout = {round(min(_LOCK_NOTICE, _LOCK_TIMEOUT) * 1000)}")
    try:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            if _LOCK_TIMEOUT <= _LOCK_NOTICE:
                raise _busy(db) from exc
        where = _location(db)
        log.warning(
            "%s: another process is writing this library index; waiting up to %g s for it to finish",
            where,
            _LOCK_TIMEOUT,
        )
        db.execute(f"PRAGMA busy_timeout = {round((_LOCK_TIMEOUT - _LOCK_NOTICE) * 1000)}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            raise _busy(db) from exc
    finally:
        db.execute(f"PRAGMA busy_timeout = {round(_LOCK_TIMEOUT * 1000)}")  # reads wait out a write's commit


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _busy(db: sqlite3.Connection) -> LibraryError:
    return LibraryError(
        f"another process has held this library index's write lock for over {_LOCK_TIMEOUT:g} s "
        "(an indexing run or a batch still writing it); try again when it has finished, or name another "
        "index file with --index",
        _location(db),
    )


def _location(db: sqlite3.Connection) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] or ":memory:"


def _rebuilt(target: str) -> sqlite3.Connection | None:
    """A fresh database in place of a corrupt or foreign file, when it can be replaced."""
    try:
        Path(target).unlink()
    except OSError:
        return None
    return _connect(target)


class LibraryIndex:
    """The SQLite store. Falls back to a per-user cache, then to memory: never fatal."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @classmethod
    def open(cls, candidates: Sequence[Path]) -> LibraryIndex:
        """The first candidate that opens writable; else the first that opens; else memory."""
        opened = []
        for path in candidates:
            db = _connect(str(path))
            if db is not None:
                index = cls(db)
                if index.writable:
                    return index
                opened.append(index)
        if opened:
            return opened[0]
        memory = _connect(":memory:")  # an in-memory index cannot be locked or read-only
        assert memory is not None
        return cls(memory)

    @classmethod
    def open_for(cls, root: Path, index_path: Path | None) -> LibraryIndex:
        """The index of ``root`` at ``index_path``, else at the default places.

        A file the user names with ``--index`` is only ever used as an index: one that holds anything
        else (a sound, another program's database) is refused, never replaced (OutputError)."""
        if index_path is None:
            return cls.open(default_index_paths(root))
        index_path = Path(index_path)
        if os.path.lexists(index_path) and not (index_path.is_file() and _is_ours(index_path)):
            raise OutputError("is not a soundify library index; it is left alone: choose another --index", index_path)
        db = _connect(str(index_path))
        if db is None:
            raise OutputError("the library index cannot be opened or created here", index_path)
        return cls(db)

    @property
    def writable(self) -> bool:
        """Whether the index can be written (LibraryError when another process holds it too long)."""
        try:
            with _writing(self._db):
                self._db.execute("CREATE TABLE IF NOT EXISTS _probe (x)")
                self._db.execute("DROP TABLE _probe")
            return True
        except sqlite3.Error:
            return False

    @property
    def location(self) -> str:
        return _location(self._db)

    def files(self) -> dict[str, FileFacts]:
        """The stored facts per path; a row that does not hold valid facts (a zero duration, a rate no
        sound has, a wrong type: a damaged or hand-edited index) is left out with a warning, so the
        file is read again."""
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM files")
        facts = {}
        for row in rows:
            try:
                facts[row[0]] = _valid_facts(row)
            except (TypeError, ValueError) as exc:
                log.warning(
                    "%s: ignoring the index's entry for %r (%s); the file is read again", self.location, row[0], exc
                )
        return facts

    def labels(self) -> dict[str, tuple[str, str, str]]:
        """Stored (label, kind, text) per path, as last computed."""
        rows = self._db.execute("SELECT rel, label, kind, text FROM files WHERE label IS NOT NULL")
        return {rel: (label, kind, text) for rel, label, kind, text in rows}

    def write(self, facts: Iterable[FileFacts], removed: Iterable[str]) -> None:
        placeholders = ", ".join("?" * len(_COLUMNS))
        try:
            with _writing(self._db):
                self._db.executemany("DELETE FROM files WHERE rel = ?", ((r,) for r in removed))
                self._db.executemany(
                    f"INSERT OR REPLACE INTO files ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                    (astuple(f) for f in facts),
                )
        except sqlite3.Error:
            pass  # a read-only index still answers from what it holds

    def write_labels(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Store (label, kind, text) per path."""
        try:
            with _writing(self._db):
                self._db.executemany(
                    "UPDATE files SET label = ?, kind = ?, text = ? WHERE rel = ?",
                    ((label, kind, text, rel) for rel, label, kind, text in rows),
                )
        except sqlite3.Error:
            pass

    def embeddings(self, model_id: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached embeddings of ``texts`` under ``model_id`` (missing texts are absent)."""
        found = {}
        for start in range(0, len(texts), 500):
            chunk = list(texts[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            for text, blob in self._db.execute(
                f"SELECT text, vector FROM embeddings WHERE model_id = ? AND text IN ({marks})", [model_id, *chunk]
            ):
                found[text] = np.frombuffer(blob, dtype=np.float32)
        return found

    def write_embeddings(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        try:
            with _writing(self._db):
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                    ((model_id, t, np.asarray(v, np.float32).tobytes()) for t, v in vectors.items()),
                )
        except sqlite3.Error:
            pass


def _valid_facts(row: Sequence[Any]) -> FileFacts:
    """The FileFacts of an index row, or ValueError/TypeError saying what is wrong with it."""
    facts = FileFacts(*row)
    for name in ("rel", "digest", "reason", "format", "tags"):
        if not isinstance(getattr(facts, name), str):
            raise TypeError(f"{name} is not text")
    for name in ("size", "mtime_ns", "sample_rate", "channels", "frames", "attacks"):
        if not isinstance(getattr(facts, name), int):
            raise TypeError(f"{name} is not a whole number")
    for name in ("duration", "loudness", "transient"):
        value = getattr(facts, name)
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name} is not a number")
    if facts.usable:
        check_header(facts.sample_rate, facts.channels, facts.frames)
        if facts.frames <= 0 or not math.isclose(facts.duration, facts.frames / facts.sample_rate, rel_tol=1e-6):
            raise ValueError(f"duration {facts.duration} does not match {facts.frames} frames")
    return facts


def _walk(root: Path) -> tuple[list[str], list[str], list[tuple[Path, str]]]:
    """Sound candidates and CSV files (relative, sorted) and paths skipped while walking."""
    sounds, csvs, unlisted = [], [], []

    def on_error(exc: OSError) -> None:
        unlisted.append(
            (
                Path(exc.filename),
                "permission denied: the folder cannot be listed"
                if isinstance(exc, PermissionError)
                else f"unreadable folder: {exc.strerror}",
            )
        )

    for folder, dirs, names in os.walk(root, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            suffix = path.suffix.lower()
            if suffix not in SOUND_EXTENSIONS and suffix not in UNSUPPORTED_EXTENSIONS and suffix != ".csv":
                continue
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                unlisted.append((path, "file name is not valid UTF-8: rename it"))
                continue
            if suffix == ".csv":
                csvs.append(rel)
            elif suffix in UNSUPPORTED_EXTENSIONS:
                unlisted.append((path, f"unsupported format: {suffix} (use WAV, FLAC, OGG or AIFF)"))
            else:
                sounds.append(rel)
    return sorted(sounds), sorted(csvs), unlisted


def _unchanged(root: Path, rel: str, known: FileFacts | None) -> FileFacts | None:
    """The stored facts if the file is the same as when indexed (mtime refreshed), else None."""
    if known is None:
        return None
    try:
        stat = (root / rel).stat()
    except OSError:
        return None
    if (stat.st_size, stat.st_mtime_ns) == (known.size, known.mtime_ns):
        return known
    if stat.st_size != known.size or not known.digest:
        return None
    try:
        same = quick_digest(root / rel, stat.st_size) == known.digest
    except OSError:
        return None
    return replace(known, mtime_ns=stat.st_mtime_ns) if same else None


def _probe_all(root: Path, rels: list[str], progress: ProgressHook) -> list[FileFacts]:
    """Probe files in order: in-process for a few, else in a process pool."""
    total = len(rels)
    progress("read", 0, total)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, 8)
    if total < _POOL_THRESHOLD or workers < 2:
        results = []
        for done, rel in enumerate(rels, start=1):
            results.append(probe(str(root), rel))
            progress("read", done, total)
        return results
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        results = []
        chunk = max(1, min(64, total // (workers * 8)))
        for done, facts in enumerate(pool.map(probe, repeat(str(root)), rels, chunksize=chunk), start=1):
            results.append(facts)
            if done % 50 == 0 or done == total:
                progress("read", done, total)
        return results


def sync(root: Path, index: LibraryIndex, progress: ProgressHook) -> SyncReport:
    """Bring the index up to date with the folder: probe new and changed files only."""
    sounds, csvs, unlisted = _walk(root)
    progress("scan", len(sounds), None)
    known = index.files()
    kept, stale = {}, []
    for rel in sounds:
        if (facts := _unchanged(root, rel, known.get(rel))) is not None:
            kept[rel] = facts
        else:
            stale.append(rel)
    removed = sorted(set(known) - set(sounds))
    moved = {f.digest: f for rel in removed if (f := known[rel]).digest}
    to_probe = []
    for rel in stale:
        twin = moved.get(_digest_or_empty(root, rel)) if moved and rel not in known else None
        if twin is not None:
            kept[rel] = replace(twin, rel=rel, mtime_ns=(root / rel).stat().st_mtime_ns)
        else:
            to_probe.append(rel)
    probed = _probe_all(root, to_probe, progress) if to_probe else []
    changed = [f for f in kept.values() if f != known.get(f.rel)] + probed
    index.write(changed, removed)
    by_rel = {**kept, **{f.rel: f for f in probed}}
    return SyncReport(
        tuple(by_rel[r] for r in sounds),
        tuple(unlisted),
        tuple(csvs),
        read=len(probed),
        reused=len(kept),
        removed=len(removed),
    )


def _digest_or_empty(root: Path, rel: str) -> str:
    try:
        size = (root / rel).stat().st_size
        return quick_digest(root / rel, size) if size else ""
    except OSError:
        return ""
