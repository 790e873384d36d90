"""The review loop end to end through the CLI on the sample project (issues 4 and 5): the HTML report,
the preview render (WAV + mp4), scene markers (.otio and FCP7 .xml), --json / --quiet, the progress
hook, the `library` commands, and the documented exit codes not reached elsewhere.

One random-weight annotate run (module scope, shared frame cache) feeds most tests; nothing below is a
hard-coded result: every expectation is computed from the OUT timeline or the input files."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import math
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import av
import lxml.etree
import lxml.html
import numpy as np
import opentimelineio as otio
import pytest
import soundfile

from soundify_otio.cli import main
from soundify_otio.config import Config
from soundify_otio.library.sounds import open_library
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.timeline.shots import find_shots

from helpers.cli import analysis_args, run
from helpers.known_answer import colour_model

pytestmark = pytest.mark.slow  # nearly every test here reads one end-to-end run of the sample project

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
SILENT_DBFS = -60.0
LINE_WITH_SCORE = re.compile(r"^\s*(-?\d+\.\d{3})\s+(effect|ambient)\s+(.+?)\s{2,}(\S.*)$")


# ---- running the CLI --------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    """A captured stream that says it is a terminal, so tqdm draws its bars (it hides them otherwise)
    and the --quiet check means something."""

    def isatty(self) -> bool:
        return True


def run_cli(*args: object) -> tuple[int, str, str]:
    """The CLI in-process without pytest's fixtures (usable in module-scoped fixtures); stderr a 'terminal'."""
    out, err = io.StringIO(), _Terminal()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    return exited.value.code, out.getvalue(), err.getvalue()


def read(path: Path) -> otio.schema.Timeline:
    return otio.adapters.read_from_file(str(path))


def plain(value):
    """OTIO metadata (AnyDictionary / AnyVector) as plain dicts and lists, so == compares contents."""
    if hasattr(value, "keys"):
        return {k: plain(value[k]) for k in value}
    if isinstance(value, (str, bytes)):
        return value
    if hasattr(value, "__iter__"):
        return [plain(v) for v in value]
    return value


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audio_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    )


# ---- module fixtures: one sample project, one annotate per output format, one render ------------------


@pytest.fixture(scope="module")
def annotated(project, cache_dir, tmp_path_factory):
    """annotate -> .otio with --report and --json, *without* --quiet (stderr a terminal)."""
    folder = tmp_path_factory.mktemp("annotated")
    out, report = folder / "street.soundify.otio", folder / "street.report.html"
    code, stdout, stderr = run_cli(
        "annotate", project.timeline_otio, "-o", out, *analysis_args(project, cache_dir), "--report", report, "--json"
    )
    assert code == 0, stderr
    timeline = read(out)
    return SimpleNamespace(
        out=out,
        report=report,
        stdout=stdout,
        stderr=stderr,
        timeline=timeline,
        scenes=plain(timeline.metadata["soundify"]["scenes"]),
    )


@pytest.fixture(scope="module")
def annotated_xml(project, cache_dir, annotated, tmp_path_factory):
    """annotate -> FCP7 .xml with --quiet and --json (stderr a terminal); after `annotated`, so the cache is warm."""
    out = tmp_path_factory.mktemp("annotated_xml") / "street.soundify.xml"
    code, stdout, stderr = run_cli(
        "--quiet", "annotate", project.timeline_otio, "-o", out, *analysis_args(project, cache_dir), "--json"
    )
    assert code == 0, stderr
    return SimpleNamespace(out=out, stdout=stdout, stderr=stderr)


@pytest.fixture(scope="module")
def rendered(annotated):
    folder = annotated.out.parent
    wav, mp4 = folder / "preview.wav", folder / "preview.mp4"
    code, _, stderr = run_cli("--quiet", "render", annotated.out, "-o", wav, "--with-video", mp4)
    assert code == 0, stderr
    return SimpleNamespace(wav=wav, mp4=mp4, stderr=stderr)


