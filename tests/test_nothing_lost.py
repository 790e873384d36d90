"""Issue 19, nothing lost: writes checked when they happen, one rule for a run's outputs against all its
inputs, bounded containers and headers, caches and records validated when read, and a kill at any step
leaving a state the next run accepts. Every hostile file is made here; the archive and header cases run
in a subprocess under an address-space limit, so a regression fails instead of eating the machine."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from soundify_otio.app.api import write_timeline
from soundify_otio.atomic import atomic_write_text, staged_outputs
from soundify_otio.batch.currency import is_current, is_ours, read_record, record_path, recorded
from soundify_otio.errors import MediaError, OutputError, TimelineError, UsageError
from soundify_otio.exporters import check_format, write_with_media
from soundify_otio.library.index import INDEX_NAME, LibraryIndex, probe, sync
from soundify_otio.outputs import Input, Output, check_outputs
from soundify_otio.pipeline.frame_cache import FrameCache
from soundify_otio.progress import null_progress
from soundify_otio.timeline.reading import read_timeline

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 1536 << 20
"""Address space for the bounded subprocesses: numpy and soundfile fit; a gigabyte allocation does not."""


def bounded(code: str, tmp_path: Path, limit: int = MEMORY_LIMIT) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python whose address space is capped at `limit` bytes."""
    prelude = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )


def tone(path: Path, seconds: float = 0.5, rate: int = 48000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), 0.25 * np.sin(2 * np.pi * 440 * t), rate)
    return path


