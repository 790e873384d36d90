"""End to end through the CLI: the random-weight RN50 path on the sample project, round trips,
choices, and every bad input giving one clear message, its exit code, and nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import opentimelineio as otio
import pytest

from soundify_otio.cli import main

from helpers.cli import analysis_args, run
from helpers.synthetic import corrupt_copy


def annotate(capsys, project, out: Path, cache_dir: Path, *extra: object, timeline: Path | None = None):
    return run(
        capsys, "annotate", timeline or project.timeline_otio, "-o", out, *analysis_args(project, cache_dir), *extra
    )


def suggest(capsys, project, choices: Path, cache_dir: Path):
    return run(capsys, "suggest", project.timeline_otio, "-o", choices, *analysis_args(project, cache_dir))


def read(path: Path) -> otio.schema.Timeline:
    """Keep the timeline referenced: iterating a temporary's tracks loses them in OTIO's bindings."""
    return otio.adapters.read_from_file(str(path))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.slow
def test_annotate_sample_project_end_to_end(capsys, project, cache_dir, tmp_path):
    before = digest(project.timeline_otio)
    out = tmp_path / "street.soundify.otio"
    code, stdout, stderr = annotate(capsys, project, out, cache_dir, "--json")
    assert code == 0, stderr
    assert "random weights" not in stderr  # --quiet: errors only; the random weights are in the summary and the file
    assert digest(project.timeline_otio) == before
    summary = json.loads(stdout)
    assert summary["pipeline_check"] is True
    result = read(out)
    assert result.metadata["soundify"]["pipeline_check"] is True
    assert result.metadata["soundify"]["weights"] == "none"
    names = [t.name for t in result.tracks]
    assert "AMB" in names
    assert "SFX 1" in names
    scenes = result.metadata["soundify"]["scenes"]
    # 5 clips, one of which spans a cut inside the footage: 6 scenes, ambient bed under each
    assert len(scenes) == summary["scene_count"] == 6
    amb = next(t for t in result.tracks if t.name == "AMB")
    assert len(list(amb.find_clips())) == 6
    for clip in result.find_clips():
        meta = clip.metadata.get("soundify")
        if not meta:
            continue
        keys = meta["keyframes"]
        assert len(keys["pan"]) >= 2
        assert len(keys["gain_db"]) >= 2
        assert all(-1.0 <= v <= 1.0 for _, v in keys["pan"])
        assert keys["pan"][-1][0] == pytest.approx(clip.source_range.duration.to_seconds(), abs=1e-3)
        assert len(meta["alternatives"]) == 5
        assert Path(meta["sound"]["path"]).is_file()
        assert clip.media_reference.available_range.duration.rate == meta["sound"]["sample_rate"]
    original = read(project.timeline_otio)
    assert len(result.tracks.markers) == 6 + len(original.tracks.markers)


@pytest.mark.slow
def test_output_keeps_every_original_item(capsys, project, cache_dir):
    out = project.root / "kept.otio"  # beside IN, so relative media paths stay as they are
    assert annotate(capsys, project, out, cache_dir)[0] == 0
    original = read(project.timeline_otio)
    result = read(out)
    for index, track in enumerate(original.tracks):
        assert result.tracks[index].to_json_string() == track.to_json_string()
    for marker in original.tracks.markers:
        assert marker.to_json_string() in [m.to_json_string() for m in result.tracks.markers]
    for key, value in original.metadata.items():
        assert result.metadata[key] == value
    assert result.global_start_time == original.global_start_time


@pytest.mark.slow
def test_reannotating_replaces_the_soundify_tracks(capsys, project, cache_dir, tmp_path):
    """Also: OUT in another folder gets its relative media paths rebased, so it can be annotated again."""
    first, second = tmp_path / "first.otio", tmp_path / "second.otio"
    assert annotate(capsys, project, first, cache_dir)[0] == 0
    first_timeline = read(first)
    video_urls = {c.media_reference.target_url for c in first_timeline.video_tracks()[0].find_clips()}
    assert all(not url.startswith("media/") and url.endswith("media/bikes.mp4") for url in video_urls)
    assert annotate(capsys, project, second, cache_dir, timeline=first)[0] == 0
    second_timeline = read(second)
    names = [t.name for t in second_timeline.tracks]
    assert names.count("AMB") == 1
    assert names == [t.name for t in first_timeline.tracks]
    assert len(second_timeline.tracks.markers) == len(first_timeline.tracks.markers)


@pytest.mark.slow
def test_fcp7_xml_in_and_out(capsys, project, cache_dir, tmp_path):
    out = tmp_path / "street.soundify.xml"
    code, _, stderr = annotate(capsys, project, out, cache_dir, timeline=project.timeline_xml)
    assert code == 0, stderr
    result = read(out)
    assert len(result.audio_tracks()) >= 2
    assert b"Audio Levels" in out.read_bytes()


@pytest.mark.slow
def test_choices_round_trip_reuses_the_analysis(capsys, project, cache_dir, tmp_path):
    choices = tmp_path / "choices.toml"
    code, _, stderr = suggest(capsys, project, choices, cache_dir)
    assert code == 0, stderr
    text = choices.read_text()
    assert text.count("[[scene]]") == 6
    first_effects = next(line for line in text.splitlines() if line.startswith("effects = "))
    edited = text.replace(first_effects, 'effects = ["bicycle bell", "car passing"]', 1)
    choices.write_text(edited.replace('ambient = "', 'ambient = "city street day" #', 1))
    out = tmp_path / "chosen.otio"
    code, stdout, stderr = annotate(capsys, project, out, cache_dir, "--choices", choices, "--json")
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["scenes"][0]["picks"] == {"effects": ["bicycle bell", "car passing"], "ambient": "city street day"}
    assert "decode" not in summary["timings"]
    assert "encode" not in summary["timings"]
    assert summary["cache"]["hits"] == 5
    assert summary["cache"]["misses"] == 0


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda t: t.replace("effects = [", 'effects = ["no such sound", ', 1), "effect 'no such sound'"),
        (lambda t: t.replace('id = "', 'id = "elsewhere.mp4@', 1), "is not in this timeline"),
        (lambda t: t.replace("effects = [", "effects = [[", 1), "not valid TOML"),
    ],
)
def test_bad_choices_name_the_line_and_write_nothing(capsys, project, cache_dir, tmp_path, edit, problem):
    choices = tmp_path / "choices.toml"
    assert suggest(capsys, project, choices, cache_dir)[0] == 0
    choices.write_text(edit(choices.read_text()))
    out = tmp_path / "out.otio"
    code, _, stderr = annotate(capsys, project, out, cache_dir, "--choices", choices)
    assert code == 7
    assert problem in stderr
    assert "line " in stderr
    assert str(choices) in stderr
    assert not out.exists()


def _copy_project_timeline(project, tmp_path: Path, media: Path) -> Path:
    """The sample timeline with every clip pointing at `media`."""
    timeline = read(project.timeline_otio)
    for clip in timeline.find_clips():
        clip.media_reference.target_url = media.as_uri()
    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_missing_media_everywhere_is_an_error_naming_the_file(capsys, project, cache_dir, tmp_path):
    timeline = _copy_project_timeline(project, tmp_path, tmp_path / "gone" / "bikes.mp4")
    out = tmp_path / "out.otio"
    code, _, stderr = annotate(capsys, project, out, cache_dir, timeline=timeline)
    assert code == 3
    assert "gone/bikes.mp4" in stderr
    assert "not found" in stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_one_missing_shot_is_skipped_and_the_rest_annotated(capsys, project, cache_dir, tmp_path):
    timeline = read(_copy_project_timeline(project, tmp_path, project.video))
    clip = next(iter(timeline.find_clips()))
    clip.media_reference.target_url = (tmp_path / "lost.mp4").as_uri()
    path = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline, str(path))
    out = tmp_path / "out.otio"
    with pytest.raises(SystemExit) as exited:  # not --quiet, which would hide the warning
        main(["annotate", str(path), "-o", str(out), *analysis_args(project, cache_dir), "--json"])
    captured = capsys.readouterr()
    code, stdout, stderr = exited.value.code, captured.out, captured.err
    assert code == 0
    assert "warning:" in stderr
    assert "lost.mp4" in stderr
    summary = json.loads(stdout)
    assert [s["media"].endswith("lost.mp4") for s in summary["skipped_shots"]] == [True]
    assert summary["scene_count"] == 5


def test_corrupt_video_is_reported_with_its_reason(capsys, project, cache_dir, tmp_path):
    broken = corrupt_copy(project.video, tmp_path / "broken.mp4", mode="truncate")
    timeline = _copy_project_timeline(project, tmp_path, broken)
    out = tmp_path / "out.otio"
    code, _, stderr = annotate(capsys, project, out, cache_dir, timeline=timeline)
    assert code == 3
    assert "broken.mp4" in stderr
    assert "decode" in stderr
    assert not out.exists()


def test_empty_library_is_an_error(capsys, project, cache_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out.otio"
    code, _, stderr = run(
        capsys, "annotate", project.timeline_otio, "-o", out, "--library", empty, "--pretrained", "none"
    )
    assert code == 4
    assert str(empty) in stderr
    assert not out.exists()


def test_unknown_suffixes_and_existing_output(capsys, project, cache_dir, tmp_path):
    odd = tmp_path / "edit.timeline"
    odd.write_text("not a timeline")
    code, _, stderr = annotate(capsys, project, tmp_path / "out.otio", cache_dir, timeline=odd)
    assert code == 3
    assert "edit.timeline" in stderr
    assert ".otio" in stderr
    code, _, stderr = annotate(capsys, project, tmp_path / "out.docx", cache_dir)
    assert code == 6
    assert "out.docx" in stderr
    assert ".rpp" in stderr
    existing = tmp_path / "existing.otio"
    existing.write_text("keep me")
    code, _, stderr = annotate(capsys, project, existing, cache_dir)
    assert code == 6
    assert "--force" in stderr
    assert existing.read_text() == "keep me"
    code, _, stderr = annotate(capsys, project, project.timeline_otio, cache_dir, "--force")
    assert code == 2
    assert "never modified" in stderr


def test_unknown_model_and_tag_list_the_valid_options(capsys, project, tmp_path):
    base = ["annotate", project.timeline_otio, "-o", tmp_path / "o.otio", "--library", project.library]
    code, _, stderr = run(capsys, *base, "--model", "RN49")
    assert code == 5
    assert "RN50" in stderr
    code, _, stderr = run(capsys, *base, "--pretrained", "laion9")
    assert code == 5
    assert "openai" in stderr
    assert "none" in stderr
