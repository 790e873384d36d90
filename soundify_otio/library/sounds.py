"""The sound library: open (through the index), labels and their CLIP texts, choice, search, stats."""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np

from soundify_otio.config import Config
from soundify_otio.errors import LibraryError
from soundify_otio.library.index import LibraryIndex, SyncReport, sync
from soundify_otio.library.tags import (
    SIDECAR_NAME,
    Description,
    EmbeddedTags,
    SidecarRow,
    compose_text,
    describe,
    read_metadata_csv,
    read_sidecar,
)
from soundify_otio.library.transients import one_shot_verdict
from soundify_otio.progress import ProgressHook, null_progress
from soundify_otio.types import Kind, SoundEntry

EMBED_BATCH = 256
MAX_BOOST_DB, MAX_CUT_DB = 24.0, -40.0


DEFAULTS = Config()


class TextEncoder(Protocol):
    """Anything that embeds texts into the space the matcher compares images with."""

    @property
    def model_id(self) -> str: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def loudness_offset_db(entry: SoundEntry, target_lufs: float = -23.0) -> float:
    """Gain (dB) that brings the file's integrated loudness to ``target_lufs``; 0 when unknown.

    Clamped to +24/-40 dB so a near-silent file is not boosted into noise.
    """
    if entry.loudness_lufs is None:
        return 0.0
    return float(min(MAX_BOOST_DB, max(MAX_CUT_DB, target_lufs - entry.loudness_lufs)))


def fit_cost(entry: SoundEntry, duration: float, kind: Kind, config: Config = DEFAULTS) -> float:
    """How badly a file fits an interval: 0 is ideal. Effects prefer about the interval's length
    (longer is trimmed, shorter repeats); ambient beds prefer at least the interval (no loops).
    Unmeasured or near-silent files cost more (weights: the config's `fit_*` settings)."""
    ratio = entry.duration / max(duration, 0.05)
    if kind == "ambient":
        cost = max(0.0, -math.log(ratio))
    else:
        cost = config.fit_longer_weight * math.log(ratio) if ratio >= 1.0 else -math.log(ratio)
    if entry.loudness_lufs is None:
        cost += config.fit_unmeasured_cost
    elif entry.loudness_lufs < config.fit_quiet_lufs:
        cost += config.fit_quiet_cost
    return cost