def with_claimed_rate(path: Path, rate: int) -> Path:
    """A real WAV whose header now claims `rate` Hz (the fmt chunk's rate and byte rate)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"fmt ") + 8
    channels, bits = struct.unpack_from("<H", data, at + 2)[0], struct.unpack_from("<H", data, at + 14)[0]
    struct.pack_into("<II", data, at + 4, rate, min(rate * channels * bits // 8, 2**32 - 1))
    path.write_bytes(bytes(data))
    return path


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def small_timeline(name: str = "cut") -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name=name)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(24, 24))))
    timeline.tracks.append(track)
    return timeline


# ---- writes checked when they happen ------------------------------------------------------------


def test_a_write_without_force_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    out = tmp_path / "cut.soundify.otio"
    with (
        pytest.raises(OutputError, match="appeared while this run worked") as refused,
        staged_outputs(replace=False) as staged,
    ):
        staged.temp_for(out).write_text("ours")
        out.write_text("the user's, made after start-up")
    assert refused.value.path == str(out)
    assert out.read_text() == "the user's, made after start-up"
    assert temp_files(tmp_path) == []
    with staged_outputs(replace=True) as staged:  # --force: replaced
        staged.temp_for(out).write_text("ours")
    assert out.read_text() == "ours"


def test_a_group_refused_half_way_puts_back_what_it_had_placed(tmp_path: Path) -> None:
    first, second = tmp_path / "a.otio", tmp_path / "b.toml"
    with pytest.raises(OutputError), staged_outputs(replace=False) as staged:
        staged.temp_for(first).write_text("a")
        staged.temp_for(second).write_text("b")
        second.write_text("someone else's")
    assert not first.exists()
    assert second.read_text() == "someone else's"


def test_write_timeline_without_force_checks_again_when_it_writes(tmp_path: Path) -> None:
    out = tmp_path / "out.otio"
    out.write_text("made after the start-up check")
    with pytest.raises(OutputError, match="pass --force"):
        write_timeline(small_timeline(), out)
    assert out.read_text() == "made after the start-up check"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temp_files_are_removed_by_the_next_write(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = tmp_path / f".cut.soundify-{dead}-k1ll3d.otio"
    stale.write_text("half a timeline")
    staging = tmp_path / f".report.soundify-{dead}-abcd.staging"
    staging.mkdir()
    (staging / "report.html").write_text("half")
    alive = tmp_path / f".cut.soundify-{os.getppid()}-l1ve.otio"  # a running process's: left alone
    alive.write_text("being written")
    users = tmp_path / ".cut.otio.notes"
    users.write_text("the user's hidden file")
    hour_ago = time.time() - 3600
    for path in (stale, staging, alive, users):
        os.utime(path, (hour_ago, hour_ago))
    recent = tmp_path / f".cut.soundify-{dead}-r3cent.otio"  # a writer elsewhere sharing the folder: too young
    recent.write_text("being written on another machine")
    atomic_write_text(tmp_path / "other.txt", "x")
    assert temp_files(tmp_path) == sorted([alive.name, users.name, recent.name])


_KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
import opentimelineio as otio
from soundify_otio.app.api import write_timeline
step, out = sys.argv[1], Path(sys.argv[2])
timeline = otio.schema.Timeline(name="cut")
track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(24, 24))))
timeline.tracks.append(track)
def kill(temp):
    if step == "temp written":
        os.kill(os.getpid(), signal.SIGKILL)
write_timeline(timeline, out, before_commit=kill)
if step == "renamed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("step", ["temp written", "renamed"])
def test_a_write_killed_at_each_step_leaves_a_state_the_next_write_accepts(tmp_path: Path, step: str) -> None:
    """A review's Write timeline (write_timeline without --force) killed with its temp file written, or
    just after the rename: OUT is absent or whole, and the next write leaves no temp file behind."""
    out = tmp_path / "cut.soundify.otio"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITE, step, str(out)], env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    assert killed.returncode == -signal.SIGKILL
    if step == "temp written":
        (left,) = (tmp_path / name for name in temp_files(tmp_path))  # the killed write's temp file
        assert not out.exists()
        os.utime(left, (time.time() - 3600,) * 2)  # found by a run later than STALE_SECONDS
        write_timeline(small_timeline(), out)
    else:
        assert otio.adapters.read_from_file(str(out)).name == "cut"
        with pytest.raises(OutputError):
            write_timeline(small_timeline(), out)  # an OUT that exists is still never replaced without --force
        write_timeline(small_timeline(), tmp_path / "next.otio")
    assert temp_files(tmp_path) == []


# ---- one rule for a run's outputs against all its inputs ----------------------------------------


def test_an_output_inside_the_library_is_refused(tmp_path: Path) -> None:
    library = tmp_path / "SFX"
    (library / "doors").mkdir(parents=True)
    inputs = [Input(library, "the sound library", folder=True)]
    for out in (library / "x.xml", library / "doors" / "cut.fcpxml"):
        with pytest.raises(UsageError, match="inside the sound library"):
            check_outputs([Output(out, "-o")], inputs, force=True)
    check_outputs([Output(tmp_path / "SFX-notes.xml", "-o")], inputs, force=False)  # a sibling is fine


def test_a_plain_file_where_the_conformed_media_go_fails_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "cut_media").write_text("not a folder")
    with pytest.raises(OutputError, match="cut_media exists and is not a folder"):
        check_format(tmp_path / "cut.xml")


def _manifest(folder: Path, rows: list[str]) -> Path:
    manifest = folder / "jobs.csv"
    manifest.write_text("input,output,seed\n" + "\n".join(rows) + "\n")
    return manifest


def test_batch_outputs_are_checked_against_every_jobs_input(tmp_path: Path, monkeypatch) -> None:
    from soundify_otio.app.model import ModelRequest
    from soundify_otio.batch.jobs import read_jobs
    from soundify_otio.batch.run import BatchOptions, run_batch
    from soundify_otio.batch.worker import WorkerSettings

    library = tmp_path / "lib"
    library.mkdir()
    tone(library / "door slam.wav")
    otio.adapters.write_to_file(small_timeline("a"), str(tmp_path / "a.otio"))
    otio.adapters.write_to_file(small_timeline("b"), str(tmp_path / "b.otio"))
    before = (tmp_path / "b.otio").read_bytes()
    rows = [
        "a.otio,b.otio,",  # names job 2's input
        "b.otio,,not-a-number",  # a failed row: its input is still an input of the run
        "a.otio,../escape/x.otio,",  # leads outside the output folder
    ]
    jobs = read_jobs(_manifest(tmp_path, rows), tmp_path, ".otio")
    worker = WorkerSettings(ModelRequest("RN50", "none", "cpu"), library, None)
    run = run_batch(jobs, BatchOptions({}, worker, force=True), None)
    outcomes = {o.job.number: o for o in run.outcomes}
    assert [o.status for o in run.outcomes] == ["failed"] * 3
    assert "the input timeline of job 2" in outcomes[1].reason
    assert outcomes[1].exit_code == 2
    assert "leads outside the output folder" in outcomes[3].reason
    assert (tmp_path / "b.otio").read_bytes() == before
    assert not (tmp_path.parent / "escape").exists()


def test_a_refused_batch_job_leaves_no_folder(tmp_path: Path) -> None:
    from soundify_otio.app.model import ModelRequest
    from soundify_otio.batch.jobs import read_jobs
    from soundify_otio.batch.run import BatchOptions, run_batch
    from soundify_otio.batch.worker import WorkerSettings

    library = tmp_path / "lib"
    library.mkdir()
    tone(library / "door slam.wav")
    (tmp_path / "broken.otio").write_text('{"OTIO_SCHEMA": "Timeline.1", ' + "[" * 600 + "]" * 600 + "}")
    out_dir = tmp_path / "out"
    jobs = read_jobs(_manifest(tmp_path, ["broken.otio,deep/er/x.otio,"]), out_dir, ".otio")
    worker = WorkerSettings(ModelRequest("RN50", "none", "cpu"), library, None)
    run = run_batch(jobs, BatchOptions({}, worker), None)
    assert run.outcomes[0].status == "failed"
    assert run.outcomes[0].exit_code == 3
    assert not out_dir.exists()


# ---- batch records: written with the output, validated when read --------------------------------

_KILLED_JOB = """
import os, signal, sys
from pathlib import Path
import opentimelineio as otio
from soundify_otio.batch.currency import is_ours, recorded
from soundify_otio.exporters import write_with_media
step, out, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
timeline = otio.schema.Timeline(name=name)
track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(24, 24))))
timeline.tracks.append(track)
def replaceable(path):
    return not path.exists() or is_ours(path)
