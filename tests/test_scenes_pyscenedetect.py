"""Our scene splitting finds the cuts PySceneDetect's HistogramDetector finds in the street footage."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundify_otio.config import Config
from soundify_otio.errors import MediaError
from soundify_otio.sample.project import footage_path
from soundify_otio.stages.scenes import HistogramDetector
from soundify_otio.vision.decode import FileReader, probe_video


def _footage() -> Path:
    try:
        return footage_path()
    except MediaError as exc:
        pytest.skip(f"no street footage: {exc}")


def _our_cuts(path: Path, config: Config) -> list[int]:
    """Cuts as the pipeline finds them: the streaming detector, then the configured minimum scene length."""
    info = probe_video(path)
    min_frames = max(1, round(config.min_scene_seconds * info.fps))
    detector = HistogramDetector(config.scene_threshold, config.scene_bins, min_frames)
    with FileReader(path, config.analysis_size, config.scene_bins) as reader:
        for start in range(0, len(reader), config.batch_size):
            detector.push(reader.read(range(start, min(start + config.batch_size, len(reader)))).histograms)
    return detector.cuts()


def test_cuts_match_pyscenedetect_histogram_detector() -> None:
    scenedetect = pytest.importorskip(
        "scenedetect", reason="PySceneDetect is not installed (pip install -e '.[bench]')"
    )
    path = _footage()
    config = Config()
    scenes = scenedetect.detect(str(path), scenedetect.HistogramDetector())
    theirs = [start.frame_num for start, _ in scenes[1:]]
    ours = _our_cuts(path, config)
    assert theirs, "PySceneDetect found no cut in the street footage"
    assert len(ours) == len(theirs), f"ours {ours} vs PySceneDetect {theirs}"
    assert all(abs(a - b) <= 1 for a, b in zip(ours, theirs)), f"ours {ours} vs PySceneDetect {theirs}"
