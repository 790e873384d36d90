"""Each Soundify stage against a known truth: the colour model (tests/known_answer.py) on synthetic video."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from soundify_otio.config import Config
from soundify_otio.library.sounds import open_library
from soundify_otio.pipeline.soundify import Choice, Soundify, use_number
from soundify_otio.stages.classify import softmax
from soundify_otio.stages.scenes import split_shot
from soundify_otio.types import Shot

from helpers.known_answer import colour_model
from helpers.synthetic import hard_cuts, moving_square
from helpers.timelines import write_tone

FPS = 25


@pytest.fixture(scope="module")
def colour_library(tmp_path_factory: pytest.TempPathFactory):
    """Effects named for colours, ambiences that are not."""
    root = tmp_path_factory.mktemp("library")
    for name, seconds in (("red square", 1.5), ("green ball", 2.0), ("blue light", 2.0)):
        write_tone(root / f"{name}.wav", seconds, 44100, 1)
    (root / "ambience").mkdir()
    for name in ("quiet street", "red room"):
        write_tone(root / "ambience" / f"{name}.wav", 10.0, 48000, 2)
    return open_library(root)


def _shot(path: Path, frames: int) -> Shot:
    return Shot(
        index=0, clip_name=path.stem, media_path=path, media_start=0.0, timeline_start=0.0, duration=frames / FPS
    )


def _soundify(library, **overrides) -> Soundify:
    return Soundify(colour_model(), library, Config.from_overrides(pretrained="none", **overrides))


def test_red_square_moving_left_to_right_pans_left_to_right(tmp_path, colour_library):
    video = moving_square(tmp_path / "square.mp4", n_frames=100, fps=FPS, size=(320, 180))
    soundify = _soundify(colour_library, sample_fps=5.0)
    analysis = soundify.analyse([_shot(video.path, 100)])
    assert [s.label for s in analysis.scenes[0].effects][:1] == ["red square"]
    annotation = soundify.place(analysis)
    (effect,) = [p for p in annotation.placements if p.kind == "effect"]
    pans = [v for _, v in effect.pan]
    assert pans[0] < -0.5
    assert pans[-1] > 0.5
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(pans)), pans
    assert len(effect.pan) >= 4  # one key per ~1 s chunk over 4 s, plus the closing key


def test_object_visible_from_frame_50_to_100_gives_one_interval(tmp_path, colour_library):
    video = moving_square(tmp_path / "square.mp4", n_frames=150, fps=FPS, size=(320, 180), visible=range(50, 101))
    soundify = _soundify(colour_library, sample_fps=4.0)
    analysis = soundify.analyse([_shot(video.path, 150)])
    annotation = soundify.place(analysis, {analysis.scenes[0].scene.id: Choice(("red square",), None)})
    (intervals,) = annotation.scenes[0].intervals.values()
    step = 1 / 4.0
    assert len(intervals) == 1
    assert abs(intervals[0].start - 2.0) <= step
    assert abs(intervals[0].end - 4.0) <= step


def test_authors_one_label_softmax_cannot_filter_but_ours_does(tmp_path, colour_library):
    """With one selected label the authors' per-frame softmax is 1.0 on every frame."""
    video = moving_square(tmp_path / "square.mp4", n_frames=150, fps=FPS, size=(320, 180), visible=range(50, 101))
    soundify = _soundify(colour_library, sample_fps=4.0)
    analysis = soundify.analyse([_shot(video.path, 150)])
    scene = analysis.scenes[0]
    labels, texts = soundify.labels("effect")
    logits = soundify.model.logit_scale * scene.frames.embeddings[scene.samples] @ texts[[labels.index("red square")]].T
    authors = softmax(logits, axis=1)[:, 0]
    assert np.all(authors > 0.1)  # the authors' threshold keeps the whole 6 s scene
    annotation = soundify.place(analysis, {scene.scene.id: Choice(("red square",), None)})
    (intervals,) = annotation.scenes[0].intervals.values()
    assert sum(i.duration for i in intervals) < 3.0


def test_cuts_at_known_frames_are_found(tmp_path, colour_library):
    cuts = [30, 55, 80]
    path = tmp_path / "cuts.mp4"
    hard_cuts(path, cuts, n_frames=110, fps=FPS, size=(160, 96))
    soundify = _soundify(colour_library)
    analysis = soundify.analyse([_shot(path, 110)])
    starts = [round(s.scene.start * FPS) for s in analysis.scenes]
    assert starts == [0, *cuts]


