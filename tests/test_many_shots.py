"""The per-shot tax: what a timeline of many shots does once for all of them gives what doing it shot
by shot gave."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soundify_otio.config import Config
from soundify_otio.pipeline.frame_cache import RunActivations
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.timeline.metadata import (
    NAMESPACE,
    ClipInfo,
    HitInfo,
    SoundInfo,
    clip_info,
    set_clip_info,
    set_clip_sound,
)
from soundify_otio.timeline.shots import Coverage
from soundify_otio.types import Shot

from helpers.known_answer import ColourLabels, colour_model


def naive_gaps(
    start: Fraction, end: Fraction, covered: list[tuple[Fraction, Fraction]]
) -> list[tuple[Fraction, Fraction]]:
    """[start, end) minus every covered range, one range at a time (what find_shots did per clip)."""
    parts = [(start, end)]
    for c_start, c_end in covered:
        next_parts = []
        for p_start, p_end in parts:
            if c_end <= p_start or c_start >= p_end:
                next_parts.append((p_start, p_end))
                continue
            if c_start > p_start:
                next_parts.append((p_start, c_start))
            if c_end < p_end:
                next_parts.append((c_end, p_end))
        parts = next_parts
    return parts


ranges = st.tuples(st.integers(0, 60), st.integers(1, 20), st.sampled_from([1, 24, 25, 30])).map(
    lambda t: (Fraction(t[0], t[2]), Fraction(t[0], t[2]) + Fraction(t[1], t[2]))
)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(st.lists(ranges, max_size=40))
def test_coverage_leaves_visible_what_subtracting_each_range_left(clips: list[tuple[Fraction, Fraction]]) -> None:
    coverage = Coverage()
    for i, (start, end) in enumerate(clips):
        assert coverage.gaps(start, end) == naive_gaps(start, end, clips[:i])
        coverage.add(start, end)
    assert all(a < b for a, b in zip(coverage.starts, coverage.ends))
    assert all(b < a for b, a in zip(coverage.ends, coverage.starts[1:]))  # disjoint, touching ranges merged


def _one_frame_shots(path: Path, count: int) -> list[Shot]:
    return [Shot(i, f"clip {i}", path, i / 25.0, i * 10.0, 1 / 25.0) for i in range(count)]


def test_a_scratch_cache_keeps_a_runs_activations_in_one_file_with_the_same_rows(square, tmp_path):
    shots = [*_one_frame_shots(square.path, 40), Shot(40, "long", square.path, 0.0, 500.0, 2.0)]
    config = Config(batch_size=16)
    kept = Soundify(colour_model(), ColourLabels(), config, cache=tmp_path / "cache").analyse(shots)
    scratch = Soundify(colour_model(), ColourLabels(), config)
    run = scratch.analyse(shots)
    assert [p.name for p in scratch.cache.root.iterdir()] == ["activations.bin"]
    assert len(list((tmp_path / "cache").iterdir())) == 2 * len(shots)  # a kept entry is still one per shot
    for mine, theirs in zip(run.scenes, kept.scenes, strict=True):
        assert mine.scene.id == theirs.scene.id
        np.testing.assert_array_equal(mine.frames.embeddings, theirs.frames.embeddings)
        np.testing.assert_array_equal(np.asarray(mine.frames.activations), np.asarray(theirs.frames.activations))
        np.testing.assert_array_equal(mine.frames.distances, theirs.frames.distances)
        np.testing.assert_array_equal(mine.frames.thumbnails, theirs.frames.thumbnails)


def test_a_run_segment_reads_back_its_own_rows_and_refuses_interleaving(tmp_path):
    rows = np.random.default_rng(3).random((7, 4, 2, 2)).astype(np.float16)
    run = RunActivations(tmp_path / "run.bin")
    first, second = run.segment(), run.segment()
    first.append(rows[:2])
    first.append(rows[2:3])
    mapped_first = first.mapped()
    second.append(rows[3:])
    np.testing.assert_array_equal(mapped_first, rows[:3])
    np.testing.assert_array_equal(second.mapped(), rows[3:])
    with pytest.raises(RuntimeError, match="interleaved"):
        first.append(rows[:1])


def test_pointing_a_clip_at_a_conformed_copy_changes_its_sound_alone():
    sound = SoundInfo("/library/rain.flac", 44100, 2, 3.5)
    info = ClipInfo(
        label="rain",
        kind="ambient",
        score=0.25,
        alternatives=[["rain", 0.25], ["wind", 0.125]],
        scene=3,
        scene_id="reel.mp4@1.000-2.000",
        model="RN50",
        weights="none",
        pipeline_check=True,
        sound=sound,
        pan=[[0.0, -0.5], [1.0, 0.5]],
        gain_db=[[0.0, -6.0], [1.0, -3.0]],
        fade_in=0.1,
        fade_out=0.2,
        hit=HitInfo(1.5, 0.01),
    )
    conformed = SoundInfo("/out/out_media/rain-0123.wav", 48000, 2, 3.5, original=sound.path)
    clip, expected = otio.schema.Clip(name="rain"), otio.schema.Clip(name="rain")
    set_clip_info(clip, info)
    set_clip_sound(clip, conformed)
    set_clip_info(expected, replace(info, sound=conformed))
    assert otio.adapters.write_to_string(clip) == otio.adapters.write_to_string(expected)
    assert clip_info(clip) == replace(info, sound=conformed)
    plain = otio.schema.Clip(name="user's own")
    set_clip_sound(plain, conformed)  # not a generated clip: left alone
    assert NAMESPACE not in plain.metadata
