"""Which jobs are already done: a job's output is current when it was written by a batch from the
same input, media, library, model and settings, and has not been touched since.

Each output gets a small record beside it (`.NAME.soundify-batch.json`) holding the job's
fingerprint and the output's SHA-256. The fingerprint hashes the input timeline's bytes and
folder, the content identity of every shot's media (so a re-rendered or relinked file counts as
changed, and copies on another machine as the same), the library facts the picks depend on, the
model and weights asked for, every setting, the choices file, the output format and the version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from soundify_otio import __version__
from soundify_otio.atomic import atomic_write_text
from soundify_otio.config import Config
from soundify_otio.types import SoundEntry

RECORD_SUFFIX = ".soundify-batch.json"


def record_path(output: Path) -> Path:
    return output.with_name(f".{output.name}{RECORD_SUFFIX}")


def is_batch_output(path: Path) -> bool:
    """True for a file a batch wrote (it has a record beside it)."""
    return record_path(path).is_file()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_identity(entries: tuple[SoundEntry, ...], root: Path) -> str:
    """Hash of what the output depends on in the library: each usable file's path, label, kind,
    text, format facts and loudness (the picks, choices among files and gains follow from these)."""
    rows = sorted(
        (
            e.path.relative_to(root).as_posix(),
            e.label,
            e.kind,
            e.text,
            e.sample_rate,
            e.channels,
            round(e.duration, 6),
            None if e.loudness_lufs is None else round(e.loudness_lufs, 4),
        )
        for e in entries
    )
    return hashlib.sha256(json.dumps([str(root), rows]).encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class JobInputs:
    """Everything a job's output depends on, as the driver sees it before any work."""

    timeline: str
    """SHA-256 of the input file, or of an .fcpxmld bundle's Info.fcpxml."""
    timeline_folder: str
    media: tuple[str, ...]
    """Content identity of each shot's media in shot order ('missing: PATH' when unreadable)."""
    library: str
    model: str
    weights: str
    """The weights asked for (a tag, or a checkpoint by content) and the image tower's runtime/precision."""
    config: dict[str, Any]
    media_roots: tuple[tuple[str, str], ...]
    allow_offline: bool
    choices: str
    output_format: str
    targets: tuple[str, ...]

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([__version__, asdict(self)], sort_keys=True).encode()).hexdigest()


def job_inputs(
    timeline: Path,
    media: list[str],
    library: str,
    config: Config,
    requested_weights: str,
    media_roots: tuple[tuple[str, str], ...],
    allow_offline: bool,
    choices: Path | None,
    output: Path,
    targets: tuple[str, ...],
) -> JobInputs:
    source = timeline / "Info.fcpxml" if timeline.is_dir() else timeline
    return JobInputs(
        timeline=file_digest(source),
        timeline_folder=str(timeline.resolve().parent),
        media=tuple(media),
        library=library,
        model=config.model,
        weights=requested_weights,
        config=asdict(config),
        media_roots=media_roots,
        allow_offline=allow_offline,
        choices=file_digest(choices) if choices is not None else "",
        output_format=output.suffix.lower(),
        targets=targets,
    )


def is_current(output: Path, fingerprint: str) -> bool:
    """The output exists, is what the batch wrote, and was made from the same inputs with the
    weights asked for (an output made with random weights as a fallback is never current)."""
    record = read_record(output)
    if record is None or record.get("fingerprint") != fingerprint:
        return False
    if record.get("fallback_random"):
        return False
    try:
        return file_digest(output) == record.get("output_sha256")
    except OSError:
        return False


def is_ours(output: Path) -> bool:
    """The existing output is a batch's and unedited since (so a new run may replace it)."""
    record = read_record(output)
    try:
        return record is not None and file_digest(output) == record.get("output_sha256")
    except OSError:
        return False


def read_record(output: Path) -> dict | None:
    try:
        record = json.loads(record_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(output: Path, fingerprint: str, fallback_random: bool) -> None:
    """Record what made the output (after the output itself is in place)."""
    record = {"fingerprint": fingerprint, "output_sha256": file_digest(output), "fallback_random": fallback_random}
    atomic_write_text(record_path(output), json.dumps(record, indent=2) + "\n")
