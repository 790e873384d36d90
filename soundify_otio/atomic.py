"""Outputs are written atomically: a temp file beside the target, renamed over it on success."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from soundify_otio.errors import OutputError


@contextmanager
def atomic_output(out: Path, suffix: str | None = None) -> Iterator[Path]:
    """A temp file next to `out`, moved over it only when the block finishes without error."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=suffix or out.suffix, dir=out.parent)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror}", out) from exc
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it an ordinary file's mode
        try:
            os.replace(tmp, out)
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror}", out) from exc
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(out: Path, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    with atomic_output(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
