"""`batch` on this machine: jobs from a folder or a manifest, results as `annotate` gives them, failures
reported while the rest go on, re-runs that skip what is current, and outputs that are not ours."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soundify_otio.batch.jobs import ManifestError, read_jobs
from soundify_otio.batch.progress import BatchProgress

from helpers.batch_jobs import result_of, write_jobs
from helpers.cli import analysis_args, run


def batch(capsys, project, jobs, out_dir, cache_dir, *extra):
    code, out, err = run(
        capsys, "batch", jobs, "--out-dir", out_dir, *analysis_args(project, cache_dir), "--conform-media", "none",
        "--json", *extra,
    )  # fmt: skip
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


@pytest.fixture(scope="module")
def folder_run(project, cache_dir, tmp_path_factory):
    """One batch over a folder: three timelines (one with offline media) and a file that is no timeline,
    beside `annotate` run on each timeline alone."""
    root = tmp_path_factory.mktemp("batch")
    jobs = write_jobs(project, root / "jobs")
    (root / "jobs" / "broken.otio").write_text("{ not json", encoding="utf-8")
    return root, jobs


@pytest.mark.slow
def test_folder_batch_matches_annotate_alone_and_reports_the_bad_job(capsys, project, cache_dir, folder_run):
    root, jobs = folder_run
    code, summary, err = batch(capsys, project, root / "jobs", root / "out", cache_dir)
    assert code == 3, err  # the broken timeline: its own exit code; the others still ran
    by_name = {Path(r["input"]).name: r for r in summary["results"]}
    assert [r["status"] for r in summary["results"]] == ["done", "done", "failed", "done"]  # a, b, broken, c
    assert "broken.otio" in by_name["broken.otio"]["reason"]
    assert by_name["broken.otio"]["exit_code"] == 3
    assert (summary["done"], summary["current"], summary["failed"]) == (3, 0, 1)
    assert not (root / "out" / "broken.soundify.otio").exists()
    assert [s["media"].endswith("missing.mp4") for s in by_name["c.otio"]["skipped_shots"]] == [True]
    for name, timeline in jobs.items():
        alone = root / "alone" / f"{name}.soundify.otio"
        alone.parent.mkdir(exist_ok=True)
        code, _, err = run(
            capsys, "annotate", timeline, "-o", alone, "--library", project.library, "--pretrained", "none",
            "--cache-dir", cache_dir, "--conform-media", "none",
        )  # fmt: skip
        assert code == 0, err
        assert result_of(root / "out" / f"{name}.soundify.otio") == result_of(alone), name


@pytest.mark.slow
def test_rerun_skips_current_jobs_and_redoes_a_changed_one(capsys, project, cache_dir, folder_run):
    root, jobs = folder_run
    if not (root / "out" / "a.soundify.otio").exists():
        batch(capsys, project, root / "jobs", root / "out", cache_dir)
    outputs = {n: root / "out" / f"{n}.soundify.otio" for n in jobs}
    before = {n: p.stat().st_mtime_ns for n, p in outputs.items()}
    code, summary, _ = batch(capsys, project, root / "jobs", root / "out", cache_dir)
    assert code == 3  # the broken timeline fails again; nothing else is done
    assert [r["status"] for r in summary["results"]] == ["current", "current", "failed", "current"]
    assert summary["video_seconds"] == 0
    assert {n: p.stat().st_mtime_ns for n, p in outputs.items()} == before
    code, summary, _ = batch(capsys, project, root / "jobs", root / "out", cache_dir, "--seed", "7")
    assert [r["status"] for r in summary["results"]] == ["done", "done", "failed", "done"]  # a setting changed
    jobs["b"].write_bytes(
        jobs["b"].read_bytes().replace(b'"Road, then rider"', b'"Road, then a rider"')
    )  # an edit of b only
    code, summary, _ = batch(capsys, project, root / "jobs", root / "out", cache_dir, "--seed", "7")
    assert [r["status"] for r in summary["results"]] == ["current", "done", "failed", "current"]


@pytest.mark.slow
def test_an_output_the_batch_did_not_write_is_kept_unless_forced(capsys, project, cache_dir, tmp_path):
    jobs = write_jobs(project, tmp_path / "jobs")
    jobs["b"].unlink(), jobs["c"].unlink()
    mine = tmp_path / "out" / "a.soundify.otio"
    mine.parent.mkdir()
    mine.write_text("the editor's own file", encoding="utf-8")
    code, summary, _ = batch(capsys, project, tmp_path / "jobs", tmp_path / "out", cache_dir)
    assert code == 6
    assert "--force" in summary["results"][0]["reason"]
    assert mine.read_text(encoding="utf-8") == "the editor's own file"
    code, summary, _ = batch(capsys, project, tmp_path / "jobs", tmp_path / "out", cache_dir, "--force")
    assert code == 0
    assert summary["done"] == 1
    assert mine.read_bytes().startswith(b"{")


@pytest.mark.slow
def test_toml_manifest_per_job_settings_and_bad_rows(capsys, project, cache_dir, tmp_path):
    jobs = write_jobs(project, tmp_path / "jobs")
    manifest = tmp_path / "jobs" / "reels.toml"
    manifest.write_text(
        '[[job]]\ninput = "a.otio"\noutput = "reel-a.xml"\n[job.settings]\nseed = 3\neffects_per_scene = 2\n\n'
        '[[job]]\ninput = "b.otio"\n[job.settings]\nvolume_knob = 1\n\n'
        '[[job]]\ninput = "c.otio"\nchoices = "nowhere.toml"\n\n'
        '[[job]]\ninput = "a.otio"\n[job.settings]\nsample_fps = 99.0\n',
        encoding="utf-8",
    )
    code, summary, _ = batch(capsys, project, manifest, tmp_path / "out", cache_dir)
    statuses = [(r["status"], r["exit_code"]) for r in summary["results"]]
    assert statuses == [("done", 0), ("failed", 2), ("failed", 7), ("failed", 2)]
    assert code == 2
    assert "unknown setting `volume_knob`" in summary["results"][1]["reason"]
    assert "sample_fps=99.0" in summary["results"][3]["reason"]
    written = (tmp_path / "out" / "reel-a.xml").read_text(encoding="utf-8")
    assert written.startswith("<?xml")
    assert jobs["a"].is_file()
    single = json.loads((tmp_path / "out" / ".reel-a.xml.soundify-batch.json").read_text(encoding="utf-8"))
    assert len(single["fingerprint"]) == 64


def test_csv_manifest_rows_and_unreadable_manifests(tmp_path):
    (tmp_path / "jobs.csv").write_text("input,output,seed\nr1.otio,,4\nr2.otio,x.otio,\nr3.otio,,4.5\n", "utf-8")
    jobs = read_jobs(tmp_path / "jobs.csv", tmp_path / "out", ".otio")
    assert [(j.input.name, j.output.name, j.settings, bool(j.problem)) for j in jobs] == [
        ("r1.otio", "r1.soundify.otio", {"seed": 4}, False),
        ("r2.otio", "x.otio", {}, False),
        ("r3.otio", "r3.soundify.otio", {}, True),
    ]
    (tmp_path / "bad.csv").write_text("file,seed\nr1.otio,1\n", "utf-8")
    (tmp_path / "bad.toml").write_text("[[job]\n", "utf-8")
    (tmp_path / "empty").mkdir()
    for source in ("bad.csv", "bad.toml", "empty", "nothing-here", "jobs.txt"):
        with pytest.raises(ManifestError, match=source):
            read_jobs(tmp_path / source, tmp_path / "out", ".otio")


def test_usage_errors_name_the_problem(capsys, project, tmp_path):
    code, _, err = run(capsys, "batch", tmp_path / "nowhere", "--out-dir", tmp_path, "--library", project.library)
    assert code == 2
    assert "nowhere" in err
    write_jobs(project, tmp_path / "jobs")
    code, _, err = run(
        capsys, "batch", tmp_path / "jobs", "--out-dir", tmp_path / "o", "--library", project.library,
        "--pretrained", "none", "--ray", "127.0.0.1:1",
    )  # fmt: skip
    assert code == 2
    assert "Ray" in err or "ray" in err


def test_progress_line_counts_rate_and_eta():
    lines = []
    progress = BatchProgress(jobs=2, video_seconds=100.0, emit=lines.append)
    progress._started -= 10.0  # ten seconds in
    progress.advance(1, 20.0)
    progress.advance(1, 10.0)  # never goes back
    assert "20/100 video-s, 2.00 video-s/s" in progress.line()
    assert "ETA 0:00:40" in progress.line()
    progress.finished(1, 50.0, "a.otio: done")
    assert lines[0].startswith("[1/2] a.otio: done | 50/100 video-s, 5.00 video-s/s")
    assert "ETA 0:00:10" in lines[0]
    assert os.environ.get("RAY_USAGE_STATS_ENABLED") in (None, "0")


def test_default_outputs_never_collide(tmp_path):
    """Inputs that differ only in suffix (or in case, one file on macOS and Windows) keep their suffix in
    the output's name; a name still taken is numbered. Named outputs of a manifest are left as given."""
    folder = tmp_path / "reels"
    folder.mkdir()
    for name in ("street.otio", "street.xml", "STREET.fcpxml", "street.xml.otio", "reel.otio"):
        (folder / name).write_text("", encoding="utf-8")
    outputs = {j.input.name: j.output.name for j in read_jobs(folder, tmp_path / "out", ".otio")}
    assert outputs == {
        "STREET.fcpxml": "STREET.fcpxml.soundify.otio",
        "reel.otio": "reel.soundify.otio",
        "street.otio": "street.otio.soundify.otio",
        "street.xml": "street.xml.soundify.otio",
        "street.xml.otio": "street.xml.soundify-2.otio",
    }
    (tmp_path / "jobs.csv").write_text("input,output\na/street.otio,\nb/street.otio,\nc.xml,mine.xml\n", "utf-8")
    jobs = read_jobs(tmp_path / "jobs.csv", tmp_path / "out", ".xml")
    assert [j.output.name for j in jobs] == ["street.otio.soundify.xml", "street.otio.soundify-2.xml", "mine.xml"]


@pytest.mark.slow
def test_sample_folder_batch_counts_every_job(project, cache_dir, tmp_path, capsys):
    """The sample folder holds street.otio and street.xml: both run, to two outputs, counted [1/2] and [2/2]."""
    from soundify_otio.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["batch", str(project.root), "--out-dir", str(tmp_path), *analysis_args(project, cache_dir)])
    err = capsys.readouterr().err
    assert exited.value.code == 0, err
    assert (tmp_path / "street.otio.soundify.otio").is_file()
    assert (tmp_path / "street.xml.soundify.otio").is_file()
    counters = [line.split("]")[0] + "]" for line in err.splitlines() if line.startswith("[")]
    assert counters == ["[1/2]", "[2/2]"], err
