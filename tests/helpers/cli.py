"""Running the CLI in-process from a test, and the arguments that analyse the sample project."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from soundify_otio.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """The CLI in-process with --quiet; (exit code, stdout, stderr) as captured by capsys."""
    with pytest.raises(SystemExit) as exited:
        main(["--quiet", *map(str, args)])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def analysis_args(project, cache_dir: Path | None = None) -> list[str]:
    """The sample project's library with random weights (no CLIP weights here) and, given one, a frame cache."""
    args = ["--library", str(project.library), "--pretrained", "none"]
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    return args


def interruptible() -> None:
    """Popen's preexec_fn for a child a test ends with SIGINT: Ctrl-C's default action even when the suite
    runs as a background job, whose shell has its children ignore SIGINT (and Python then keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