# ---- helpers over the OUT timeline ----------------------------------------------------------------------


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    return timeline.duration().rate


def soundify_clips(timeline: otio.schema.Timeline) -> list[tuple[str, otio.schema.Clip, float, float]]:
    """(role, clip, start s, end s) of every clip on the generated SFX / AMB tracks, in timeline seconds."""
    found = []
    for track in timeline.tracks:
        meta = track.metadata.get("soundify")
        if not (hasattr(meta, "get") and meta.get("generated")):
            continue
        assert track.kind == otio.schema.TrackKind.Audio
        for clip in track.find_clips():
            span = clip.range_in_parent()
            start = span.start_time.to_seconds()
            found.append((meta["role"], clip, start, start + span.duration.to_seconds()))
    return found


def uncovered(spans: list[tuple[float, float]], total: float) -> list[tuple[float, float]]:
    """Stretches of [0, total] that no span covers."""
    gaps, cursor = [], 0.0
    for start, end in sorted(spans):
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < total:
        gaps.append((cursor, total))
    return gaps


def by_class(root, tag: str, cls: str) -> list:
    """Elements `tag` whose class list holds `cls` (CSS `tag.cls`, without the cssselect package)."""
    return root.xpath(f"//{tag}[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]")


def rms_dbfs(samples: np.ndarray) -> float:
    return 20 * math.log10(math.sqrt(float(np.mean(np.square(samples)))) + 1e-12)


def parse_ranked(text: str) -> list[tuple[str, float]]:
    """'bicycle bell 0.13, dog bark 0.11' -> [(label, score), ...]."""
    pairs = []
    for item in text.split(", "):
        label, score = item.rsplit(" ", 1)
        pairs.append((label, float(score)))
    return pairs


