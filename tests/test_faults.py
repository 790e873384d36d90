"""Fault injection: a full disk (a small tmpfs, mounted where the test runs as root), read-only
folders (a read-only tmpfs), signals, and the CLI's mapping of each to one line and its exit code.
After every fault the previous output is intact and no temp file is left behind."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from soundify_otio.atomic import atomic_write_text, staged_outputs
from soundify_otio.cli import main
from soundify_otio.errors import OutputError
from soundify_otio.exporters import write_output
from soundify_otio.preview.render import mux_preview, render_preview

from helpers.cli import analysis_args, interruptible, run
from helpers.synthetic import write_video
from helpers.timelines import RATE, append_sfx_track, sound_clip, write_tone


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("WARNING", "note:"))]
    assert len(lines) == 1, stderr
    return lines[0]


def hidden(folder: Path) -> list[str]:
    """Temp files (ours start with a dot) left in a folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False, fill: dict[str, bytes] | None = None):
    """A small tmpfs at `folder` (optionally holding `fill`, then remounted read-only); skips the test
    where mounting is not permitted (not root, or no CAP_SYS_ADMIN in a container)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        for name, data in (fill or {}).items():
            (folder / name).write_bytes(data)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill_up(folder: Path) -> None:
    """Leave no free block on the file system of `folder`."""
    fd = os.open(folder / "ballast", os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


# ---- full disk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".fcpxml", ".aaf", ".rpp"])
def test_a_full_disk_keeps_the_previous_output_and_leaves_no_temp(tmp_path, annotated_timeline, suffix):
    with tmpfs(tmp_path / "disk", "256k") as disk:
        out = disk / f"edit{suffix}"
        out.write_bytes(b"the previous output")
        fill_up(disk)
        with pytest.raises(OutputError) as caught:
            write_output(annotated_timeline, out)
        assert caught.value.path == str(out)
        assert caught.value.exit_code == 6
        assert out.read_bytes() == b"the previous output"
        assert hidden(disk) == []


def test_otio_written_on_a_full_disk_raises_instead_of_leaving_0_bytes(tmp_path, annotated_timeline):
    """The issue's case: OTIO's own file writer returned without raising and left an empty file."""
    with tmpfs(tmp_path / "disk", "64k") as disk:
        fill_up(disk)
        out = disk / "x.otio"
        with pytest.raises(OutputError, match="No space left"):
            write_output(annotated_timeline, out)
        assert not out.exists()
        assert hidden(disk) == []


def test_text_writer_on_a_full_disk(tmp_path):
    with tmpfs(tmp_path / "disk", "64k") as disk:
        out = disk / "choices.toml"
        out.write_text("mine")
        fill_up(disk)
        with pytest.raises(OutputError) as caught:
            atomic_write_text(out, "x" * 100_000)
        assert str(disk) in str(caught.value)
        assert ".choices." not in str(caught.value)
        assert out.read_text() == "mine"
        assert hidden(disk) == []


def test_render_and_mux_on_a_full_disk(tmp_path, annotated_timeline):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        wav = disk / "preview.wav"
        with pytest.raises(OutputError):  # 8 s of 48 kHz float stereo is 3 MB
            render_preview(annotated_timeline, wav)
        assert not wav.exists()
        assert hidden(disk) == []
    with tmpfs(tmp_path / "full", "64k") as disk:
        previous = disk / "previous.wav"
        previous.write_bytes(b"the previous preview")
        fill_up(disk)
        with pytest.raises(OutputError) as caught:  # libsndfile cannot even write the header
            render_preview(annotated_timeline, previous)
        assert caught.value.path == str(previous)
        assert previous.read_bytes() == b"the previous preview"
        assert hidden(disk) == []
    write_video(tmp_path / "video.mp4", lambda i: np.full((48, 64, 3), i % 256, np.uint8), 250, 25.0, 64, 48)
    short = tmp_path / "short.wav"
    render_preview(annotated_timeline, short)
    with tmpfs(tmp_path / "disk2", "64k") as disk:
        with pytest.raises(OutputError):
            mux_preview(annotated_timeline, short, disk / "p.mp4")
        assert list(disk.iterdir()) == []


def test_a_group_of_outputs_is_renamed_all_or_none(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    second.write_text("old b")
    with pytest.raises(OutputError, match="no data"), staged_outputs() as staged:
        staged.temp_for(first).write_text("new a")
        staged.temp_for(second)  # the writer left it empty
    assert not first.exists()
    assert second.read_text() == "old b"
    assert hidden(tmp_path) == []
    with staged_outputs() as staged:
        staged.temp_for(first).write_text("new a")
        staged.temp_for(second).write_text("new b")
        scratch = staged.scratch_for(first, ".wav")
        scratch.write_text("scratch")
    assert first.read_text() == "new a"
    assert second.read_text() == "new b"
    assert hidden(tmp_path) == []


# ---- read-only folders and caches -----------------------------------------------------------------


def test_outputs_into_a_read_only_folder_are_refused_before_the_work(capsys, tmp_path, annotated_timeline):
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(annotated_timeline, str(edit))
    with tmpfs(tmp_path / "ro", "64k", read_only=True, fill={"keep.wav": b"x"}) as ro:
        code, _, stderr = run(capsys, "render", edit, "-o", ro / "p.wav")
        assert code == 6
        assert "not writable" in one_line(stderr)
        assert str(ro / "p.wav") in stderr
        code, _, stderr = run(capsys, "render", edit, "-o", ro / "keep.wav", "--force")
        assert code == 6
        assert (ro / "keep.wav").read_bytes() == b"x"


def test_cache_dir_that_is_a_file_or_read_only_exits_6(capsys, project, tmp_path):
    a_file = tmp_path / "cache"
    a_file.write_text("not a folder")
    base = ["annotate", project.timeline_otio, "-o", tmp_path / "o.otio", *analysis_args(project)]
    code, _, stderr = run(capsys, *base, "--cache-dir", a_file)
    assert code == 6
    assert "--cache-dir" in one_line(stderr)
    assert a_file.read_text() == "not a folder"
    with tmpfs(tmp_path / "ro", "64k", read_only=True) as ro:
        code, _, stderr = run(capsys, *base, "--cache-dir", ro)
        assert code == 6
        assert "cannot be written" in one_line(stderr)
    assert not (tmp_path / "o.otio").exists()


def test_disk_full_mid_run_is_exit_6_in_one_line(capsys, monkeypatch, tmp_path, annotated_timeline):
    """A full cache or TMPDIR met during the work (an OSError from deep inside) is not an internal error."""
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(annotated_timeline, str(edit))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/soundify-frames-x/a.npy")

    monkeypatch.setattr("soundify_otio.preview.render.render_preview", full)
    code, _, stderr = run(capsys, "render", edit, "-o", tmp_path / "p.wav")
    assert code == 6
    assert "No space left" in one_line(stderr)
    assert not (tmp_path / "p.wav").exists()


# ---- the CLI's one rule for output paths ------------------------------------------------------------


def test_report_equal_to_out_or_in_is_refused_even_with_force(capsys, project, tmp_path):
    base = ["annotate", project.timeline_otio, *analysis_args(project)]
    out = tmp_path / "o.otio"
    code, _, stderr = run(capsys, *base, "-o", out, "--report", out)
    assert code == 2
    assert "same file" in one_line(stderr)
    before = project.timeline_otio.read_bytes()
    code, _, stderr = run(capsys, *base, "-o", out, "--report", project.timeline_otio, "--force")
    assert code == 2
    assert "IN" in one_line(stderr)
    assert project.timeline_otio.read_bytes() == before
    sound = next(project.library.rglob("*.wav"))
    before = sound.read_bytes()
    code, _, stderr = run(capsys, *base, "-o", out, "--report", sound, "--force")
    assert code == 2
    assert "sound of the library" in one_line(stderr)
    assert sound.read_bytes() == before
    assert not out.exists()


def test_a_preview_too_large_to_embed_is_an_output_the_report_links_to(
    capsys, monkeypatch, project, cache_dir, tmp_path
):
    """Over ~136 s the preview is linked, not embedded: it must be kept beside the report, not in a
    deleted temp folder, and be checked like any output before the work."""
    monkeypatch.setattr("soundify_otio.report.html.MAX_EMBED_BYTES", 100_000)
    report = tmp_path / "street.report.html"
    preview = tmp_path / "street.report.preview.wav"
    preview.write_text("mine")
    base = ["annotate", project.timeline_otio, "-o", tmp_path / "o.otio", *analysis_args(project, cache_dir)]
    base += ["--report", report]
    code, _, stderr = run(capsys, *base)
    assert code == 6
    assert str(preview) in one_line(stderr)
    assert preview.read_text() == "mine"
    code, _, stderr = run(capsys, *base, "--force")
    assert code == 0, stderr
    assert 'src="street.report.preview.wav"' in report.read_text(encoding="utf-8")
    assert soundfile.info(str(preview)).samplerate == 48000
    assert hidden(tmp_path) == []


def test_render_onto_the_timelines_own_footage_is_refused(capsys, tmp_path, annotated_timeline):
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(annotated_timeline, str(edit))
    footage = tmp_path / "video.mp4"
    code, _, stderr = run(capsys, "render", edit, "-o", tmp_path / "p.wav", "--with-video", footage, "--force")
    assert code == 2
    assert "media of clip" in one_line(stderr)
    assert footage.read_bytes() == b""
    assert not (tmp_path / "p.wav").exists()
    sound = tmp_path / "bell.wav"
    before = sound.read_bytes()
    code, _, _ = run(capsys, "render", edit, "-o", sound, "--force")
    assert code == 2
    assert sound.read_bytes() == before


def test_library_index_never_replaces_a_users_file(capsys, tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    write_tone(library / "bell.wav", 0.5, 48000, 1)
    notes = tmp_path / "notes.sqlite"
    notes.write_text("my notes, not an index")
    code, _, stderr = run(capsys, "library", "stats", library, "--index", notes)
    assert code == 6
    assert "not a soundify library index" in one_line(stderr)
    assert notes.read_text() == "my notes, not an index"
    code, _, stderr = run(capsys, "library", "stats", library, "--index", library / "bell.wav")
    assert code == 6
    assert soundfile.info(str(library / "bell.wav")).frames == 24000


def test_sample_project_keeps_a_users_own_street_otio(capsys, tmp_path):
    mine = tmp_path / "street.otio"
    mine.write_text("my own edit")
    code, _, stderr = run(capsys, "sample-project", tmp_path)
    assert code == 6
    assert "--force" in one_line(stderr)
    assert "street.otio" in stderr
    assert mine.read_text() == "my own edit"
    assert not (tmp_path / "library").exists()


def test_missing_output_folders_are_refused_by_every_command(capsys, tmp_path, annotated_timeline):
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(annotated_timeline, str(edit))
    code, _, stderr = run(capsys, "render", edit, "-o", tmp_path / "nope" / "p.wav")
    assert code == 6
    assert "does not exist" in one_line(stderr)
    code, _, stderr = run(capsys, "sample-project", tmp_path / "nope" / "deeper")
    assert code == 6
    assert "does not exist" in one_line(stderr)
    assert not (tmp_path / "nope").exists()


# ---- usage and internal errors ------------------------------------------------------------------


def test_device_banana_is_a_usage_error(capsys, project, tmp_path):
    out = tmp_path / "o.otio"
    code, _, stderr = run(
        capsys, "annotate", project.timeline_otio, "-o", out, "--library", project.library, "--device", "banana"
    )
    assert code == 2
    assert "banana" in one_line(stderr)
    assert "--device" in stderr


def test_verbose_prints_the_traceback_of_an_internal_error(capsys, monkeypatch, tmp_path, annotated_timeline):
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(annotated_timeline, str(edit))

    def boom(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr("soundify_otio.preview.render.render_preview", boom)
    code, _, stderr = run(capsys, "render", edit, "-o", tmp_path / "p.wav")
    assert code == 1
    assert "Traceback" not in stderr
    assert "injected fault" in one_line(stderr)
    with pytest.raises(SystemExit) as exited:
        main(["--verbose", "render", str(edit), "-o", str(tmp_path / "p.wav")])
    stderr = capsys.readouterr().err
    assert exited.value.code == 1
    assert "Traceback (most recent call last)" in stderr
    assert "def boom" not in stderr
    assert "in boom" in stderr


def test_escape_sequences_in_names_do_not_reach_the_terminal(capsys, tmp_path, annotated_timeline):
    edit = tmp_path / "edit.otio"
    annotated_timeline.tracks[1][1].media_reference.target_url = str(tmp_path / "gone\x1b[2J\nerror: spoof.wav")
    otio.adapters.write_to_file(annotated_timeline, str(edit))
    code, _, stderr = run(capsys, "render", edit, "-o", tmp_path / "p.wav")
    assert code == 3
    assert "\x1b" not in stderr
    assert "\\x1b[2J\\nerror: spoof" in one_line(stderr)


# ---- signals ------------------------------------------------------------------------------------

_SLOW_RENDER = (
    "import sys, time\n"
    "import soundify_otio.preview.render as render\n"
    "mix = render._mix\n"
    "def slow(*a, **k):\n"
    "    time.sleep(0.02)\n"
    "    mix(*a, **k)\n"
    "render._mix = slow\n"
    "from soundify_otio.cli import main\n"
    "main(sys.argv[1:])\n"
)


def long_timeline(folder: Path, seconds: float) -> Path:
    timeline = otio.schema.Timeline(name="long")
    append_sfx_track(timeline, folder, RATE)
    tone = write_tone(folder / "bed.wav", seconds, 8000, 1)
    bed = sound_clip(tone, "bed", "ambient", 0.0, seconds, [[0.0, 0.0]], [[0.0, -6.0]], 8000, 1, seconds, 0.0, 0.0)
    timeline.tracks[0].append(bed)
    edit = folder / "long.otio"
    otio.adapters.write_to_file(timeline, str(edit))
    return edit


@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_mid_render_removes_the_temp_file_and_keeps_the_previous_output(tmp_path, sig, code, word):
    edit = long_timeline(tmp_path, 60.0)
    out = tmp_path / "out" / "p.wav"
    out.parent.mkdir()
    out.write_bytes(b"previous")
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_RENDER, "render", str(edit), "-o", str(out), "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    while not hidden(out.parent) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert hidden(out.parent), "the render never started writing"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == word
    assert out.read_bytes() == b"previous"
    assert hidden(out.parent) == []
