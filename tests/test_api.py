"""The public Python API: the README's example runs as printed; a session places new picks from one analysis."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

import soundify_otio as so
from soundify_otio.timeline.media import locate_media

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    """The first python block of the README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_import_does_not_load_torch() -> None:
    code = "import sys, soundify_otio as so; so.Config(); so.Choice((), None); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="annotate_timelines"):
        so.annotate_timelines  # noqa: B018


@pytest.mark.slow
def test_readme_example_runs(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "sample_projects").symlink_to(project.root)
    monkeypatch.chdir(tmp_path)
    before = project.timeline_otio.read_bytes()
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    written = otio.adapters.read_from_file(str(tmp_path / "out" / "street.api.otio"))
    scenes = written.metadata["soundify"]["scenes"]
    assert len(printed) == len(scenes) + 1
    assert len(scenes) >= 2
    assert all(line.split()[0] == scene["id"] for line, scene in zip(printed, scenes, strict=False))
    sfx = [t for t in written.tracks if t.name.startswith("SFX")]
    clips = [c for t in sfx for c in t.find_clips()]
    assert clips
    assert all(c.metadata["soundify"]["keyframes"]["pan"] for c in clips)
    # media paths still resolve from the output's folder (written elsewhere: made absolute), input untouched
    video = next(c for c in written.find_clips() if "soundify" not in c.metadata)
    url = video.media_reference.target_url
    assert url.startswith("file:///")
    assert locate_media(url, tmp_path / "out").resolve() == project.video.resolve()
    assert project.timeline_otio.read_bytes() == before
    assert "decode" in printed[-1]
    assert "gradcam" in printed[-1]


@pytest.fixture(scope="module")
def session(project) -> so.Session:
    return so.Session.open(project.library, so.Config.from_overrides(pretrained="none"), device="cpu")


@pytest.mark.slow
def test_session_places_new_picks_without_decoding(session: so.Session, project, cache_dir: Path) -> None:
    session.cache_dir = cache_dir
    reports: list[tuple[str, int, int | None]] = []
    analysed = session.analyse(project.timeline_otio, progress=lambda *report: reports.append(report))
    assert reports[-1][0] == "analyse"
    assert reports[-1][1] == reports[-1][2]
    scene_id = analysed.analysis.scenes[0].scene.id
    effect, ambient = analysed.labels("effect")[-1], analysed.labels("ambient")[0]
    timings_before = dict(analysed.analysis.stopwatch.seconds)
    timeline, annotation = analysed.annotate({scene_id: so.Choice((effect,), ambient)})
    assert annotation.scenes[0].picked_effects == (effect,)
    assert annotation.scenes[0].picked_ambient == ambient
    assert all(p.label in (effect, ambient) for p in annotation.placements if p.scene_id == scene_id)
    assert analysed.analysis.stopwatch.seconds["decode"] == timings_before.get("decode", 0.0)
    assert "soundify" not in analysed.timeline.metadata  # the analysed input is not modified
    assert timeline.metadata["soundify"]["scenes"][0]["id"] == scene_id


@pytest.mark.slow
def test_unknown_picks_are_choices_errors(session: so.Session, project, cache_dir: Path) -> None:
    session.cache_dir = cache_dir
    analysed = session.analyse(project.timeline_otio)
    scene_id = analysed.analysis.scenes[0].scene.id
    with pytest.raises(so.ChoicesError, match="not a label of the library: no such sound"):
        analysed.place({scene_id: so.Choice(("no such sound",), None)})
    with pytest.raises(so.ChoicesError, match="not in this timeline"):
        analysed.place({"nope@0-1": so.Choice((), None)})
    assert so.ChoicesError("x").exit_code == 7