class SoundLibrary:
    """The usable sounds of a folder, with what was skipped and why."""

    def __init__(
        self,
        root: Path,
        entries: tuple[SoundEntry, ...],
        skipped: tuple[tuple[Path, str], ...],
        descriptions: dict[Path, Description],
        formats: dict[Path, str],
        index: LibraryIndex,
        report: SyncReport,
        progress: ProgressHook,
    ) -> None:
        self.root = root
        self.entries = entries
        self.skipped = skipped
        self._descriptions = descriptions
        self._formats = formats
        self._index = index
        self._report = report
        self._progress = progress
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._groups: dict[tuple[str, str], list[SoundEntry]] = {}
        for entry in entries:
            self._groups.setdefault((entry.label, entry.kind), []).append(entry)

    def labels(self, kind: Kind) -> list[str]:
        """Distinct labels of that kind, sorted."""
        return sorted({label for label, k in self._groups if k == kind})

    def _group(self, label: str, kind: str) -> list[SoundEntry]:
        group = self._groups.get((label, kind))
        if not group:
            raise LibraryError(f"no {kind} sound is labelled {label!r}", self.root)
        return group

    def text_for(self, label: str, kind: Kind) -> str:
        """The CLIP text of a label: its files' shared text, else the label with the category
        words and tags most of its files carry."""
        group = self._group(label, kind)
        texts = {e.text for e in group}
        if len(texts) == 1:
            return texts.pop()
        described = [self._descriptions[e.path] for e in group]
        words = Counter(d.category_words for d in described).most_common(1)[0][0]
        tags = [t for t, _ in Counter(t for d in described for t in d.tags).most_common(6)]
        return compose_text(label, words, tuple(tags))

    def _embed(self, encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
        """Rows for ``texts``; each distinct text is encoded once per model, ever (index cache)."""
        model = encoder.model_id
        missing = [t for t in dict.fromkeys(texts) if (model, t) not in self._vectors]
        for text, vector in self._index.embeddings(model, missing).items():
            self._vectors[(model, text)] = vector
        missing = [t for t in missing if (model, t) not in self._vectors]
        if missing:
            self._progress("embed", 0, len(missing))
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            rows = np.asarray(encoder.encode_texts(batch), dtype=np.float32)
            fresh = dict(zip(batch, rows))
            self._index.write_embeddings(model, fresh)
            self._vectors.update({(model, t): v for t, v in fresh.items()})
            self._progress("embed", start + len(batch), len(missing))
        dim = next((v.shape[0] for (m, _), v in self._vectors.items() if m == model), 0)
        return np.stack([self._vectors[(model, t)] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def label_embeddings(self, encoder: TextEncoder, kind: Kind) -> tuple[list[str], np.ndarray]:
        """The labels of a kind and their text embeddings (one row per label)."""
        labels = self.labels(kind)
        return labels, self._embed(encoder, [self.text_for(label, kind) for label in labels])

    def choose(
        self,
        label: str,
        kind: Kind,
        duration: float,
        seed: int,
        occasion: int,
        config: Config = DEFAULTS,
        under_speech: bool = False,
    ) -> SoundEntry:
        """A file for one use of ``label``: among the best fits (cost weights from ``config``),
        taking turns by ``occasion`` in an order fixed by ``seed`` (same seed and occasion, same file).
        ``under_speech``: the use sits under dialogue, so files holding speech (a share of at least
        config.speech_sound_share) are left out while the label has any other file."""
        group = self._group(label, kind)
        if under_speech:
            group = [e for e in group if e.speech < config.speech_sound_share] or group
        group = sorted(group, key=lambda e: self._order(seed, label, kind, e))
        costs = [fit_cost(e, duration, kind, config) for e in group]
        best = min(costs)
        good = [e for e, c in zip(group, costs) if c <= best + config.fit_tolerance]
        return good[occasion % len(good)]

    def one_shots(self, label: str, seed: int) -> tuple[SoundEntry, ...]:
        """The label's one-shot effect files (its variations), in an order fixed by ``seed``; () when none."""
        group = [e for e in self._groups.get((label, "effect"), []) if e.one_shot and e.transient is not None]
        return tuple(sorted(group, key=lambda e: self._order(seed, label, "effect", e)))

    def _order(self, seed: int, label: str, kind: Kind, entry: SoundEntry) -> str:
        key = f"{seed}\0{label}\0{kind}\0{entry.path.relative_to(self.root).as_posix()}"
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()

    def search(self, encoder: TextEncoder, text: str, limit: int = 20) -> list[tuple[SoundEntry, float]]:
        """Sounds ranked by cosine similarity of their CLIP text to ``text``, best first."""
        if not self.entries or limit <= 0:
            return []
        query = np.asarray(encoder.encode_texts([text]), dtype=np.float32)[0]
        scores = self._embed(encoder, [e.text for e in self.entries]) @ query
        top = np.argsort(-scores, kind="stable")[:limit]
        return [(self.entries[i], float(scores[i])) for i in top]

    def stats(self) -> dict:
        """Counts per kind, category and format; skipped files and why; what indexing did."""

        def category(entry: SoundEntry) -> str:
            return entry.category.split("-")[0] if entry.category else "uncategorised"

        return {
            "root": str(self.root),
            "index": self._index.location,
            "files": len(self.entries),
            "duration_s": round(sum(e.duration for e in self.entries), 3),
            "kinds": dict(sorted(Counter(e.kind for e in self.entries).items())),
            "labels": {kind: len(self.labels(kind)) for kind in ("effect", "ambient")},
            "one_shots": sum(1 for e in self.entries if e.one_shot),
            "with_speech": [[str(e.path), e.speech] for e in self.entries if e.speech >= DEFAULTS.speech_sound_share],
            "categories": dict(Counter(category(e) for e in self.entries).most_common()),
            "formats": dict(Counter(self._formats.values()).most_common()),
            "skipped": len(self.skipped),
            "skipped_reasons": dict(Counter(_reason_class(r) for _, r in self.skipped).most_common()),
            "skipped_files": [[str(p), r] for p, r in self.skipped],
            "indexed": {"read": self._report.read, "reused": self._report.reused, "removed": self._report.removed},
        }


def _reason_class(reason: str) -> str:
    return reason.split(":", 1)[0]


def _skipped_summary(skipped: Sequence[tuple[Path, str]]) -> str:
    if not skipped:
        return "no WAV, FLAC, OGG or AIFF file found"
    counts = Counter(_reason_class(r) for _, r in skipped).most_common()
    path, reason = skipped[0]
    return f"{len(skipped)} file(s) skipped ({', '.join(f'{n} {c}' for c, n in counts)}); e.g. {path.name}: {reason}"


def _check_root(root: Path) -> None:
    if not root.exists():
        raise LibraryError("the library folder does not exist", root)
    if not root.is_dir():
        raise LibraryError("the library path is not a folder", root)
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise LibraryError(f"the library folder cannot be read ({exc.strerror})", root) from exc


def _csv_sources(root: Path, csvs: Sequence[str]) -> tuple[dict[str, SidecarRow], dict[str, dict[str, EmbeddedTags]]]:
    """Sidecar rows keyed by lower-case relative path; metadata CSVs keyed by their folder."""
    sidecar: dict[str, SidecarRow] = {}
    metadata: dict[str, dict[str, EmbeddedTags]] = {}
    for rel in csvs:
        path, folder = root / rel, PurePosixPath(rel).parent
        if path.name.lower() == SIDECAR_NAME:
            for name, row in read_sidecar(path).items():
                sidecar[(folder / name).as_posix().lower()] = row
        elif (table := read_metadata_csv(path)) is not None:
            metadata.setdefault(folder.as_posix(), {}).update(table)
    return sidecar, metadata


def _csv_tags(rel: PurePosixPath, metadata: dict[str, dict[str, EmbeddedTags]]) -> EmbeddedTags:
    """Tags for a file from the nearest metadata CSV in its folder or above."""
    if not metadata:
        return EmbeddedTags()
    for folder in (rel.parent, *rel.parent.parents):
        found = metadata.get(folder.as_posix(), {}).get(rel.name.lower())
        if found:
            return found
    return EmbeddedTags()


def open_library(root: Path, *, index_path: Path | None = None, progress: ProgressHook | None = None) -> SoundLibrary:
    """Open a sound library through its index (built or brought up to date first).

    Raises LibraryError naming the folder when it is missing, unreadable, or holds no usable
    sound (the message says how many files were skipped and why).
    """
    root = Path(root).expanduser().absolute()
    hook = progress or null_progress
    _check_root(root)
    index = LibraryIndex.open_for(root, index_path)
    report = sync(root, index, hook)
    sidecar, metadata = _csv_sources(root, report.csvs)
    stored = index.labels()
    entries, descriptions, formats, relabelled = [], {}, {}, []
    for facts in report.facts:
        if not facts.usable:
            continue
        rel = PurePosixPath(facts.rel)
        tags = facts.embedded_tags().merged(_csv_tags(rel, metadata))
        described = describe(rel, tags, sidecar.get(facts.rel.lower()))
        path = root / facts.rel
        entries.append(
            SoundEntry(
                path=path,
                label=described.label,
                kind=described.kind,
                text=described.text,
                sample_rate=facts.sample_rate,
                channels=facts.channels,
                duration=facts.duration,
                loudness_lufs=facts.loudness,
                category=described.category,
                tags=described.tags,
                one_shot=facts.transient is not None
                and one_shot_verdict(
                    described.one_shot_override,
                    described.kind,
                    described.one_shot_words,
                    facts.dominant,
                    facts.duration,
                ),
                transient=facts.transient,
                speech=facts.speech,
            )
        )
        descriptions[path] = described
        formats[path] = facts.format
        if stored.get(facts.rel) != (described.label, described.kind, described.text):
            relabelled.append((facts.rel, described.label, described.kind, described.text))
    index.write_labels(relabelled)
    skipped = tuple(sorted([*report.unlisted, *((root / f.rel, f.reason) for f in report.facts if not f.usable)]))
    if not entries:
        raise LibraryError(f"no usable sound in the library: {_skipped_summary(skipped)}", root)
    return SoundLibrary(root, tuple(entries), skipped, descriptions, formats, index, report, hook)