def parse_marker_comment(comment: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    match = re.fullmatch(r"effects: (.*) / ambients: (.*)", comment.strip())
    assert match, comment
    return parse_ranked(match.group(1)), parse_ranked(match.group(2))


def check_marker_text(name: str, comment: str, scene: dict) -> None:
    """The marker names the scene's picks; its comment lists the five ranked effects and ambients with scores."""
    picks = scene["picks"]
    for effect in picks["effects"]:
        assert effect in name, (name, picks)
    assert picks["ambient"], (name, picks)
    assert picks["ambient"] in name, (name, picks)
    effects, ambients = parse_marker_comment(comment)
    assert len(effects) == len(ambients) == 5
    assert [label for label, _ in effects] == [label for label, _ in scene["effects"]]
    assert [label for label, _ in ambients] == [label for label, _ in scene["ambients"]]
    for (_, shown), (_, exact) in zip(effects + ambients, scene["effects"] + scene["ambients"]):
        assert shown == pytest.approx(exact, abs=0.0051)


# ---- 1. the HTML report ----------------------------------------------------------------------------------


def test_report_is_one_self_contained_file_with_a_section_per_scene(annotated):
    assert f"wrote {annotated.report}" in annotated.stderr
    page = lxml.html.fromstring(annotated.report.read_bytes())
    sections = by_class(page, "section", "scene")
    assert [s.get("data-scene-id") for s in sections] == [s["id"] for s in annotated.scenes]
    for section in sections:
        images = section.xpath(".//img")
        assert images, f"no thumbnail in {section.get('data-scene-id')}: {section.text_content()[:200]}"
        assert all(img.get("src", "").startswith("data:image/") for img in images)
    # self-contained: every resource the page loads is inline
    for element in page.iter("img", "audio", "video", "source", "script", "iframe", "embed"):
        src = element.get("src")
        assert src is None or src.startswith("data:"), (element.tag, src[:80])
    for link in page.iter("link"):
        assert not link.get("href") or link.get("href").startswith("data:"), link.get("href")
    (audio,) = page.iter("audio")
    prefix = "data:audio/wav;base64,"
    assert audio.get("src", "").startswith(prefix)
    wav = io.BytesIO(base64.b64decode(audio.get("src")[len(prefix) :]))
    info = soundfile.info(wav)
    assert (info.samplerate, info.channels) == (48000, 2)
    assert info.duration == pytest.approx(
        annotated.timeline.duration().to_seconds(), abs=1 / timeline_rate(annotated.timeline)
    )
    banners = page.xpath("//*[@id='pipeline-check']")
    assert len(banners) == 1
    assert "random" in banners[0].text_content().lower()


def test_existing_report_is_refused_without_force_and_left_alone(capsys, project, cache_dir, tmp_path):
    report, out = tmp_path / "report.html", tmp_path / "out.otio"
    report.write_text("keep me")
    code, _, stderr = run(
        capsys, "annotate", project.timeline_otio, "-o", out, *analysis_args(project, cache_dir), "--report", report
    )
    assert code == 6
    assert str(report) in stderr
    assert "--force" in stderr
    assert report.read_text() == "keep me"
    assert not out.exists()


# ---- 2. render -------------------------------------------------------------------------------------------


def test_render_writes_48k_stereo_at_the_timeline_length(annotated, rendered):
    info = soundfile.info(str(rendered.wav))
    assert (info.samplerate, info.channels) == (48000, 2)
    assert info.duration == pytest.approx(
        annotated.timeline.duration().to_seconds(), abs=1 / timeline_rate(annotated.timeline)
    )


def test_render_is_heard_where_soundify_clips_play_and_silent_elsewhere(annotated, rendered):
    data, sr = soundfile.read(str(rendered.wav), always_2d=True)
    clips = soundify_clips(annotated.timeline)
    assert {role for role, *_ in clips} == {"effects", "ambient"}
    for role, clip, start, end in clips:
        meta = clip.metadata["soundify"]
        inner_start, inner_end = start + meta["fade_in"], end - meta["fade_out"]
        assert inner_end > inner_start, (clip.name, start, end)
        level = rms_dbfs(data[round(inner_start * sr) : round(inner_end * sr)])
        assert level > SILENT_DBFS, f"{role} clip {clip.name!r} at {start:.2f}-{end:.2f} s renders at {level:.1f} dBFS"
    total = annotated.timeline.duration().to_seconds()
    margin = 0.01
    quiet = [(a, b) for a, b in uncovered([(s, e) for _, _, s, e in clips], total) if b - a > 4 * margin]
    if quiet:
        for a, b in quiet:
            level = rms_dbfs(data[round((a + margin) * sr) : round((b - margin) * sr)])
            assert level < SILENT_DBFS, (
                f"no soundify clip plays at {a:.2f}-{b:.2f} s, yet it renders at {level:.1f} dBFS"
            )
    else:  # soundify sound everywhere: then where only an ambient bed plays, the level follows the beds
        effect_spans = [(s, e) for role, _, s, e in clips if role == "effects"]
        for role, _clip, start, end in clips:
            if role != "ambient":
                continue
            for a, b in uncovered(
                [(max(s, start) - start, min(e, end) - start) for s, e in effect_spans if s < end and e > start],
                end - start,
            ):
                if b - a > 0.1:
                    assert rms_dbfs(data[round((start + a) * sr) : round((start + b) * sr)]) > SILENT_DBFS


def test_render_with_video_writes_an_mp4_of_the_timeline_length(annotated, rendered):
    duration = annotated.timeline.duration().to_seconds()
    frame = 1 / timeline_rate(annotated.timeline)
    with av.open(str(rendered.mp4)) as container:
        assert len(container.streams.video) == 1
        assert len(container.streams.audio) == 1
        assert container.duration / av.time_base == pytest.approx(duration, abs=frame)
        for stream in (container.streams.video[0], container.streams.audio[0]):
            assert stream.duration is not None
            assert float(stream.duration * stream.time_base) == pytest.approx(duration, abs=frame), stream.type
        assert container.streams.audio[0].rate == 48000


def test_render_refuses_an_existing_wav_without_force(capsys, annotated, tmp_path):
    wav, mp4 = tmp_path / "preview.wav", tmp_path / "preview.mp4"
    soundfile.write(str(wav), np.zeros((480, 2)), 48000)
    before = digest(wav)
    code, _, stderr = run(capsys, "render", annotated.out, "-o", wav, "--with-video", mp4)
    assert code == 6
    assert str(wav) in stderr
    assert "--force" in stderr
    assert digest(wav) == before
    assert not mp4.exists()


# ---- 3. scene markers -------------------------------------------------------------------------------------


def test_otio_output_has_one_marker_per_scene_naming_the_picks(annotated, project):
    scenes = annotated.scenes
    rate = timeline_rate(annotated.timeline)
    markers = [m for m in annotated.timeline.tracks.markers if "soundify" in m.metadata]
    assert [m.metadata["soundify"]["scene_id"] for m in markers] == [s["id"] for s in scenes]
    original = {m.name for m in read(project.timeline_otio).tracks.markers}
    assert len(annotated.timeline.tracks.markers) == len(markers) + len(original)
    for marker, scene in zip(markers, scenes):
        check_marker_text(marker.name, marker.comment, scene)
        assert marker.marked_range.start_time.to_seconds() == pytest.approx(scene["start"], abs=1 / rate)
        assert marker.marked_range.end_time_exclusive().to_seconds() == pytest.approx(scene["end"], abs=1 / rate)


def test_fcp7_xml_output_has_the_scene_markers_on_the_sequence(annotated, annotated_xml):
    """The .xml run analyses the same timeline with the same seed, so its scenes equal the .otio run's."""
    root = lxml.etree.parse(str(annotated_xml.out)).getroot()
    (sequence,) = root.iter("sequence")
    markers = sequence.findall("marker")  # sequence-level only, not clip markers
    scenes = annotated.scenes
    assert len(markers) == len(scenes)
    rate = timeline_rate(annotated.timeline)
    for marker, scene in zip(markers, scenes):
        name = marker.findtext("name")
        assert name is not None
        comment = marker.findtext("comment")
        assert comment, f"the FCP7 exporter drops the marker comment of scene {scene['id']}"
        check_marker_text(name, comment, scene)
        assert int(marker.findtext("in")) == pytest.approx(scene["start"] * rate, abs=1)
        assert int(marker.findtext("out")) == pytest.approx(scene["end"] * rate, abs=1)


# ---- 4. --json and --quiet -------------------------------------------------------------------------------


def test_json_summary_is_the_whole_of_stdout_and_matches_the_output(annotated):
    summary = json.loads(annotated.stdout)  # fails if anything else shares stdout
    for key in ("scenes", "placements", "skipped_shots", "timings"):
        assert key in summary
    assert [s["id"] for s in summary["scenes"]] == [s["id"] for s in annotated.scenes]
    assert summary["scene_count"] == len(annotated.scenes)
    assert [s["picks"] for s in summary["scenes"]] == [s["picks"] for s in annotated.scenes]
    assert summary["skipped_shots"] == plain(annotated.timeline.metadata["soundify"]["skipped_shots"])
    clips = soundify_clips(annotated.timeline)
    for kind, role in (("effect", "effects"), ("ambient", "ambient")):
        placed = [p for p in summary["placements"] if p["kind"] == kind]
        on_tracks = [clip for r, clip, _, _ in clips if r == role]
        assert placed
        assert len(placed) <= len(on_tracks)  # a placement longer than its sound repeats
        assert {p["label"] for p in placed} == {clip.name for clip in on_tracks}
        assert {p["scene"] for p in placed} <= {s["id"] for s in annotated.scenes}
        for p in placed:
            assert Path(p["sound"]).is_file()
            assert p["start"] < p["end"]
    assert summary["effect_clips"] == len([p for p in summary["placements"] if p["kind"] == "effect"])
    timings = summary["timings"]
    assert "total" in timings
    assert "write" in timings
    assert all(v >= 0 for v in timings.values())
    assert sum(v for k, v in timings.items() if k != "total") <= timings["total"] + 0.01


def test_json_also_works_with_quiet(annotated, annotated_xml):
    summary = json.loads(annotated_xml.stdout)
    assert [s["id"] for s in summary["scenes"]] == [s["id"] for s in annotated.scenes]
    assert summary["output"] == str(annotated_xml.out)


def test_quiet_hides_progress_bars_and_the_wrote_line(annotated, annotated_xml):
    # without --quiet (stderr a terminal): bars were drawn and the "wrote" line is there
    assert f"wrote {annotated.out}:" in annotated.stderr
    assert "\r" in annotated.stderr
    assert "analyse" in annotated.stderr
    # with --quiet: errors only, so no warning or note either (the random weights are in the output)
    assert not any(line.startswith(("WARNING", "warning:", "note:")) for line in annotated_xml.stderr.splitlines())
    assert "wrote" not in annotated_xml.stderr
    assert "\r" not in annotated_xml.stderr
    for stage in ("analyse", "mix", "render", "read", "%|"):
        assert stage not in annotated_xml.stderr, stage


# ---- 5. the progress hook ----------------------------------------------------------------------------------


def test_progress_hook_reports_analyse_up_to_its_total_and_mix_per_scene(project):
    timeline = read(project.timeline_otio)
    shots, skipped = find_shots(timeline, project.timeline_otio.resolve().parent, [])
    assert shots
    calls: list[tuple[str, int, int | None]] = []
    soundify = Soundify(
        colour_model(),
        open_library(project.library),
        Config.from_overrides(pretrained="none"),
        lambda stage, done, total: calls.append((stage, done, total)),
        None,
    )
    annotation = soundify.place(soundify.analyse(shots, skipped))
    analyse = [(done, total) for stage, done, total in calls if stage == "analyse"]
    assert len(analyse) > len(shots)  # reports inside a shot, not only at its end
    (total,) = {t for _, t in analyse}
    assert total == math.ceil(sum(s.duration for s in shots) - 1e-9)
    mix = [(done, total) for stage, done, total in calls if stage == "mix"]
    assert len(annotation.scenes) >= len(shots)
    assert mix == [(k, len(annotation.scenes)) for k in range(1, len(annotation.scenes) + 1)]
    dones = [d for d, _ in analyse]
    assert all(0 <= d <= total for d in dones), (dones, total)
    assert all(b >= a for a, b in itertools.pairwise(dones)), dones
    assert dones[-1] == total, f"the analyse bar stops at {dones[-1]} of {total}: {dones}"


# ---- 6. library index / search / stats ----------------------------------------------------------------------


def _library_copy(project, folder: Path) -> Path:
    """The sample library without any index an earlier run left in it."""
    return Path(shutil.copytree(project.library, folder / "library", ignore=shutil.ignore_patterns(".soundify-index*")))


def _index_counts(stdout: str) -> dict[str, int]:
    match = re.search(
        r"^(\d+) sounds \((\d+) effects, (\d+) ambient\), (\d+) skipped; read (\d+), reused (\d+);", stdout, re.M
    )
    assert match, stdout
    return dict(zip(("files", "effects", "ambient", "skipped", "read", "reused"), map(int, match.groups())))


def test_library_index_reads_only_new_or_changed_files(capsys, project, tmp_path):
    library = _library_copy(project, tmp_path)
    files = audio_files(library)
    code, stdout, stderr = run(capsys, "library", "index", library, "--pretrained", "none")
    assert code == 0, stderr
    first = _index_counts(stdout)
    assert first["files"] == first["read"] == len(files)
    assert first["reused"] == 0
    assert first["effects"] + first["ambient"] == len(files)

    code, stdout, stderr = run(capsys, "library", "index", library, "--pretrained", "none")
    assert code == 0, stderr
    again = _index_counts(stdout)
    assert (again["read"], again["reused"], again["files"]) == (0, len(files), len(files))

    changed = next(p for p in files if p.suffix.lower() == ".wav")
    data, rate = soundfile.read(str(changed), always_2d=True)
    info = soundfile.info(str(changed))
    soundfile.write(str(changed), data[: len(data) // 2], rate, subtype=info.subtype)
    code, stdout, stderr = run(capsys, "library", "index", library, "--pretrained", "none")
    assert code == 0, stderr
    third = _index_counts(stdout)
    assert (third["read"], third["reused"], third["files"]) == (1, len(files) - 1, len(files))

    # the index now holds the new length: stats' total duration is the files' as they are on disk
    code, stdout, stderr = run(capsys, "library", "stats", library)
    assert code == 0, stderr
    stats = json.loads(stdout)
    assert soundfile.info(str(changed)).duration == pytest.approx(info.duration / 2, abs=0.01)
    assert stats["duration_s"] == pytest.approx(sum(soundfile.info(str(p)).duration for p in files), abs=0.01)
    assert stats["indexed"]["read"] == 0


def test_library_stats_counts_kinds(capsys, project, tmp_path):
    library = _library_copy(project, tmp_path)
    files = audio_files(library)
    code, stdout, stderr = run(capsys, "library", "stats", library)
    assert code == 0, stderr
    stats = json.loads(stdout)
    assert stats["files"] == len(files)
    kinds = stats["kinds"]
    assert kinds.get("effect", 0) > 0
    assert kinds.get("ambient", 0) > 0
    assert kinds["effect"] + kinds["ambient"] == len(files)
    # the sample puts its ambiences in ambience/: that folder decides the kind
    assert kinds["ambient"] == len([p for p in files if "ambience" in p.relative_to(library).parts])
    assert stats["skipped"] == 0


def test_library_search_prints_the_limit_of_ranked_lines(capsys, project):
    code, stdout, stderr = run(
        capsys, "library", "search", project.library, "bicycle bell", "--pretrained", "none", "--limit", "3"
    )
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 3, stdout
    parsed = [LINE_WITH_SCORE.match(line) for line in lines]
    assert all(parsed), lines
    scores = [float(m.group(1)) for m in parsed]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    for m in parsed:
        assert Path(m.group(4)).is_file()
        assert Path(m.group(4)).suffix.lower() in AUDIO_SUFFIXES


@pytest.mark.parametrize("command", [["index"], ["search", "bicycle bell"], ["stats"]])
def test_library_commands_on_an_empty_folder_exit_4_naming_it(capsys, tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    extra = ["--pretrained", "none"] if command[0] != "stats" else []
    code, stdout, stderr = run(capsys, "library", command[0], empty, *command[1:], *extra)
    assert code == 4, stderr
    assert str(empty) in stderr, stderr
    assert stdout == ""


# ---- 7. exit codes not reached elsewhere -----------------------------------------------------------------------


def test_missing_library_option_is_a_usage_error(capsys, project, tmp_path):
    out = tmp_path / "out.otio"
    code, stdout, stderr = run(capsys, "annotate", project.timeline_otio, "-o", out, "--pretrained", "none")
    assert code == 2
    assert "--library" in stderr
    assert not out.exists()
    assert stdout == ""


def test_unexpected_failure_exits_1_and_writes_nothing(annotated, tmp_path):
    """An internal error (a fault injected into the renderer) ends the process with 1, not 0."""
    wav = tmp_path / "preview.wav"
    script = (
        "import sys\n"
        "import soundify_otio.preview.render as render\n"
        "def boom(*args, **kwargs):\n"
        "    raise RuntimeError('injected fault')\n"
        "render.render_preview = boom\n"
        "from soundify_otio.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--quiet", "render", str(annotated.out), "-o", str(wav)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "injected fault" in done.stderr
    assert not wav.exists()
    assert list(tmp_path.iterdir()) == []
