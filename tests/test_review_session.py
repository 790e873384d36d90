"""The review session: one scene re-placed from the cached analysis, picks, search, and the written outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundify_otio.config import Config
from soundify_otio.library.sounds import open_library
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.timeline.reading import read_timeline
from soundify_otio.timeline.shots import find_shots
from soundify_otio.types import Choice

from helpers.known_answer import colour_model


@pytest.fixture(scope="module")
def analysed(project, cache_dir: Path):
    """The sample project analysed once with the known-answer model."""
    timeline = read_timeline(project.timeline_otio)
    shots, skipped = find_shots(timeline, project.timeline_otio.resolve().parent, [])
    soundify = Soundify(
        colour_model(), open_library(project.library), Config.from_overrides(pretrained="none"), cache=cache_dir
    )
    return timeline, soundify, soundify.analyse(shots, skipped)


@pytest.mark.slow
def test_place_scene_matches_a_whole_run(analysed) -> None:
    _, soundify, analysis = analysed
    labels = soundify.labels("effect")[0]
    choices = {
        s.scene.id: Choice(tuple(labels[i % len(labels)] for i in range(n % 3)), None)
        for n, s in enumerate(analysis.scenes)
    }
    whole = soundify.place(analysis, choices)
    for analysed_scene, result in zip(analysis.scenes, whole.scenes, strict=False):
        alone, placements = soundify.place_scene(analysed_scene, choices[analysed_scene.scene.id])
        assert alone == result
        assert placements == [p for p in whole.placements if p.scene_id == analysed_scene.scene.id]


def test_scene_section_keeps_hostile_labels_as_text(tmp_path: Path) -> None:
    """The review page's section: a label with markup stays text in the HTML and in the mix JSON."""
    import json

    import lxml.html

    from soundify_otio.report.html import PageContext, scene_section
    from soundify_otio.types import Placement, Scene, SceneResult, SoundEntry, Suggestion

    label = '</script><script>window.pwned=1</script> "x" & y'
    sound = SoundEntry(tmp_path / "a b.wav", label, "effect", label, 48000, 2, 2.0)
    scene = Scene(0, "s<0>", 0, 0.0, 2.0, tmp_path / "v.mp4", 0.0)
    result = SceneResult(scene, (Suggestion(label, "effect", 0.5),), (), (label,), None)
    placement = Placement(
        label, "effect", sound, 0, scene.id, 0.5, 1.5, 0.5, result.effects, ((0.0, -0.5), (1.0, 0.5)), ((0.0, -6.0),)
    )
    page = PageContext(colours={}, sound_href=lambda p: "sound/0", media_href=lambda p: "media/0")
    html = scene_section(result, [placement], page)
    doc = lxml.html.fragment_fromstring(html)
    assert [s.get("class") for s in doc.iter("script")] == ["scene-mix"]
    (mix,) = json.loads(doc.find(".//script").text)
    assert mix["label"] == label
    assert mix["src"] == "sound/0"
    assert mix["pan"] == [[0.0, -0.5], [1.0, 0.5]]
    assert doc.get("data-scene-id") == "s<0>"
    assert f"{label} placed" in [td.text_content().strip() for td in doc.iter("td")]
