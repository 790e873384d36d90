"""Timelines for batch tests, cut from the sample project's edit: media referenced by absolute path,
so a timeline can sit in any folder."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio


def sample_edit(project, keep: list[int], missing: int | None = None) -> otio.schema.Timeline:
    """The sample edit's clips `keep` (by index, in that order, cut to cut); clip `missing` made offline."""
    timeline = otio.adapters.read_from_file(str(project.timeline_otio))
    track = timeline.video_tracks()[0]
    originals = list(track.find_clips())
    clips = [originals[i].deepcopy() for i in keep]
    for clip in clips:
        clip.media_reference.target_url = project.video.resolve().as_uri()
    if missing is not None:
        clips[missing].media_reference.target_url = (project.root / "media" / "missing.mp4").as_uri()
    track[:] = clips
    return timeline


def write_jobs(project, folder: Path) -> dict[str, Path]:
    """a: the edit's five clips (cuts, no transitions); b: three of them, reordered; c: three, the
    second offline."""
    folder.mkdir(parents=True, exist_ok=True)
    edits = {
        "a": sample_edit(project, [0, 1, 2, 3, 4]),
        "b": sample_edit(project, [3, 0, 2]),
        "c": sample_edit(project, [0, 1, 2], missing=1),
    }
    paths = {}
    for name, timeline in edits.items():
        paths[name] = folder / f"{name}.otio"
        otio.adapters.write_to_file(timeline, str(paths[name]))
    return paths


def result_of(path: Path) -> dict:
    """An annotated .otio as data, less what records how long this machine took (the image tower's
    one-off conversion), so two runs of the same work compare equal."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tower = data.get("metadata", {}).get("soundify", {}).get("image_tower", {})
    for key in ("conversion_s", "conversion_cached"):
        tower.pop(key, None)
    return data
