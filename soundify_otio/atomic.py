"""Outputs are written atomically and verified: temp files beside the targets, renamed over them only
when every one of a run's outputs was written, flushed to disk and checked.

Any failure (a full disk, a writer that returns without raising, an interrupt) removes the temp files
and leaves every target as it was. Errors name the target, never the temp file.

Without `replace` (a run without --force) a target is never replaced, whenever it appeared: the temp
file is hard-linked to the target's name, which fails if anything took that name since the run's
start-up check (another program, a second review server). Temp files carry the writer's process id
(`.NAME.soundify-PID-XXXX.SUFFIX`): one left by a killed run is removed by the next run that writes
beside it, once its process is gone and it is older than STALE_SECONDS (a writer on another machine
sharing the folder has a process id that means nothing here, so age alone keeps its file safe).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from soundify_otio.errors import OutputError, SoundifyError

Verifier = Callable[[Path], None]
"""Checks a written temp file; raises (any exception) when it is not what should have been written."""


class StagedOutputs:
    """Temp files for a run's outputs; `commit` renames them all over their targets, or none."""

    def __init__(self, replace: bool = True) -> None:
        self.replace = replace
        """Whether a target that exists when the group is committed may be replaced (else OutputError)."""
        self._staged: dict[Path, tuple[Path, Verifier | None]] = {}
        self._scratch: list[Path] = []
        self._folders: dict[Path, Path] = {}
        self._umask = _current_umask()

    def temp_for(
        self, out: Path, suffix: str | None = None, verify: Verifier | None = None, *, same_name: bool = False
    ) -> Path:
        """A fresh, empty temp file next to `out` (same suffix unless given) to write `out` into. With
        `same_name` it is `out`'s own name inside a hidden folder beside it, shared by every such output
        of that folder, so files that link to each other by relative name (a report and its preview)
        already link right before they are renamed into place."""
        out = Path(out)
        if same_name:
            temp = self._staging(out) / out.name
            self._staged[out] = (temp, verify)
            temp.touch()
        else:  # recorded before it is made: an interrupt at any point leaves nothing `discard` does not know
            temp = _temp_name(out, suffix or out.suffix)
            self._staged[out] = (temp, verify)
            _create_temp(temp, out)
        return temp

    def _staging(self, out: Path) -> Path:
        folder = out.parent.resolve()
        if folder not in self._folders:
            staging = _temp_name(folder / out.name, ".staging")
            self._folders[folder] = staging
            try:
                remove_stale_temps(folder)
                staging.mkdir(mode=0o700)
            except OSError as exc:
                raise OutputError(f"cannot write here: {_reason(exc)}", out) from exc
        return self._folders[folder]

    def scratch_for(self, out: Path, suffix: str) -> Path:
        """A temp file next to `out` for the run's own use, removed when the group ends (never renamed)."""
        temp = _temp_name(Path(out), suffix)
        self._scratch.append(temp)
        _create_temp(temp, Path(out))
        return temp

    def target_of(self, temp: Path) -> Path | None:
        """The output a temp file stands for (None if it is not one of ours)."""
        return next((out for out, (tmp, _) in self._staged.items() if tmp == Path(temp)), None)

    def verify(self) -> None:
        """Check every temp file now (as `commit` does), so a bad one fails before other writes follow."""
        for out, (tmp, verify) in self._staged.items():
            _verify(tmp, out, verify)

    def commit(self) -> None:
        """Verify every temp file, then rename each over its target; on any failure none is kept."""
        self.verify()
        backups: list[tuple[Path, Path | None]] = []
        try:
            for out, (tmp, _) in self._staged.items():
                os.chmod(tmp, 0o666 & ~self._umask)  # mkstemp makes it private; give it an ordinary file's mode
                if self.replace:
                    backups.append((out, _backup(out)))
                    os.replace(tmp, out)
                else:
                    backups.append((out, None))
                    _place_new(tmp, out)
        except FileExistsError as exc:
            self._undo(backups[:-1])
            raise OutputError(
                "appeared while this run worked (another program or run wrote it); it is left as it is: "
                "pass --force to overwrite it",
                out,
            ) from exc
        except OSError as exc:
            self._undo(backups[:-1])
            raise OutputError(f"cannot write: {_reason(exc)}", out) from exc
        finally:
            for _, backup in backups:
                if backup is not None:
                    backup.unlink(missing_ok=True)
        for out in self._staged:
            _sync_folder(out.parent)

    @staticmethod
    def _undo(done: list[tuple[Path, Path | None]]) -> None:
        """Put back what the renames already done replaced (a target that was new is removed)."""
        for out, backup in done:
            if backup is not None:
                os.replace(backup, out)
            else:
                out.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove every temp and scratch file still there (after a commit only the scratch ones are)."""
        for tmp in [*(t for t, _ in self._staged.values()), *self._scratch]:
            tmp.unlink(missing_ok=True)
        for folder in self._folders.values():
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staged_outputs(replace: bool = True) -> Iterator[StagedOutputs]:
    """A group of outputs written together: all renamed into place when the block ends without an
    error, none otherwise (without `replace`, none if any target exists by then). OSErrors and
    SoundifyErrors that name a temp file are re-raised naming its target."""
    staged = StagedOutputs(replace)
    try:
        yield staged
        staged.commit()
    except SoundifyError as exc:
        target = staged.target_of(Path(exc.path)) if exc.path else None
        if target is None:
            raise
        raise type(exc)(exc.reason.replace(exc.path or "", str(target)), target) from exc
    except OSError as exc:
        named = staged.target_of(Path(exc.filename)) if exc.filename else None
        if exc.filename and named is None and not _is_write_failure(exc):
            raise  # about some other file (an input): not ours to relabel
        target = named or next(iter(staged._staged), None)
        raise OutputError(f"cannot write: {_reason(exc)}", target) from exc
    finally:
        staged.discard()


@contextmanager
def atomic_output(
    out: Path, suffix: str | None = None, verify: Verifier | None = None, *, replace: bool = True
) -> Iterator[Path]:
    """A temp file next to `out`, verified and moved over it only when the block finishes without error
    (without `replace`, only if `out` does not exist by then)."""
    with staged_outputs(replace) as staged:
        yield staged.temp_for(out, suffix, verify)


def write_bytes_verified(path: Path, data: bytes) -> None:
    """Write `data` to `path`, flushed to disk, and check every byte reached it (a short write raises)."""
    with open(path, "wb") as handle:
        written = handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        size = os.fstat(handle.fileno()).st_size
    if written != len(data) or size != len(data):
        raise OSError(errno.EIO, f"short write: {size} of {len(data)} bytes", str(path))


def atomic_write_bytes(out: Path, data: bytes, *, replace: bool = True) -> None:
    """Write a file atomically, verified (without `replace`, never over a file that exists by then)."""
    with atomic_output(out, replace=replace) as tmp:
        write_bytes_verified(tmp, data)


def atomic_write_text(out: Path, text: str, *, replace: bool = True) -> None:
    """Write a UTF-8 text file atomically, verified."""
    atomic_write_bytes(out, text.encode("utf-8"), replace=replace)


def _temp_name(out: Path, suffix: str) -> Path:
    """A fresh name next to `out` for a temp file: hidden (a leading dot), named after `out` and its writer."""
    return out.parent / f".{out.stem}.{TEMP_MARK}{os.getpid()}-{secrets.token_hex(6)}{suffix}"


def _create_temp(temp: Path, out: Path) -> None:
    """Create `temp` (for `out`) empty and private. The folder is created if missing: the user's output
    folders were checked to exist before the work (outputs.py), so only folders the run itself owns
    (OUT_media/) are made here."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(out.parent)
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise OutputError(f"cannot write here: {_reason(exc)}", out) from exc


