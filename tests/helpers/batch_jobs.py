"""Timelines for batch tests, cut from the sample project's edit: media referenced by absolute path,
so a timeline can sit in any folder."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio


def _edit(project, keep: list[int], missing: int | None = None) -> otio.schema.Timeline:
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
    edits = {"a": _edit(project, [0, 1, 2, 3, 4]), "b": _edit(project, [3, 0, 2]), "c": _edit(project, [0, 1, 2], 1)}
    paths = {}
    for name, timeline in edits.items():
        paths[name] = folder / f"{name}.otio"
        otio.adapters.write_to_file(timeline, str(paths[name]))
    return paths
