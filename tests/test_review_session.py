"""The review session: one scene re-placed from the cached analysis, picks, search, and the written outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundify_otio.config import Config
from soundify_otio.library.sounds import open_library
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.timeline.reading import find_shots, read_timeline
from soundify_otio.types import Choice

from helpers.known_answer import colour_model


@pytest.fixture(scope="module")
def analysed(project, cache_dir: Path):
    """The sample project analysed once with the known-answer model."""
    timeline = read_timeline(project.timeline_otio)
    shots, skipped = find_shots(timeline, project.timeline_otio.resolve().parent, [])
    soundify = Soundify(
        colour_model(), open_library(project.library), Config.from_overrides(pretrained="none"), cache_dir=cache_dir
    )
    return timeline, soundify, soundify.analyse(shots, skipped)


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
