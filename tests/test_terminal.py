"""What a person sees: the CLI run under a pseudo-terminal (80 columns), its output played into a terminal
emulator (pyte), and the screen it leaves read back. Errors and notes whole and wrapped at spaces, one
progress bar with units that other lines never break and that Ctrl-C clears, -q/-v after the subcommand,
`-` refused by name."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pyte
import pytest

from helpers.cli import interruptible

COLUMNS = 80
ROWS = 200
"""Tall enough that nothing a command prints scrolls off the emulated screen."""


@dataclass
class Screen:
    code: int
    lines: list[str]
    """The screen's non-blank rows, right-stripped, as the person sees them at the end."""
    raw: str
    """Everything written to the terminal, escape sequences and carriage returns included."""

    @property
    def text(self) -> str:
        """The screen's rows joined with spaces: a message wrapped over several rows reads as one."""
        return " ".join(line.strip() for line in self.lines)


def on_terminal(args: list[str], cwd: Path, env: dict[str, str] | None = None, interrupt_on: str = "") -> Screen:
    """Run `soundify-otio ARGS` with stdin, stdout and stderr on a pseudo-terminal; with `interrupt_on`,
    send SIGINT (Ctrl-C) once that text has appeared."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    child_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | (env or {})
    child_env["TERM"] = "xterm"
    child = subprocess.Popen(
        [sys.executable, "-c", "from soundify_otio.cli import main; main()", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=child_env,
        preexec_fn=interruptible,
        close_fds=True,
    )
    os.close(slave)
    output, interrupted, deadline = b"", False, time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        if interrupt_on and not interrupted and interrupt_on.encode() in output:
            child.send_signal(signal.SIGINT)
            interrupted = True
    os.close(master)
    code = child.wait(timeout=60)
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(output.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    lines = [row.rstrip() for row in screen.display if row.strip()]
    return Screen(code, lines, output.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def workdir(project, tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("terminal")


def annotate(project, out: object, *extra: str) -> list[str]:
    """`annotate` of the sample edit into `out`, with `extra` options."""
    return ["annotate", str(project.timeline_otio), "-o", str(out), "--library", str(project.library), *extra]


def _no_bar(screen: Screen) -> None:
    assert not any("%|" in line for line in screen.lines), screen.lines


def test_missing_weights_error_is_whole_and_wrapped(project, workdir):
    """The first error a new user meets, with no weights here: every word of it on the screen, wrapped at
    spaces within 80 columns, ending with the two ways out."""
    home = workdir / "home-without-weights"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "HF_HUB_OFFLINE": "1"}
    args = ["annotate", str(project.timeline_otio), "-o", "out.otio", "--library", str(project.library), "-v"]
    screen = on_terminal([*args, "--pretrained", "openai"], workdir, env)
    assert screen.code == 5, screen.raw
    assert "more characters" not in screen.text
    error = screen.text[screen.text.index("error: CLIP weights") :]
    assert "--pretrained /path/to/checkpoint." in error
    assert error.endswith(
        "--pretrained none runs the pipeline with random weights (a pipeline check; the picks mean nothing)."
    )
    start = next(i for i, line in enumerate(screen.lines) if line.startswith("error: CLIP weights"))
    assert len(screen.lines) - start > 3  # wrapped over several rows ...
    assert all(len(line) < COLUMNS for line in screen.lines[start:]), screen.lines[start:]
    for line in screen.lines[start + 1 :]:
        assert line.startswith("  "), line  # ... each continuation indented: a row the message goes on


@pytest.mark.slow
def test_progress_bar_has_units_and_notes_never_glue_to_it(project, workdir, cache_dir):
    """annotate with random weights on a terminal: the bar shows units; the warning and the summary arrive
    as whole lines (none glued to a bar); the bar is gone at the end."""
    out = workdir / "bar.otio"
    screen = on_terminal(
        annotate(project, out, "--pretrained", "none", "--cache-dir", str(cache_dir), "--force"),
        workdir,
    )
    assert screen.code == 0, screen.raw
    assert "s of video" in screen.raw  # the analyse stage's unit, shown while it ran
    _no_bar(screen)
    starts = ("WARNING: RN50 runs with random weights", "wrote ")
    rows = [line for line in screen.lines if not line.startswith("  ")]
    assert rows, screen.lines
    assert all(row.startswith(starts) for row in rows), screen.lines
    assert screen.text.count("wrote ") == 1
    assert "1 scenes" not in screen.text
    assert f"wrote {out}:" in screen.text
    assert "6 scenes" in screen.text


@pytest.mark.slow
def test_quiet_after_the_subcommand_is_silent(project, workdir, cache_dir):
    screen = on_terminal(
        annotate(
            project, workdir / "quiet.otio", "--pretrained", "none", "--cache-dir", str(cache_dir), "--force", "-q"
        ),
        workdir,
    )
    assert screen.code == 0, screen.raw
    assert screen.lines == []


def test_sample_project_shows_units_and_leaves_two_lines(workdir):
    screen = on_terminal(["sample-project", "fresh-sample", "-v"], workdir)
    assert screen.code == 0, screen.raw
    assert "sounds" in screen.raw  # the library stage's unit
    _no_bar(screen)
    assert [line.split(":")[0] for line in screen.lines] == ["timeline", "library"], screen.lines


@pytest.mark.slow
def test_ctrl_c_clears_the_bar(project, workdir):
    """Interrupted while the bar runs: the bar is taken off the screen and 'interrupted' is the last line."""
    screen = on_terminal(
        annotate(project, workdir / "int.otio", "--pretrained", "none", "--no-cache", "--force"),
        workdir,
        interrupt_on="s of video",
    )
    assert screen.code == 130, screen.raw
    _no_bar(screen)
    assert screen.lines[-1] == "interrupted", screen.lines


def test_dash_is_refused_by_name(project, workdir):
    screen = on_terminal(["annotate", "-", "-o", "x.otio", "--library", str(project.library)], workdir)
    assert screen.code == 2
    assert "'-' (standard input/output) is not supported" in screen.text
    assert "give a file" in screen.text
