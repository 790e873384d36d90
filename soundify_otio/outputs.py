"""The one rule for every output path of every command, checked before any work starts.

An output may never be an input of the run (IN, the choices file, any job's timeline in a batch) or
a media or sound file the run reads, never lie inside a folder the run reads as a whole (the sound
library: its conformed copies would become new sounds), and never be another output of the same run:
those are usage errors (exit 2), with or without `--force`. An output that exists is replaced only
with `--force`, and only when it is a regular file; its folder must already exist and be writable
(exit 6 otherwise). Missing folders are never created. These checks run before the work; the
writes check again when they happen (atomic.py: no file that appeared meanwhile is replaced).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from soundify_otio.errors import OutputError, UsageError


@dataclass(frozen=True)
class Output:
    """One file a command will write: its path and the option that names it."""

    path: Path
    option: str
    """How the user named it (`-o`, `--report`, ...), for the message."""
    suffixes: tuple[str, ...] = ()
    """Allowed suffixes (lower case); empty when the writer decides."""


@dataclass(frozen=True)
class Input:
    """A file the run reads: what it is, for the message."""

    path: Path
    role: str
    """e.g. "IN", "the choices file", "media of clip 'Taxi'"."""
    folder: bool = False
    """A folder read as a whole (the library): no output may lie anywhere inside it."""


class RunInputs:
    """Every input of a run, each looked at once (one stat), to test outputs against: a library of
    20,000 sounds costs milliseconds however many outputs (batch jobs) are tested."""

    def __init__(self, inputs: Iterable[Input]) -> None:
        self._existing: dict[tuple[int, int], Input] = {}
        self._missing: dict[str, Input] = {}  # inputs not on disk (offline media) can only match by name
        self._folders: list[tuple[str, Input]] = []
        self.add(inputs)

    def add(self, inputs: Iterable[Input]) -> None:
        for given in inputs:
            if given.folder:
                self._folders.append((os.path.realpath(given.path), given))
                continue
            identity = _identity(given.path)
            if identity is not None:
                self._existing.setdefault(identity, given)
            else:
                self._missing.setdefault(os.path.realpath(given.path), given)

    def clash(self, output: Output) -> str | None:
        """Why `output` may not be written because of an input (None when it may)."""
        identity = _identity(output.path)
        real = os.path.realpath(output.path)
        source = self._existing.get(identity) if identity is not None else self._missing.get(real)
        if source is not None:
            return f"{output.option} names {source.role}, which this run reads: inputs are never modified"
        for folder, given in self._folders:
            if os.path.commonpath([folder, real]) == folder:
                return (
                    f"{output.option} lies inside {given.role} ({given.path}), which this run reads: "
                    "what is written there (and its conformed sounds) would become part of it; write it elsewhere"
                )
        return None


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file: the same for every name of it (links, `..`, hard links)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def check_outputs(outputs: Sequence[Output], inputs: Iterable[Input] | RunInputs, force: bool) -> None:
    """Refuse, before any work, every output that would clobber an input, another output, a file
    the user has without `--force`, or that cannot be written (see the module docstring)."""
    run_inputs = inputs if isinstance(inputs, RunInputs) else RunInputs(inputs)
    seen: dict[object, Output] = {}
    for output in outputs:
        path = output.path
        if output.suffixes and path.suffix.lower() not in output.suffixes:
            raise OutputError(f"{output.option} must end in {' or '.join(output.suffixes)}", path)
        clash = run_inputs.clash(output)
        if clash is not None:
            raise UsageError(clash, path)
        identity = _identity(path)
        key = identity or os.path.realpath(path)
        if key in seen:
            raise UsageError(f"{output.option} and {seen[key].option} name the same file", path)
        seen[key] = output
        _check_writable(path, force)


def _check_writable(path: Path, force: bool) -> None:
    if os.path.lexists(path):
        if not path.is_file():
            raise OutputError("exists and is not a regular file; choose another name", path)
        if not force:
            raise OutputError("exists; pass --force to overwrite it", path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"its folder {folder} does not exist", path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"its folder {folder} is not writable", path)


def check_folder_output(folder: Path, option: str) -> None:
    """A folder a command fills (sample-project DEST): it may exist; otherwise its parent must."""
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputError(f"{option} exists and is not a folder", folder)
    parent = folder if folder.is_dir() else folder.parent
    if not parent.is_dir():
        raise OutputError(f"its folder {parent} does not exist", folder)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent} is not writable", folder)