def test_ambient_reranked_by_the_chosen_effect(tmp_path, colour_library):
    """'red room' shares the chosen effect's colour word, so it rises above 'quiet street'."""
    video = moving_square(tmp_path / "grey.mp4", n_frames=25, fps=FPS, size=(160, 96), visible=range(0))
    soundify = _soundify(colour_library)
    analysis = soundify.analyse([_shot(video.path, 25)])
    scene = analysis.scenes[0]
    plain = soundify.rerank_ambients(scene, ())
    assert plain[0].label == "quiet street"  # an empty grey frame looks like the colourless text
    assert soundify.rerank_ambients(scene, ("red square",))[0].label == "red room"
    assert soundify.rerank_ambients(scene, ("green ball",))[0].label == "quiet street"


def test_a_shot_used_twice_gets_two_scene_ids(tmp_path, colour_library):
    """Choices address scenes by id, so a repeated shot (a flashback) must stay addressable."""
    path = tmp_path / "cuts.mp4"
    hard_cuts(path, [], n_frames=25, fps=FPS, size=(160, 96))
    first = _shot(path, 25)
    again = Shot(index=1, clip_name="again", media_path=path, media_start=0.0, timeline_start=5.0, duration=1.0)
    analysis = _soundify(colour_library).analyse([first, again])
    ids = [s.scene.id for s in analysis.scenes]
    assert ids == ["cuts.mp4@0.000-1.000", "cuts.mp4@0.000-1.000#2"]


def test_reference_loudness_and_fade_settings_reach_the_placements(tmp_path, colour_library):
    """Each sound's gain keys move with the reference loudness, dB for dB; fades follow fade_seconds."""
    video = moving_square(tmp_path / "square.mp4", n_frames=100, fps=FPS, size=(320, 180))
    default = _soundify(colour_library, sample_fps=4.0)
    analysis = default.analyse([_shot(video.path, 100)])
    choice = {analysis.scenes[0].scene.id: Choice(("red square",), "quiet street")}
    louder = _soundify(colour_library, sample_fps=4.0, reference_lufs=-13.0, fade_seconds=0.1)
    before, after = default.place(analysis, choice).placements, louder.place(analysis, choice).placements
    assert [p.kind for p in before] == [p.kind for p in after] == ["effect", "ambient"]
    for old, new in zip(before, after, strict=True):
        assert [g + 10.0 for _, g in old.gain_db] == pytest.approx([g for _, g in new.gain_db])
        assert old.fade_in == pytest.approx(0.25)
        assert new.fade_in == new.fade_out == pytest.approx(0.1)


def test_every_use_of_a_sound_gets_its_own_number():
    """Scenes, labels, pick positions and interval positions never share a number for the file choice
    (the old scene*100 + occasion*10 + n gave (0, 0, 100) and (1, 0, 0) the same one)."""
    uses = [
        (f"clip.mp4@{s}.000-{s + 1}.000", label, occasion, n)
        for s in range(3)
        for label in ("door slam", "traffic")
        for occasion in range(10)
        for n in range(120)
    ]
    numbers = {use_number(*use) for use in uses}
    assert len(numbers) == len(uses)
    assert use_number("a.mp4@0.000-1.000", "bell", 0, 0) == use_number("a.mp4@0.000-1.000", "bell", 0, 0)


def test_a_shot_splits_at_the_distance_peaks_into_scenes_named_by_media_range() -> None:
    shot = Shot(
        index=3, clip_name="c", media_path=Path("street.mp4"), media_start=10.0, timeline_start=100.0, duration=4.0
    )
    distances = np.zeros(100)  # 25 fps, 4 s
    distances[40] = 0.9  # a cut at 1.6 s
    distances[42] = 0.7  # a lower peak too close to it to count (min 10 frames)
    sample_times = np.arange(0.0, 4.0, 0.5)
    taken = {"street.mp4@10.000-11.600"}
    scenes = split_shot(shot, distances, 25.0, sample_times, 0.5, 10, 7, taken)
    assert [s.id for s, _, _ in scenes] == ["street.mp4@10.000-11.600#2", "street.mp4@11.600-14.000"]
    assert [s.index for s, _, _ in scenes] == [7, 8]
    assert [(s.start, s.end) for s, _, _ in scenes] == [(100.0, 101.6), (101.6, 104.0)]
    assert [list(samples) for _, samples, _ in scenes] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [offset for _, _, offset in scenes] == [0.0, 1.6]
    assert "street.mp4@10.000-11.600#2" in taken
