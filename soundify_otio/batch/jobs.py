"""What a batch runs: one job per timeline, from a folder of timelines or a CSV/TOML manifest.

A manifest row names the input, optionally the output (relative to the output folder), a choices
file and per-job settings (any analysis setting except the model, which every job shares). Paths
in a manifest are relative to the manifest's folder. A row with a bad setting is one failed job,
not a failed batch; a manifest that cannot be read at all is a usage error.
"""

from __future__ import annotations

import csv
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from soundify_otio.batch.currency import is_batch_output
from soundify_otio.config import SETTINGS, Config
from soundify_otio.errors import UsageError

TIMELINE_SUFFIXES = (".otio", ".xml", ".fcpxml", ".fcpxmld", ".rpp", ".aaf", ".edl")
"""Files of a jobs folder that are taken as timelines."""
SHARED_SETTINGS = frozenset({"model", "pretrained"})
"""Settings every job of a batch shares (the workers load one model)."""
JOB_SETTINGS = tuple(f.name for f in fields(Config) if f.name not in SHARED_SETTINGS)


class ManifestError(UsageError):
    """The jobs argument cannot be read as a folder or a manifest."""


@dataclass(frozen=True)
class Job:
    """One timeline to annotate and where its result goes."""

    number: int
    """1-based position in the batch (the order of the folder listing or the manifest)."""
    input: Path
    output: Path
    choices: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    """Per-job overrides of the batch's settings (names as in Config)."""
    problem: str = ""
    """Why the job cannot run at all ('' when it can); reported as its failure."""

    @property
    def name(self) -> str:
        return self.input.name


def output_names(timelines: list[Path], suffix: str) -> list[str]:
    """The default output name of each timeline, `reel1.otio` -> `reel1.soundify.otio` (`suffix` with its
    dot: '.otio', '.xml' ...), made distinct (ignoring case, as macOS and Windows do): inputs that
    differ only in their suffix keep it (`street.otio`, `street.xml` -> `street.otio.soundify.otio`,
    `street.xml.soundify.otio`), and a name still taken gets a number (`-2`, `-3`) in listing order."""
    stems: dict[str, int] = {}
    for timeline in timelines:
        stems[timeline.stem.casefold()] = stems.get(timeline.stem.casefold(), 0) + 1
    names, taken = [], set()
    for timeline in timelines:
        shared = stems[timeline.stem.casefold()] > 1
        base = f"{timeline.name if shared else timeline.stem}.soundify"
        name, number = f"{base}{suffix}", 1
        while name.casefold() in taken:
            number += 1
            name = f"{base}-{number}{suffix}"
        taken.add(name.casefold())
        names.append(name)
    return names


def read_jobs(source: Path, out_dir: Path, suffix: str) -> list[Job]:
    """The jobs of a folder (its timeline files, sorted by name) or of a .csv/.toml manifest."""
    source = Path(source)
    if source.is_dir() and source.suffix.lower() != ".fcpxmld":
        return _folder_jobs(source, out_dir, suffix)
    if not source.is_file():
        raise ManifestError(f"{source}: neither a folder of timelines nor a manifest file")
    kind = source.suffix.lower()
    if kind == ".csv":
        rows = _csv_rows(source)
    elif kind == ".toml":
        rows = _toml_rows(source)
    else:
        raise ManifestError(f"{source}: a manifest must be .csv or .toml, not '{source.suffix}'")
    inputs = [source.parent / str(row.get("input") or f"(job {n})") for n, (_, row) in rows]
    defaults = [out_dir / name for name in output_names(inputs, suffix)]
    return [
        _job(n, row, source.parent, default, f"{source.name} {where}")
        for (n, (where, row)), default in zip(rows, defaults)
    ]


def _folder_jobs(folder: Path, out_dir: Path, suffix: str) -> list[Job]:
    found = sorted(
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in TIMELINE_SUFFIXES and not is_batch_output(p)
    )
    if not found:
        raise ManifestError(f"{folder}: holds no timeline ({', '.join(TIMELINE_SUFFIXES)})")
    return [Job(n, p, out_dir / name) for n, (p, name) in enumerate(zip(found, output_names(found, suffix)), start=1)]


def _csv_rows(path: Path) -> list[tuple[int, tuple[str, dict[str, str]]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [
                (f"line {reader.line_num}", {k.strip(): (v or "").strip() for k, v in r.items() if k}) for r in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from exc
    if not rows or "input" not in rows[0][1]:
        raise ManifestError(f"{path}: the manifest needs a header row with an 'input' column and one row per job")
    return list(enumerate(rows, start=1))


def _toml_rows(path: Path) -> list[tuple[int, tuple[str, dict[str, Any]]]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from exc
    tables = data.get("job")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ManifestError(f"{path}: the manifest needs [[job]] tables, each with an `input`")
    rows = []
    for n, table in enumerate(tables, start=1):
        settings = table.get("settings", {})
        row = {k: v for k, v in table.items() if k != "settings"}
        row.update(settings if isinstance(settings, dict) else {"settings": settings})
        rows.append((n, (f"job {n}", row)))
    return rows


def _job(number: int, row: dict[str, Any], base: Path, default_output: Path, where: str) -> Job:
    """One manifest row as a job (`default_output` where the row names none); what is wrong with it
    becomes the job's problem."""
    out_dir = default_output.parent
    raw_input = row.get("input")
    if not isinstance(raw_input, str) or not raw_input:
        return Job(number, base / f"(job {number})", default_output, problem=f"{where}: no input")
    timeline = base / raw_input
    raw_output = row.get("output") or ""
    output = out_dir / raw_output if isinstance(raw_output, str) and raw_output else None
    raw_choices = row.get("choices") or ""
    choices = base / raw_choices if isinstance(raw_choices, str) and raw_choices else None
    job = Job(number, timeline, output or default_output, choices)
    settings, problem = _settings(row, where)
    if not isinstance(raw_output, str) or not isinstance(raw_choices, str):
        problem = problem or f"{where}: `output` and `choices` must be paths"
    elif output is not None and not _inside(output, out_dir):
        problem = problem or f"{where}: `output` {raw_output!r} leads outside the output folder {out_dir}"
    return Job(job.number, job.input, job.output, job.choices, settings, problem)


def _inside(path: Path, folder: Path) -> bool:
    real_folder = os.path.realpath(folder)
    return os.path.commonpath([real_folder, os.path.realpath(path)]) == real_folder


def _settings(row: dict[str, Any], where: str) -> tuple[dict[str, Any], str]:
    """Per-job settings of a row, converted to each setting's type; ('', problem) on the first bad one."""
    settings: dict[str, Any] = {}
    for name, value in row.items():
        if name in {"input", "output", "choices"} or value in ("", None):
            continue
        if name in SHARED_SETTINGS:
            return {}, f"{where}: `{name}` is shared by the whole batch; set it on the command line"
        if name not in JOB_SETTINGS:
            return {}, f"{where}: unknown setting `{name}` (valid: {', '.join(JOB_SETTINGS)})"
        kind = type(SETTINGS[name].default)
        wrong = f"{where}: `{name}` must be a {kind.__name__}, not {value!r}"
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            return {}, wrong
        try:
            settings[name] = kind(value)
        except (TypeError, ValueError):
            return {}, wrong
    return settings, ""