with recorded(out, "fp-" + name, False, replaceable) as record:
    def hook(temp):
        if step == "before the record":
            os.kill(os.getpid(), signal.SIGKILL)
        record(temp)
        if step == "between record and output":
            os.kill(os.getpid(), signal.SIGKILL)
    write_with_media(timeline, out, before_commit=hook)  # as the batch's write_timeline(force=True)
if step == "after the output":
    os.kill(os.getpid(), signal.SIGKILL)
"""

STEPS = ["before the record", "between record and output", "after the output"]


def _job(step: str, out: Path, name: str) -> int:
    return subprocess.run(
        [sys.executable, "-c", _KILLED_JOB, step, str(out), name], env=dict(os.environ, PYTHONPATH=str(ROOT))
    ).returncode


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("earlier", [False, True], ids=["first run", "over an earlier batch output"])
def test_a_batch_job_killed_at_each_step_leaves_an_output_the_next_run_accepts(
    tmp_path: Path, step: str, earlier: bool
) -> None:
    out = tmp_path / "reel.soundify.otio"
    if earlier:
        assert _job("none", out, "old") == 0
        assert is_current(out, "fp-old")
    assert _job(step, out, "new") == -signal.SIGKILL
    if out.exists():
        assert is_ours(out), "a re-run would refuse this output for good ('pass --force')"
        name = otio.adapters.read_from_file(str(out)).name
        assert name == ("new" if step == "after the output" else "old")
        assert is_current(out, "fp-new") == (step == "after the output")
    else:
        assert not earlier
        assert step != "after the output"
    for left in tmp_path.glob(".*.soundify-*-*"):  # the killed write's temp file, found by a later run
        os.utime(left, (time.time() - 3600,) * 2)
    assert _job("none", out, "new") == 0  # the next run: no --force needed
    assert is_current(out, "fp-new")
    assert otio.adapters.read_from_file(str(out)).name == "new"
    assert temp_files(tmp_path) == [record_path(out).name]


def test_a_failed_output_write_restores_the_earlier_record(tmp_path: Path) -> None:
    out = tmp_path / "reel.soundify.otio"
    assert _job("none", out, "old") == 0
    earlier = record_path(out).read_bytes()
    with (
        pytest.raises(OutputError, match="appeared or was edited"),
        recorded(out, "fp-new", False, lambda path: False) as hook,
    ):
        write_timeline(small_timeline("new"), out, force=True, before_commit=hook)
    assert record_path(out).read_bytes() == earlier
    assert is_current(out, "fp-old")


@pytest.mark.parametrize(
    "content",
    [
        b'{"fingerprint": "x", "output_sha',  # truncated
        b"[" * 100_000 + b"]" * 100_000,  # nests past Python's recursion limit
        b'{"fingerprint": "x", "output_sha256": 7, "fallback_random": false}',
        b"\xff\xfe not UTF-8",
        b'{"fingerprint": "' + b"x" * 70_000 + b'"}',
    ],
    ids=["truncated", "deep", "wrong type", "not text", "huge"],
)
def test_a_corrupt_batch_record_is_ignored_with_a_warning(tmp_path: Path, caplog, content: bytes) -> None:
    out = tmp_path / "reel.soundify.otio"
    out.write_text("an output")
    record_path(out).write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert read_record(out) is None
    assert not is_ours(out)
    assert not is_current(out, "x")
    assert "ignoring this batch record" in caplog.text


# ---- bounded containers and headers --------------------------------------------------------------


def test_a_deeply_nested_otioz_is_refused_before_parsing(tmp_path: Path) -> None:
    bundle = tmp_path / "deep.otioz"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content.otio", "[" * 100_000 + "]" * 100_000)
    assert bundle.stat().st_size < 2048
    with pytest.raises(TimelineError, match="nested 100000 levels deep"):
        read_timeline(bundle)


def test_an_otioz_bomb_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    bundle = tmp_path / "bomb.otioz"
    with (
        zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("content.otio", "w", force_zip64=True) as member,
    ):
        block = b" " * (1 << 20)
        for _ in range(600):  # 600 MiB of JSON whitespace: a few hundred KB deflated
            member.write(block)
    assert bundle.stat().st_size < 4 << 20
    result = bounded(
        f"""
        from pathlib import Path
        from soundify_otio.errors import TimelineError
        from soundify_otio.timeline.reading import read_timeline
        try:
            read_timeline(Path({str(bundle)!r}))
        except TimelineError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "decompresses to 629145600 bytes" in result.stdout