TEMP_MARK = "soundify-"
"""In every temp file's name, before the writer's process id: `.NAME.soundify-PID-XXXX.SUFFIX`."""
_TEMP_NAME = re.compile(r"^\..*\." + TEMP_MARK + r"(\d+)-[A-Za-z0-9_]+(?:\.[^/]*)?$")


STALE_SECONDS = 600.0
"""Age (since last written) after which a dead writer's temp file is removed."""
_cleaned: set[str] = set()
"""Folders this process has already cleaned (once each: a folder of 5,000 conformed WAVs is listed once)."""


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temp files (and staging folders) in `folder` whose writer is no longer running (a run
    killed mid-write) and that are older than STALE_SECONDS; the paths removed. Another live run's temp
    files are left alone. Each folder is looked at once per process."""
    removed: list[Path] = []
    key = os.path.realpath(folder)
    if key in _cleaned:
        return removed
    try:
        entries = [entry for entry in os.scandir(folder) if entry.name.startswith(".")]
    except OSError:
        return removed
    _cleaned.add(key)
    now = time.time()
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        path = folder / entry.name
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < STALE_SECONDS:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or a number no process has): not ours to judge
    return True


def _place_new(tmp: Path, out: Path) -> None:
    """Give `tmp` the name `out` only if no file has it (FileExistsError otherwise), then drop `tmp`'s name."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(out):  # no hard links here: the narrowest check this file system allows
            raise FileExistsError(errno.EEXIST, "exists", str(out)) from exc
        os.replace(tmp, out)
        return
    os.unlink(tmp)


def _verify(tmp: Path, out: Path, verify: Verifier | None) -> None:
    """The temp file must be a non-empty regular file, on disk, and pass the writer's own check."""
    try:
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OutputError("the writer produced no data (nothing was written; is the disk full?)", out)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        if verify is not None:
            verify(tmp)
    except SoundifyError as exc:
        if exc.path in (None, str(tmp), str(out)):
            raise OutputError(exc.reason, out) from exc
        raise
    except OSError as exc:
        raise OutputError(f"cannot write: {_reason(exc)}", out) from exc
    except Exception as exc:  # a verifier's parse error: the file is not what was meant to be written
        raise OutputError(f"the written file does not read back ({type(exc).__name__}: {exc})", out) from exc


def _backup(out: Path) -> Path | None:
    """A hard link to an existing target, so a failed group can put it back (None when there is none)."""
    if not out.exists():
        return None
    backup = out.with_name(f".{out.name}.{TEMP_MARK}{os.getpid()}-previous")
    backup.unlink(missing_ok=True)
    try:
        os.link(out, backup)
    except OSError:  # links unsupported here: the target is replaced without a way back
        return None
    return backup


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (best effort: not every file system lets a folder be fsynced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO}


def _is_write_failure(exc: OSError) -> bool:
    return exc.errno in _WRITE_ERRNOS


def _reason(exc: OSError) -> str:
    """The OS's reason without the (temp) file name it may carry."""
    return exc.strerror or (str(exc.args[-1]) if exc.args else type(exc).__name__)


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
