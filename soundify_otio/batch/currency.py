"""Which jobs are already done: a job's output is current when it was written by a batch from the
same input, media, library, model and settings, and has not been touched since.

Each output gets a small record beside it (`.NAME.soundify-batch.json`) holding the job's
fingerprint and the output's SHA-256. The record is written just before the output takes its name,
and also names the batch output it replaces, so a kill between the two leaves an output (the old one
or the new one) that the next run recognises as a batch's. A record that cannot be read or does not
hold what a record holds is ignored with a warning (the output then counts as not a batch's).

The fingerprint hashes the input timeline's bytes and folder, the content identity of every shot's
media (so a re-rendered or relinked file counts as changed, and copies on another machine as the
same), the library facts the picks depend on, the model and weights asked for, every setting, the
choices file, the output format and the version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from soundify_otio.atomic import atomic_write_bytes, atomic_write_text
from soundify_otio.config import Config
from soundify_otio.errors import OutputError
from soundify_otio.types import SoundEntry
from soundify_otio.version import __version__

log = logging.getLogger(__name__)

RECORD_SUFFIX = ".soundify-batch.json"
MAX_RECORD_BYTES = 1 << 16
"""A record is a few hundred bytes; a larger file is not one."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    """The existing output is a batch's and unedited since (so a new run may replace it): the one its
    record names, or the one that record's write was about to replace (a run killed in between)."""
    record = read_record(output)
    if record is None:
        return False
    try:
        return file_digest(output) in (record["output_sha256"], record.get("previous_sha256"))
    except OSError:
        return False


def read_record(output: Path) -> dict | None:
    """The output's record, or None when there is none or it is not a valid one (warned)."""
    path = record_path(output)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except OSError:
        return None
    try:
        if len(data) > MAX_RECORD_BYTES:
            raise ValueError(f"over {MAX_RECORD_BYTES} bytes")
        record = json.loads(data.decode("utf-8"))
        _check_record(record)
    except (ValueError, RecursionError) as exc:
        log.warning("%s: ignoring this batch record (%s); the output beside it counts as not a batch's", path, exc)
        return None
    return record


def _check_record(record: object) -> None:
    """ValueError unless `record` holds what write_record writes."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if not isinstance(record.get("fingerprint"), str) or not isinstance(record.get("fallback_random"), bool):
        raise ValueError("no fingerprint")
    for key in ("output_sha256", "previous_sha256"):
        value = record.get(key)
        if not (isinstance(value, str) and _SHA256.match(value)) and not (key == "previous_sha256" and value is None):
            raise ValueError(f"{key} is not a SHA-256")


@contextmanager
def recorded(
    output: Path, fingerprint: str, fallback_random: bool, replaceable: Callable[[Path], bool]
) -> Iterator[Callable[[Path], None]]:
    """The output's record, written with it: yields the hook that gets the output's finished temp file
    just before it takes the output's name (write_timeline's `before_commit`). The hook refuses
    (OutputError) when `replaceable(output)` says no, then writes the record naming the new output and
    the batch output it replaces. Should the output not be put in place after all, the earlier record
    is restored."""
    path = record_path(output)
    try:
        earlier: bytes | None = path.read_bytes()
    except OSError:
        earlier = None
    wrote = False

    def before_commit(written: Path) -> None:
        nonlocal wrote
        if not replaceable(output):
            raise OutputError("appeared or was edited while the batch ran; pass --force to replace it", output)
        previous = file_digest(output) if output.exists() and is_ours(output) else None
        record = {
            "fingerprint": fingerprint,
            "output_sha256": file_digest(written),
            "previous_sha256": previous,
            "fallback_random": fallback_random,
        }
        atomic_write_text(path, json.dumps(record, indent=2) + "\n")
        wrote = True

    try:
        yield before_commit
    except BaseException:
        if wrote:
            if earlier is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write_bytes(path, earlier)
        raise