@pytest.mark.parametrize("rate", [2_147_483_647, 1])
def test_a_wav_claiming_an_absurd_rate_is_skipped_by_the_library_in_bounded_memory(tmp_path: Path, rate: int) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    with_claimed_rate(tone(library / "liar.wav", seconds=0.1), rate)
    result = bounded(
        f"""
        from soundify_otio.library.index import probe
        facts = probe({str(library)!r}, "liar.wav")
        print(facts.reason)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"bad header: its header claims {rate} Hz" in result.stdout


def test_a_wav_claiming_1_hz_is_not_conformed(tmp_path: Path) -> None:
    sound = with_claimed_rate(tone(tmp_path / "one hertz.wav", seconds=0.2), 1)
    timeline = _timeline_playing(sound, seconds=1.0)
    result = bounded(
        f"""
        from pathlib import Path
        import opentimelineio as otio
        from soundify_otio.errors import MediaError
        from soundify_otio.exporters import write_with_media
        timeline = otio.adapters.read_from_string({otio.adapters.write_to_string(timeline)!r})
        try:
            write_with_media(timeline, Path("cut.xml"))
        except MediaError as exc:
            print(exc.reason)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "claims 1 Hz" in result.stdout
    assert not (tmp_path / "cut.xml").exists()
    assert not (tmp_path / "cut_media").exists()


def _timeline_playing(*sounds: Path, seconds: float) -> otio.schema.Timeline:
    """A timeline with one generated effect clip per sound (the record annotate writes)."""
    timeline = small_timeline()
    track = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    track.metadata["soundify"] = {"generated": True, "role": "effects"}
    for sound in sounds:
        clip = otio.schema.Clip(
            name=sound.stem,
            media_reference=otio.schema.ExternalReference(target_url=sound.as_uri()),
            source_range=otio.opentime.TimeRange(duration=otio.opentime.RationalTime(seconds * 24, 24)),
        )
        clip.metadata["soundify"] = {
            "generated": True,
            "label": sound.stem,
            "kind": "effect",
            "keyframes": {"pan": [[0.0, 0.0]], "gain_db": [[0.0, 0.0]]},
            "fade_in": 0.0,
            "fade_out": 0.0,
            "sound": {"path": str(sound), "sample_rate": 48000, "channels": 1, "duration": seconds},
        }
        track.append(clip)
    timeline.tracks.append(track)
    return timeline


# ---- conformed media: content-verified, all or nothing -------------------------------------------


def test_a_truncated_conformed_wav_is_encoded_again(tmp_path: Path) -> None:
    sound = tmp_path / "bell.flac"
    soundfile.write(str(sound), np.sin(np.arange(48000) / 10.0) * 0.3, 48000, format="FLAC")
    write_with_media(_timeline_playing(sound, seconds=1.0), tmp_path / "cut.xml")
    (conformed,) = (tmp_path / "cut_media").iterdir()
    whole = conformed.read_bytes()
    conformed.write_bytes(whole[: len(whole) // 2])  # a copy cut short (killed copy, full disk)
    assert soundfile.info(str(conformed)).samplerate == 48000  # its header alone still looks right
    write_with_media(_timeline_playing(sound, seconds=1.0), tmp_path / "cut.xml")  # the re-run (--force)
    again = conformed.read_bytes()
    assert len(again) == len(whole)
    assert again[-4096:] == whole[-4096:]  # whole again (the bext date may differ)
    assert temp_files(tmp_path / "cut_media") == []


def test_a_failure_half_way_through_conforming_leaves_no_half_set(tmp_path: Path, monkeypatch) -> None:
    import soundify_otio.exporters.conform as conform

    sounds = []
    for n in range(3):
        sounds.append(tmp_path / f"s{n}.flac")
        soundfile.write(str(sounds[-1]), np.sin(np.arange(4800) / (3.0 + n)) * 0.3, 48000, format="FLAC")
    real, calls = conform.with_bext, []

    def full_disk_on_the_third(wav: bytes, description: str) -> bytes:
        calls.append(description)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(wav, description)

    monkeypatch.setattr(conform, "with_bext", full_disk_on_the_third)
    with pytest.raises((OutputError, OSError)):
        write_with_media(_timeline_playing(*sounds, seconds=0.1), tmp_path / "cut.xml")
    assert not (tmp_path / "cut.xml").exists()
    assert not (tmp_path / "cut_media").exists()


# ---- caches and indexes validated when read -------------------------------------------------------


def test_a_truncated_frame_cache_entry_is_ignored_and_made_again(tmp_path: Path, caplog) -> None:
    cache = FrameCache(tmp_path)
    store = cache.activation_store("k", 2)
    store.append(np.ones((2, 3, 1, 1), np.float16))
    thumbnails = np.zeros((4, 32, 32), np.uint8)
    cache.save("k", 25.0, np.zeros(4), np.array([0.0, 0.5]), np.eye(2, dtype=np.float32), store, thumbnails=thumbnails)
    summary = tmp_path / "k.npz"
    summary.write_bytes(summary.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        assert FrameCache(tmp_path).load("k") is None
    assert "ignoring unreadable cache entry" in caplog.text
    assert not summary.exists()


def test_an_index_row_with_a_zero_duration_is_read_again(tmp_path: Path, caplog) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    tone(library / "door.wav", seconds=0.5)
    index = LibraryIndex.open([library / INDEX_NAME])
    sync(library, index, null_progress)
    with sqlite3.connect(library / INDEX_NAME) as db:
        db.execute("UPDATE files SET duration = 0")
    with caplog.at_level(logging.WARNING):
        report = sync(library, LibraryIndex.open([library / INDEX_NAME]), null_progress)
    assert report.read == 1
    assert report.facts[0].duration == pytest.approx(0.5)
    assert "ignoring the index's entry for 'door.wav'" in caplog.text
    assert LibraryIndex.open([library / INDEX_NAME]).files()["door.wav"].duration == pytest.approx(0.5)


def test_probe_reads_a_normal_sound(tmp_path: Path) -> None:
    """The header bounds leave real sounds alone (8 kHz mono and 96 kHz both read)."""
    for rate in (8000, 96000):
        tone(tmp_path / f"t{rate}.wav", rate=rate)
        assert probe(str(tmp_path), f"t{rate}.wav").usable


# ---- timelines ------------------------------------------------------------------------------------


def test_an_fcp7_clip_with_a_negative_duration_is_refused_not_dropped(tmp_path: Path) -> None:
    xml = tmp_path / "cut.xml"
    clip = (
        "<clipitem id='c{n}'><name>{name}</name><rate><timebase>24</timebase></rate>"
        "<start>{start}</start><end>{end}</end><in>{start}</in><out>{end}</out>"
        "<file id='f1'><name>x.mp4</name><pathurl>file:///nowhere/x.mp4</pathurl>"
        "<rate><timebase>24</timebase></rate><duration>100</duration></file></clipitem>"
    )
    xml.write_text(
        "<?xml version='1.0'?><xmeml version='4'><sequence id='s'><name>s</name><rate><timebase>24</timebase>"
        "</rate><media><video><track>"
        + clip.format(n=1, name="fine", start=0, end=48)
        + clip.format(n=2, name="backwards", start=48, end=24)
        + "</track></video></media></sequence></xmeml>"
    )
    with pytest.raises(TimelineError, match="clip 'backwards' has a negative duration"):
        read_timeline(xml)


def test_hostile_media_raises_media_error_not_internal(tmp_path: Path) -> None:
    """The render path's reader refuses a lying header with MediaError (not an allocation)."""
    from soundify_otio.preview.render import _Source

    liar = with_claimed_rate(tone(tmp_path / "liar.wav", seconds=0.1), 2_147_483_647)
    with pytest.raises(MediaError, match="claims 2147483647 Hz"):
        _Source(liar, 48000)


def test_record_json_is_what_the_reader_accepts(tmp_path: Path) -> None:
    out = tmp_path / "o.otio"
    assert _job("none", out, "x") == 0
    record = json.loads(record_path(out).read_text())
    assert set(record) == {"fingerprint", "output_sha256", "previous_sha256", "fallback_random"}
    assert read_record(out) == record


@pytest.mark.parametrize("failing", ["the footage copy", "a library sound"])
def test_sample_project_failing_half_way_leaves_nothing(tmp_path: Path, monkeypatch, failing: str) -> None:
    """A full disk half-way through sample-project: exit 6 (OutputError), and every file and folder it
    made is gone (the user's own files in DEST stay)."""
    import soundify_otio.sample.project as sample

    dest = tmp_path / "sample"
    dest.mkdir()
    (dest / "notes.txt").write_text("the user's")
    if failing == "the footage copy":
        monkeypatch.setattr(sample.shutil, "copyfile", lambda *a: (_ for _ in ()).throw(OSError(28, "No space")))
    else:
        real, calls = sample.soundfile.write, []

        def full_after_three(*args, **kwargs):
            calls.append(args)
            if len(calls) > 3:
                raise soundfile.LibsndfileError(2, "System error.")
            return real(*args, **kwargs)

        monkeypatch.setattr(sample.soundfile, "write", full_after_three)
    with pytest.raises(OutputError):
        sample.build_sample_project(dest)
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
