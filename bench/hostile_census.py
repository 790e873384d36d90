"""A census of hostile but realistic input and faults across the commands (issue 9): each case runs
the CLI in a subprocess and is counted as a clean error (its documented exit code, one line, nothing
lost), a wrong answer (another exit code, several lines, an internal error), a crash (killed by a
signal), a hang (past the time limit) or data lost (an input or a previous output changed, an output
half-written, a 0-byte or NaN output reported as success, a temp file left behind).

    python bench/hostile_census.py [--code-root DIR] [--only NAME[|NAME...]]

prints one JSON object: the counts, then every case with its outcome. --code-root runs another
checkout of the package (e.g. an older commit exported with `git archive`) through PYTHONPATH.
The full-disk and read-only cases mount small tmpfs file systems and are skipped unless run as root.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile

TIMEOUT = 120.0
"""Seconds a case may run before it counts as a hang (an annotate run analyses the sample first)."""
BLOCKING = 20.0
"""The limit for cases whose only way to take long is to block (FIFOs)."""
RATE = 24.0


@dataclass
class Case:
    """One hostile input: the command line, the exit code the README documents, what must survive."""

    name: str
    argv: list[str]
    expect: int
    protect: list[Path] = field(default_factory=list)
    """Files whose bytes must be the same afterwards (inputs, previous outputs)."""
    outputs: list[Path] = field(default_factory=list)
    """Files that must not exist afterwards unless the run succeeded (then they must be valid)."""
    watch: list[Path] = field(default_factory=list)
    """Folders that must hold no temp (dot) files afterwards."""
    check: Callable[[subprocess.CompletedProcess], str | None] | None = None
    """An extra check of a finished run: a reason it is wrong, or None."""
    signal_after: float | None = None
    """Send SIGTERM this many seconds after the first temp file appears in `watch`."""
    python: str | None = None
    """A Python prelude run before the CLI (fault injection)."""
    one_line: bool = True
    """Whether a failure must be one line (not with --verbose, which adds the traceback)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment (TMPDIR, say)."""
    timeout: float = TIMEOUT


# ---- fixtures -----------------------------------------------------------------------------------


def tone(path: Path, seconds: float, rate: int = 48000, channels: int = 1) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), np.repeat((0.25 * np.sin(2 * np.pi * 440 * t))[:, None], channels, axis=1), rate)
    return path


def rt(seconds: float) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(round(seconds * RATE), RATE)


def span(start: float, duration: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start), rt(duration))


def sound_clip(path: Path, seconds: float, gain_db: list, pan: list | None = None, name: str = "bell"):
    info = soundfile.info(str(path)) if path.is_file() else None
    rate = info.samplerate if info else 48000
    ref = otio.schema.ExternalReference(
        target_url=path.as_uri(),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate),
            otio.opentime.RationalTime(round((info.duration if info else 4) * rate), rate),
        ),
    )
    clip = otio.schema.Clip(name=name, media_reference=ref, source_range=span(0, seconds))
    clip.metadata["soundify"] = {
        "generated": True,
        "label": name,
        "kind": "effect",
        "keyframes": {"pan": pan or [[0.0, 0.0]], "gain_db": gain_db},
        "fade_in": 0.0,
        "fade_out": 0.0,
        "sound": {"path": str(path), "sample_rate": rate, "channels": 1, "duration": info.duration if info else 4},
    }
    return clip


def annotated(folder: Path, items: list, video: Path | None = None, name: str = "edit.otio") -> Path:
    timeline = otio.schema.Timeline(name="census")
    if video is not None:
        picture = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
        picture.append(
            otio.schema.Clip(
                name="shot",
                media_reference=otio.schema.ExternalReference(target_url=video.as_uri()),
                source_range=span(0, 2),
            )
        )
        timeline.tracks.append(picture)
    track = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    track.metadata["soundify"] = {"generated": True, "role": "effects"}
    for item in items:
        track.append(item)
    timeline.tracks.append(track)
    path = folder / name
    otio.adapters.write_to_file(timeline, str(path))
    return path


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False) -> Iterator[Path | None]:
    """A small tmpfs (None when mounting is not permitted); filled to the brim unless read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield folder if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> None:
    """Leave no free block on the file system of `folder`."""
    fd = os.open(folder / "zz-ballast", os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)


# ---- running and judging ---------------------------------------------------------------------------


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def temp_files(folders: list[Path]) -> list[str]:
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [str(p) for p in folder.iterdir() if p.name.startswith(".") and p.name != ".soundify-index.sqlite"]
    return found


def valid_output(path: Path) -> str | None:
    """Why a file reported as written is not a usable output (None when it is)."""
    if not path.is_file() or path.stat().st_size == 0:
        return f"{path.name} missing or 0 bytes"
    if path.suffix == ".wav":
        data, _ = soundfile.read(str(path))
        if not np.isfinite(data).all():
            return f"{path.name} holds NaN/inf samples"
    if path.suffix == ".otio":
        try:
            otio.adapters.read_from_file(str(path))
        except Exception as exc:
            return f"{path.name} does not read back ({type(exc).__name__})"
    return None


def run_case(case: Case, env: dict[str, str]) -> dict:
    before = {p: digest(p) for p in case.protect}
    existed = {p: p.exists() for p in case.outputs}
    command = [sys.executable, "-c", (case.python or "") + "\nfrom soundify_otio.cli import main\nmain()\n", *case.argv]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, **case.env},
        cwd=env["CENSUS_CWD"],
    )
    if case.signal_after is not None:
        while process.poll() is None and not temp_files(case.watch) and time.monotonic() - started < case.timeout:
            time.sleep(0.02)
        time.sleep(case.signal_after)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    try:
        stdout, stderr = process.communicate(timeout=max(1.0, case.timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        return {"case": case.name, "outcome": "hang", "seconds": case.timeout}
    seconds = round(time.monotonic() - started, 1)
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    result = {"case": case.name, "exit": done.returncode, "expected": case.expect, "seconds": seconds}
    lines = [
        line for line in stderr.splitlines() if line.strip() and not line.startswith(("WARNING:", "note:", "warning:"))
    ]
    lost = [f"{p} changed" for p, d in before.items() if digest(p) != d]
    lost += [f"temp file left: {t}" for t in temp_files(case.watch)]
    if done.returncode != 0:
        lost += [f"{p} written by a failed run" for p in case.outputs if p.exists() and not existed[p]]
    else:
        lost += [reason for p in case.outputs if (reason := valid_output(p))]
    extra = case.check(done) if case.check else None
    killed_by_us = case.signal_after is not None and done.returncode == -signal.SIGTERM
    if (done.returncode < 0 and not killed_by_us) or done.returncode in (134, 139):
        outcome = "crash"
    elif lost:
        outcome = "data lost"
    elif (
        done.returncode == case.expect and extra is None and (case.expect == 0 or not case.one_line or len(lines) == 1)
    ):
        outcome = "clean"
    else:
        outcome = "wrong"
    result.update(outcome=outcome, stderr=lines[-3:] if outcome != "clean" else lines[-1:])
    if lost:
        result["lost"] = lost
    if extra:
        result["why"] = extra
    return result


# ---- the cases ----------------------------------------------------------------------------------


def no_escape(done: subprocess.CompletedProcess) -> str | None:
    return "a raw escape sequence reached the terminal" if "\x1b" in done.stderr else None


def traceback_shown(done: subprocess.CompletedProcess) -> str | None:
    return None if "Traceback (most recent call last)" in done.stderr else "--verbose printed no traceback"


def cases(work: Path, sample: Path, cache: Path, stack: contextlib.ExitStack) -> Iterator[Case]:
    edit, library = sample / "street.otio", sample / "library"
    footage = sample / "media" / "bikes.mp4"
    base = ["--library", str(library), "--pretrained", "none", "--cache-dir", str(cache)]

    def folder(name: str) -> Path:
        path = work / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # timelines that are not what they claim
    f = folder("deep")
    (f / "deep.otio").write_text('{"OTIO_SCHEMA": "Timeline.1", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}")
    yield Case(
        "otio nested 100,000 deep", ["render", str(f / "deep.otio"), "-o", str(f / "p.wav")], 3, outputs=[f / "p.wav"]
    )
    text = edit.read_text()
    for label, rate in (("0", "0"), ("NaN", "NaN")):
        f = folder(f"rate-{label}")
        (f / "edit.otio").write_text(text.replace('"rate": 25.0', f'"rate": {rate}'))
        yield Case(
            f"timeline rate {label}",
            ["annotate", str(f / "edit.otio"), "-o", str(f / "o.otio"), *base],
            3,
            outputs=[f / "o.otio"],
        )
    f = folder("timebase0")
    (f / "edit.xml").write_text(
        (sample / "street.xml").read_text().replace("<timebase>25</timebase>", "<timebase>0</timebase>")
    )
    yield Case(
        "FCP7 timebase 0", ["annotate", str(f / "edit.xml"), "-o", str(f / "o.otio"), *base], 3, outputs=[f / "o.otio"]
    )
    f = folder("fd0")
    fcpxml = (
        '<?xml version="1.0"?><!DOCTYPE fcpxml><fcpxml version="1.10"><resources><format id="r1" frameDuration="1/0s"'
        ' width="1920" height="1080"/><asset id="r2" src="'
        + footage.as_uri()
        + '" start="0s" duration="10s" hasVideo="1"'
        ' format="r1"/></resources><library><event name="e"><project name="p"><sequence format="r1" duration="2s"'
        ' tcStart="0s"><spine><asset-clip ref="r2" offset="0s" duration="2s" name="a"/></spine></sequence></project>'
        "</event></library></fcpxml>"
    )
    (f / "edit.fcpxml").write_text(fcpxml)
    yield Case(
        "FCPXML frameDuration 1/0s",
        ["annotate", str(f / "edit.fcpxml"), "-o", str(f / "o.otio"), *base],
        3,
        outputs=[f / "o.otio"],
    )
    f = folder("fifo-in")
    os.mkfifo(f / "edit.otio")
    yield Case(
        "IN is a FIFO",
        ["render", str(f / "edit.otio"), "-o", str(f / "p.wav")],
        3,
        outputs=[f / "p.wav"],
        timeout=BLOCKING,
    )
    f = folder("dir-in")
    (f / "edit.otio").mkdir()
    yield Case("IN is a folder", ["render", str(f / "edit.otio"), "-o", str(f / "p.wav")], 3)
    f = folder("garbage-in")
    (f / "edit.otio").write_bytes(os.urandom(2000))
    yield Case("IN is random bytes", ["render", str(f / "edit.otio"), "-o", str(f / "p.wav")], 3, outputs=[f / "p.wav"])

    # render: odd media, poisoned numbers
    f = folder("fifo-sound")
    os.mkfifo(f / "bell.wav")
    tl = annotated(f, [sound_clip(f / "bell.wav", 1.0, [[0.0, 0.0]])])
    yield Case(
        "render: a sound is a FIFO",
        ["render", str(tl), "-o", str(f / "p.wav")],
        3,
        outputs=[f / "p.wav"],
        timeout=BLOCKING,
    )
    f = folder("fifo-video")
    os.mkfifo(f / "shot.mp4")
    tl = annotated(f, [sound_clip(tone(f / "bell.wav", 2.0), 1.0, [[0.0, 0.0]])], video=f / "shot.mp4")
    yield Case(
        "render: the picture is a FIFO",
        ["render", str(tl), "-o", str(f / "p.wav"), "--with-video", str(f / "p.mp4")],
        3,
        outputs=[f / "p.wav", f / "p.mp4"],
        timeout=BLOCKING,
    )
    for label, gain in (("NaN", float("nan")), ("1e308 dB", 1e308)):
        f = folder(f"gain-{label.split()[0]}")
        tl = annotated(f, [sound_clip(tone(f / "bell.wav", 2.0), 1.0, [[0.0, 0.0], [0.5, gain]])])
        yield Case(f"render: gain key {label}", ["render", str(tl), "-o", str(f / "p.wav")], 3, outputs=[f / "p.wav"])
    f = folder("zero-transition")
    bell = tone(f / "bell.wav", 2.0)
    zero = otio.schema.Transition(in_offset=rt(0), out_offset=rt(0))
    tl = annotated(f, [sound_clip(bell, 1.0, [[0.0, 0.0]]), zero, sound_clip(bell, 1.0, [[0.0, 0.0]])])
    yield Case(
        "render: a zero-length transition", ["render", str(tl), "-o", str(f / "p.wav")], 0, outputs=[f / "p.wav"]
    )
    f = folder("escape")
    tl = annotated(f, [sound_clip(f / "gone\x1b[2J\nerror: all fine.wav", 1.0, [[0.0, 0.0]])])
    yield Case(
        "render: escape sequence in a missing sound's name",
        ["render", str(tl), "-o", str(f / "p.wav")],
        3,
        check=no_escape,
    )

    # outputs that clobber other files
    f = folder("clobber")
    video = f / "shot.mp4"
    shutil.copyfile(footage, video)
    bell = tone(f / "bell.wav", 2.0)
    tl = annotated(f, [sound_clip(bell, 1.0, [[0.0, 0.0]])], video=video)
    yield Case(
        "render --with-video onto the timeline's footage",
        ["render", str(tl), "-o", str(f / "p.wav"), "--with-video", str(video), "--force"],
        2,
        protect=[video],
        outputs=[f / "p.wav"],
        watch=[f],
    )
    yield Case(
        "render -o onto a sound it reads (--force)",
        ["render", str(tl), "-o", str(bell), "--force"],
        2,
        protect=[bell],
        watch=[f],
    )
    f = folder("report-out")
    yield Case(
        "annotate --report equal to -o",
        ["annotate", str(edit), "-o", str(f / "o.otio"), "--report", str(f / "o.otio"), *base],
        2,
        outputs=[f / "o.otio"],
    )
    yield Case(
        "annotate --report equal to IN (--force)",
        ["annotate", str(edit), "-o", str(f / "o2.otio"), "--report", str(edit), "--force", *base],
        2,
        protect=[edit],
        outputs=[f / "o2.otio"],
    )
    sound = sorted(library.rglob("*.wav"))[0]
    yield Case(
        "annotate --report onto a library sound (--force)",
        ["annotate", str(edit), "-o", str(f / "o3.otio"), "--report", str(sound), "--force", *base],
        2,
        protect=[sound],
        outputs=[f / "o3.otio"],
    )
    yield Case(
        "annotate -o equal to IN (--force)",
        ["annotate", str(edit), "-o", str(edit), "--force", *base],
        2,
        protect=[edit],
    )
    f = folder("index")
    lib = folder("index/lib")
    tone(lib / "bell.wav", 0.5)
    (f / "notes.sqlite").write_text("my notes, not an index")
    yield Case(
        "library --index at a user's file",
        ["library", "stats", str(lib), "--index", str(f / "notes.sqlite")],
        6,
        protect=[f / "notes.sqlite"],
    )
    f = folder("sample-over")
    (f / "street.otio").write_text("my own edit")
    yield Case("sample-project over a user's street.otio", ["sample-project", str(f)], 6, protect=[f / "street.otio"])

    # choices files
    for number, (label, body) in enumerate(
        (
            ("10,000-deep arrays", "scene = " + "[" * 10_000 + "]" * 10_000),
            ("a 5,000-digit number", "x = " + "9" * 5000),
            ("wrong shapes", "scene = [1, 2]"),
            ("a FIFO", None),
        )
    ):
        f = folder(f"choices-{number}")
        if body is None:
            os.mkfifo(f / "c.toml")
        else:
            (f / "c.toml").write_text(body)
        yield Case(
            f"choices: {label}",
            ["annotate", str(edit), "-o", str(f / "o.otio"), "--choices", str(f / "c.toml"), *base],
            7,
            outputs=[f / "o.otio"],
            timeout=BLOCKING if body is None else TIMEOUT,
        )

    # options and caches
    f = folder("device")
    yield Case(
        "--device banana",
        ["annotate", str(edit), "-o", str(f / "o.otio"), *base, "--device", "banana"],
        2,
        outputs=[f / "o.otio"],
    )
    (f / "cachefile").write_text("x")
    argv = ["annotate", str(edit), "-o", str(f / "o2.otio"), "--library", str(library), "--pretrained", "none"]
    yield Case(
        "--cache-dir is a file",
        [*argv, "--cache-dir", str(f / "cachefile")],
        6,
        protect=[f / "cachefile"],
        outputs=[f / "o2.otio"],
    )
    f = folder("suggest")
    choices = sample / "street.toml"
    yield Case(
        "suggest street.otio -o street.toml", ["suggest", str(edit), "-o", str(choices), *base], 0, protect=[edit]
    )
    (f / "exists.toml").write_text("mine")
    yield Case(
        "suggest -o existing, no --force",
        ["suggest", str(edit), "-o", str(f / "exists.toml"), *base],
        6,
        protect=[f / "exists.toml"],
    )
    f = folder("bom")
    yield Case(
        "annotate --choices with a UTF-8 BOM",
        ["annotate", str(edit), "-o", str(f / "o.otio"), "--choices", str(choices), *base],
        0,
        outputs=[f / "o.otio"],
        python=(
            "import pathlib\n"
            f"p = pathlib.Path({str(choices)!r})\n"
            "if p.exists():\n"
            "    p.write_bytes(b'\\xef\\xbb\\xbf' + p.read_bytes().removeprefix(b'\\xef\\xbb\\xbf'))\n"
        ),
    )
    f = folder("missing-folder")
    tl = annotated(f, [sound_clip(tone(f / "bell.wav", 2.0), 1.0, [[0.0, 0.0]])])
    yield Case("render -o into a missing folder", ["render", str(tl), "-o", str(f / "nope" / "p.wav")], 6)
    yield Case(
        "render: an internal error with --verbose",
        ["--verbose", "render", str(tl), "-o", str(f / "p.wav")],
        1,
        check=traceback_shown,
        one_line=False,
        python=(
            "import soundify_otio.preview.render as r\n"
            "def boom(*a, **k):\n"
            "    raise RuntimeError('injected')\n"
            "r.render_preview = boom\n"
        ),
    )

    # signals
    f = folder("sigterm")
    long_bed = tone(f / "bed.wav", 90.0, 8000)
    tl = annotated(f, [sound_clip(long_bed, 90.0, [[0.0, -6.0]])])
    (f / "out").mkdir()
    (f / "out" / "p.wav").write_bytes(b"previous")
    yield Case(
        "SIGTERM mid-render",
        ["render", str(tl), "-o", str(f / "out" / "p.wav"), "--force"],
        143,
        protect=[f / "out" / "p.wav"],
        watch=[f / "out"],
        signal_after=0.3,
        python=(
            "import time\n"
            "import soundify_otio.preview.render as r\n"
            "m = r._mix\n"
            "r._mix = lambda *a, **k: (time.sleep(0.01), m(*a, **k))\n"
        ),
    )

    yield from second_round(work, sample, cache, folder)

    # full and read-only disks
    if os.geteuid() != 0:
        return
    disk = stack.enter_context(tmpfs(work / "full", "512k"))
    if disk is None:
        return
    (disk / "previous.otio").write_text("the previous output")
    (disk / "previous.wav").write_bytes(b"the previous preview")
    fill(disk)
    f = folder("full-src")
    tl = annotated(f, [sound_clip(tone(f / "bell.wav", 4.0), 4.0, [[0.0, 0.0]])], video=footage)
    yield Case(
        "annotate -o on a full disk",
        ["annotate", str(edit), "-o", str(disk / "o.otio"), *base],
        6,
        outputs=[disk / "o.otio"],
        watch=[disk],
    )
    yield Case(
        "annotate -o on a full disk over a previous output (--force)",
        ["annotate", str(edit), "-o", str(disk / "previous.otio"), "--force", *base],
        6,
        protect=[disk / "previous.otio"],
        watch=[disk],
    )
    yield Case(
        "annotate --report on a full disk (OUT elsewhere)",
        ["annotate", str(edit), "-o", str(f / "o.otio"), "--report", str(disk / "r.html"), *base],
        6,
        outputs=[f / "o.otio", disk / "r.html"],
        watch=[disk, f],
    )
    yield Case(
        "render over a previous preview on a full disk (--force)",
        ["render", str(tl), "-o", str(disk / "previous.wav"), "--force"],
        6,
        protect=[disk / "previous.wav"],
        watch=[disk],
    )
    yield Case(
        "render --with-video on a full disk (WAV elsewhere)",
        ["render", str(tl), "-o", str(f / "p.wav"), "--with-video", str(disk / "p.mp4")],
        6,
        outputs=[f / "p.wav", disk / "p.mp4"],
        watch=[disk, f],
    )
    yield Case(
        "annotate with a full TMPDIR (--no-cache)",
        ["annotate", str(edit), "-o", str(f / "tmpdir.otio"), *base, "--no-cache"],
        0,  # nothing needs TMPDIR's space any more: it must succeed with a valid output
        outputs=[f / "tmpdir.otio"],
        watch=[f],
        env={"TMPDIR": str(disk)},
    )
    yield Case(
        "suggest -o on a full disk",
        ["suggest", str(edit), "-o", str(disk / "c.toml"), *base],
        6,
        outputs=[disk / "c.toml"],
        watch=[disk],
    )
    yield Case(
        "r2: sample-project onto a full disk",
        ["sample-project", str(disk / "sample")],
        6,
        watch=[disk],
        check=lambda done: f"{disk / 'sample'} left behind" if (disk / "sample").exists() else None,
    )
    ro = stack.enter_context(tmpfs(work / "ro", "64k"))
    if ro is not None:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        yield Case("render -o into a read-only folder", ["render", str(tl), "-o", str(ro / "p.wav")], 6)
        yield Case(
            "--cache-dir read-only", [*argv[:3], str(work / "device" / "o3.otio"), *argv[4:], "--cache-dir", str(ro)], 6
        )


def with_claimed_rate(path: Path, rate: int) -> Path:
    """A real WAV whose header now claims `rate` Hz."""
    data = bytearray(path.read_bytes())
    at = data.index(b"fmt ") + 8
    struct.pack_into("<II", data, at + 4, rate, min(rate * 2, 2**32 - 1))
    path.write_bytes(bytes(data))
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def second_round(work: Path, sample: Path, cache: Path, folder: Callable[[str], Path]) -> Iterator[Case]:
    """Issue 19's classes: writes checked when they happen, one rule for a run's outputs, bounded
    containers and headers, caches and records validated when read, the installer, the index lock."""
    edit, library = sample / "street.otio", sample / "library"
    footage = sample / "media" / "bikes.mp4"
    base = ["--library", str(library), "--pretrained", "none", "--cache-dir", str(cache)]
    f = folder("r2-otioz")
    with zipfile.ZipFile(f / "deep.otioz", "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("content.otio", "[" * 100_000 + "]" * 100_000)
    yield Case(
        "r2: .otioz nested 100,000 deep",
        ["annotate", str(f / "deep.otioz"), "-o", str(f / "o.otio"), *base],
        3,
        outputs=[f / "o.otio"],
    )
    with (
        zipfile.ZipFile(f / "bomb.otioz", "w", zipfile.ZIP_DEFLATED) as bundle,
        bundle.open("content.otio", "w", force_zip64=True) as member,
    ):
        for _ in range(2048):  # 2 GiB of JSON whitespace, 2 MB deflated
            member.write(b" " * (1 << 20))
    yield Case(
        "r2: .otioz holding 2 GiB of JSON",
        ["render", str(f / "bomb.otioz"), "-o", str(f / "p.wav")],
        3,
        outputs=[f / "p.wav"],
    )
    (f / "jobs.csv").write_text(f"input,output\n{f / 'deep.otioz'},deep.otio\n{edit},street.otio\n")
    yield Case(
        "r2: batch: a deep .otioz as one manifest row",
        ["batch", str(f / "jobs.csv"), "--out-dir", str(f / "out"), *base],
        3,
        one_line=False,
        check=lambda done: None if (f / "out" / "street.otio").is_file() else "the good row was not written",
        timeout=4 * TIMEOUT,  # the good row is a whole analysis
    )
    f = folder("r2-batch-inputs")
    shutil.copy(edit, f / "a.otio")
    shutil.copy(edit, f / "b.otio")
    (f / "jobs.csv").write_text("input,output,seed\na.otio,b.otio,\nb.otio,,banana\n")
    yield Case(
        "r2: batch --force: one job's output is another job's input",
        ["batch", str(f / "jobs.csv"), "--out-dir", str(f), "--force", *base],
        2,
        protect=[f / "b.otio"],
        one_line=False,
    )
    (f / "escape.csv").write_text("input,output\na.otio,../r2-escaped/x.otio\n")
    yield Case(
        "r2: batch: a manifest output leading outside --out-dir",
        ["batch", str(f / "escape.csv"), "--out-dir", str(f / "out"), *base],
        2,
        one_line=False,
        check=lambda done: "a folder was made outside --out-dir" if (f / "r2-escaped").exists() else None,
    )
    f = folder("r2-record")
    shutil.copy(edit, f / "reel.otio")
    (f / "out").mkdir()
    (f / "out" / "reel.soundify.otio").write_text("an output whose record is damaged")
    (f / "out" / ".reel.soundify.otio.soundify-batch.json").write_text('{"fingerprint": ' + "[" * 100_000)
    yield Case(
        "r2: batch: a corrupt record beside an output",
        ["batch", str(f), "--out-dir", str(f / "out"), *base],
        6,
        protect=[f / "out" / "reel.soundify.otio"],
        one_line=False,
    )
    f = folder("r2-install")
    (f / "Scripts").mkdir()
    (f / "Scripts" / "Soundify.py").write_text("print('my own Soundify script')\n")
    install = ["install", "resolve", "--library", str(library)]
    yield Case(
        "r2: install resolve over a user's Soundify.py",
        [*install, "--scripts-dir", str(f / "Scripts")],
        6,
        protect=[f / "Scripts" / "Soundify.py"],
        watch=[f / "Scripts"],
    )
    yield Case("r2: install resolve with HOME empty", install, 6, env={"HOME": ""})
    yield Case(
        "r2: install resolve --scripts-dir missing",
        [*install, "--scripts-dir", str(f / "missing" / "Scripts")],
        6,
        check=lambda done: "a folder was created" if (f / "missing").exists() else None,
    )
    f = folder("r2-inside-library")
    yield Case(
        "r2: annotate -o inside the library",
        ["annotate", str(edit), "-o", str(library / "x.xml"), *base],
        2,
        outputs=[library / "x.xml"],
        check=lambda done: "conformed media in the library" if (library / "x_media").exists() else None,
    )
    (f / "o_media").write_text("a plain file")
    yield Case(
        "r2: annotate -o x.xml with x_media a plain file",
        ["annotate", str(edit), "-o", str(f / "o.xml"), *base],
        6,
        protect=[f / "o_media"],
        outputs=[f / "o.xml"],
        check=lambda done: None if "o_media" in done.stderr else "refused for another reason",
    )
    for rate in (2_147_483_647, 1):
        f = folder(f"r2-rate-{rate}")
        (f / "lib").mkdir()
        tone(f / "lib" / "door.wav", 0.5)
        with_claimed_rate(tone(f / "lib" / "liar.wav", 0.05), rate)
        yield Case(
            f"r2: library stats: a WAV claiming {rate} Hz",
            ["library", "stats", str(f / "lib")],
            0,
            check=lambda done: None if "bad header" in done.stdout + done.stderr else "the lie was not reported",
        )
    f = folder("r2-index")
    (f / "lib").mkdir()
    tone(f / "lib" / "door.wav", 0.5)
    prepare = (
        "import sqlite3\n"
        "from pathlib import Path\n"
        "from soundify_otio.library.index import INDEX_NAME, LibraryIndex, sync\n"
        f"lib = Path({str(f / 'lib')!r})\n"
        "sync(lib, LibraryIndex.open([lib / INDEX_NAME]), lambda *a: None)\n"
    )
    yield Case(
        "r2: library stats: a zero duration in the index",
        ["library", "stats", str(f / "lib")],
        0,
        python=prepare
        + "with sqlite3.connect(lib / INDEX_NAME) as db:\n    db.execute('UPDATE files SET duration = 0')\n",
    )
    yield Case(
        "r2: library stats: another process holds the index lock",
        ["library", "stats", str(f / "lib")],
        4,
        python=prepare
        + "import soundify_otio.library.index as i\n"
        + "i._LOCK_TIMEOUT, i._LOCK_NOTICE = 3.0, 0.5\n"
        + "holder = sqlite3.connect(lib / INDEX_NAME)\n"
        + "holder.execute('BEGIN EXCLUSIVE')\n",
        check=lambda done: None if "waiting up to" in done.stderr else "the wait was silent",
        timeout=30.0,
    )
    f = folder("r2-fcp7")
    clip = (
        "<clipitem id='c{n}'><name>{name}</name><rate><timebase>25</timebase></rate>"
        "<start>{start}</start><end>{end}</end><in>{start}</in><out>{end}</out>"
        f"<file id='f1'><name>bikes.mp4</name><pathurl>{footage.as_uri()}</pathurl>"
        "<rate><timebase>25</timebase></rate><duration>250</duration></file></clipitem>"
    )
    (f / "edit.xml").write_text(
        "<?xml version='1.0'?><xmeml version='4'><sequence id='s'><name>s</name><rate><timebase>25</timebase>"
        "</rate><media><video><track>"
        + clip.format(n=1, name="fine", start=0, end=50)
        + clip.format(n=2, name="backwards", start=50, end=25)
        + "</track></video></media></sequence></xmeml>"
    )
    yield Case(
        "r2: FCP7 clip with a negative duration",
        ["annotate", str(f / "edit.xml"), "-o", str(f / "o.otio"), *base],
        3,
        outputs=[f / "o.otio"],
    )
    f = folder("r2-rate-1e9")
    timeline = otio.schema.Timeline(name="fast")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(
            name="shot",
            media_reference=otio.schema.ExternalReference(target_url=footage.as_uri()),
            source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(2e9, 1e9)),
        )
    )
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(f / "fast.otio"))
    yield Case(
        "r2: render --with-video of a timeline at 1e9 fps",
        ["render", str(f / "fast.otio"), "-o", str(f / "p.wav"), "--with-video", str(f / "p.mp4")],
        3,
        outputs=[f / "p.wav", f / "p.mp4"],
        watch=[f],
    )
    f = folder("r2-stale")
    killed = f / f".o.soundify-{dead_pid()}-k1ll3d.otio"
    killed.write_text("half a timeline from a killed run")
    os.utime(killed, (time.time() - 3600,) * 2)
    yield Case(
        "r2: annotate beside a killed run's temp file",
        ["annotate", str(edit), "-o", str(f / "o.otio"), *base],
        0,
        outputs=[f / "o.otio"],
        watch=[f],
    )
    f = folder("r2-frame-cache")
    yield Case(
        "r2: annotate with truncated frame-cache entries",
        ["annotate", str(edit), "-o", str(f / "o.otio"), *base[:-1], str(f / "cache")],
        0,
        outputs=[f / "o.otio"],
        python=(
            "import shutil\nfrom pathlib import Path\n"
            f"shutil.copytree({str(cache)!r}, {str(f / 'cache')!r}, dirs_exist_ok=True)\n"
            f"for p in Path({str(f / 'cache')!r}).rglob('*.npz'):\n"
            "    p.write_bytes(p.read_bytes()[:100])\n"
        ),
    )


def restore(folder: Path, pristine: Path) -> None:
    """Put back every file of `pristine` that a case changed or removed in `folder`."""
    for original in pristine.rglob("*"):
        if original.is_file():
            copy = folder / original.relative_to(pristine)
            if digest(copy) != digest(original):
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(original, copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-root", type=Path, help="run this checkout of soundify_otio instead")
    parser.add_argument("--only", help="run only the cases whose name contains this (or any of A|B|...)")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.code_root:
        env["PYTHONPATH"] = str(args.code_root.resolve())
    with tempfile.TemporaryDirectory(prefix="soundify-census-") as scratch, contextlib.ExitStack() as stack:
        work = Path(scratch)
        sample, cache = work / "sample", work / "cache"
        env["CENSUS_CWD"] = str(work)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from soundify_otio.cli import main; main()",
                "--quiet",
                "sample-project",
                str(sample),
            ],
            env=env,
            check=True,
            cwd=work,  # not the checkout: `python -c` puts the current folder first on sys.path
        )
        pristine = work / "pristine"
        shutil.copytree(sample, pristine)
        results = []
        for case in cases(work / "cases", sample, cache, stack):
            if args.only and not any(part in case.name for part in args.only.split("|")):
                continue
            results.append(run_case(case, env))
            print(json.dumps(results[-1]), file=sys.stderr)
            restore(sample, pristine)  # a case that destroyed the sample must not spoil the ones after it
    counts = {k: sum(r["outcome"] == k for r in results) for k in ("clean", "wrong", "crash", "hang", "data lost")}
    print(json.dumps({"cases": len(results), **counts, "results": results}, indent=1))


if __name__ == "__main__":
    main()
