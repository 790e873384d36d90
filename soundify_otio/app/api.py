"""The Python API: annotate a timeline in one call, or open a `Session` once and annotate many.

`annotate_timeline` is what `soundify-otio annotate` does short of writing the file; `Session`
keeps a loaded model and an opened library for batch runs; `AnalysedTimeline` is one timeline after
the pixel pass, from which any picks are placed without decoding again; `write_timeline` writes an
annotated timeline in the format its suffix names, with each editor's automation.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import opentimelineio as otio

from soundify_otio.app.model import ModelRequest, open_model
from soundify_otio.config import Config
from soundify_otio.errors import ChoicesError
from soundify_otio.exporters import OTIO_TARGETS, check_format, write_with_media
from soundify_otio.library.sounds import SoundLibrary, open_library
from soundify_otio.outputs import Output, check_outputs
from soundify_otio.pipeline.analysis import Analysis
from soundify_otio.pipeline.choices import ChoicesFile, check_choices, read_choices
from soundify_otio.pipeline.frame_cache import FrameCache
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.progress import ProgressHook, null_progress
from soundify_otio.timeline.media import MediaRoots
from soundify_otio.timeline.reading import read_timeline
from soundify_otio.timeline.shots import find_shots
from soundify_otio.timeline.writeback import annotated_copy, with_absolute_media
from soundify_otio.types import Annotation, Choice, Kind, Shot
from soundify_otio.vision.model import ClipModel

log = logging.getLogger(__name__)

PathLike: TypeAlias = str | os.PathLike[str]
TimelineSource: TypeAlias = otio.schema.Timeline | PathLike
"""A timeline object, or a file any installed OTIO adapter reads (relative media resolve against its folder)."""
Choices: TypeAlias = Mapping[str, Choice] | ChoicesFile | PathLike | None
"""Picks per scene id: a mapping, a choices file written by `suggest` (path or parsed), or None for the defaults."""


@dataclass(frozen=True)
class AnalysedTimeline:
    """A timeline after the pixel pass (scenes, CLIP embeddings, Grad-CAM activations, candidates).

    `place` and `annotate` turn picks into placements from it without decoding or encoding again."""

    timeline: otio.schema.Timeline
    soundify: Soundify
    analysis: Analysis

    def labels(self, kind: Kind) -> list[str]:
        """The library's labels of a kind ("effect" or "ambient"), as choices may name them."""
        return self.soundify.labels(kind)[0]

    def check_choices(self, choices: Choices) -> dict[str, Choice] | None:
        """The picks checked against this analysis: ChoicesError for unknown scenes or labels."""
        if choices is None:
            return None
        scene_ids = [s.scene.id for s in self.analysis.scenes]
        effects, ambients = self.labels("effect"), self.labels("ambient")
        if not isinstance(choices, Mapping):
            parsed = choices if isinstance(choices, ChoicesFile) else read_choices(Path(choices))
            return check_choices(parsed, scene_ids, effects, ambients)
        for scene_id, choice in choices.items():
            if scene_id not in scene_ids:
                raise ChoicesError(f"scene '{scene_id}' is not in this timeline's analysis")
            unknown = [e for e in choice.effects if e not in effects]
            if choice.ambient is not None and choice.ambient not in ambients:
                unknown.append(choice.ambient)
            if unknown:
                raise ChoicesError(f"scene '{scene_id}': not a label of the library: {', '.join(unknown)}")
        return dict(choices)

    def place(self, choices: Choices = None) -> Annotation:
        """Sync and mix each scene's picks (the given ones, else the defaults)."""
        return self.soundify.place(self.analysis, self.check_choices(choices))

    def annotate(self, choices: Choices = None) -> tuple[otio.schema.Timeline, Annotation]:
        """A copy of the timeline with the soundify tracks and scene markers, and the run's record."""
        annotation = self.place(choices)
        return annotated_copy(self.timeline, annotation), annotation


class Session:
    """A loaded CLIP model and an opened sound library under one configuration: open it once, then
    analyse or annotate any number of timelines."""

    def __init__(
        self, model: ClipModel, library: SoundLibrary, config: Config | None = None, cache_dir: Path | None = None
    ) -> None:
        self.model = model
        self.library = library
        self.config = config or Config()
        self.cache_dir = cache_dir
        """Frame-analysis cache folder; None keeps the analysis in a scratch folder for this run only."""

    @classmethod
    def open(
        cls,
        library: SoundLibrary | PathLike,
        config: Config | None = None,
        *,
        model: ClipModel | None = None,
        device: str | None = None,
        cache_dir: PathLike | None = None,
        progress: ProgressHook = null_progress,
    ) -> Session:
        """Open the library (LibraryError) and load `config.model` with `config.pretrained` (ModelError;
        notes go to the log) unless a loaded `model` is given."""
        config = config or Config()
        if not isinstance(library, SoundLibrary):
            library = open_library(Path(library), progress=progress)
        if model is None:
            model = open_model(ModelRequest(config.model, config.pretrained, device), log.warning)
        return cls(model, library, config, None if cache_dir is None else Path(cache_dir))

    def analyse(
        self,
        timeline: TimelineSource,
        *,
        base_dir: PathLike | None = None,
        media_roots: MediaRoots = (),
        allow_offline: bool = False,
        progress: ProgressHook = null_progress,
        cache: FrameCache | None = None,
    ) -> AnalysedTimeline:
        """Decode each shot once and rank candidates per scene. Relative media resolve against
        `base_dir` (default: the timeline file's folder, else the current folder); shots whose media
        cannot be read are skipped with a warning; none readable is a TimelineError unless `allow_offline`.
        `cache`: the frame cache to read and fill (default: one on the session's `cache_dir`)."""
        loaded, folder = _timeline_and_folder(timeline, base_dir)
        shots, skipped = find_shots(loaded, folder, media_roots)
        soundify = Soundify(self.model, self.library, self.config, progress, cache or self.cache_dir)
        analysis = soundify.analyse(shots, skipped, allow_empty=allow_offline)
        soundify.listen(analysis, loaded, shots, folder, media_roots)
        for shot in analysis.skipped:
            log.warning("skipped shot '%s' (%s): %s", shot.clip_name, shot.media or "no media", shot.reason)
        return AnalysedTimeline(loaded, soundify, analysis)

    def analyse_shots(self, shots: list[Shot], cache: FrameCache) -> None:
        """The pixel pass over some shots only, into `cache`: a batch worker's share of a timeline,
        which the worker that assembles it then finds there."""
        Soundify(self.model, self.library, self.config, cache=cache).analyse(shots, allow_empty=True)

    def annotate(
        self,
        timeline: TimelineSource,
        choices: Choices = None,
        progress: ProgressHook = null_progress,
        *,
        base_dir: PathLike | None = None,
        media_roots: MediaRoots = (),
        allow_offline: bool = False,
    ) -> tuple[otio.schema.Timeline, Annotation]:
        """Analyse, place the picks, and return the annotated copy of the timeline with the run's record.
        A choices file is read before the analysis, so a broken one fails before the long work."""
        if choices is not None and not isinstance(choices, (Mapping, ChoicesFile)):
            choices = read_choices(Path(choices))
        analysed = self.analyse(
            timeline, base_dir=base_dir, media_roots=media_roots, allow_offline=allow_offline, progress=progress
        )
        return analysed.annotate(choices)


def annotate_timeline(
    timeline: TimelineSource,
    library: SoundLibrary | PathLike,
    config: Config | None = None,
    choices: Choices = None,
    progress: ProgressHook = null_progress,
    *,
    device: str | None = None,
    cache_dir: PathLike | None = None,
    base_dir: PathLike | None = None,
    media_roots: MediaRoots = (),
    allow_offline: bool = False,
) -> tuple[otio.schema.Timeline, Annotation]:
    """Soundify one timeline: its annotated copy (new SFX/AMB tracks with pan/gain keyframes, scene
    markers) and the run's record. The input is not modified. Errors are SoundifyError subclasses
    (TimelineError, LibraryError, ModelError, ChoicesError), each naming the file and the reason."""
    if choices is not None and not isinstance(choices, (Mapping, ChoicesFile)):
        choices = read_choices(Path(choices))
    if not isinstance(timeline, otio.schema.Timeline):
        base_dir = base_dir if base_dir is not None else Path(timeline).resolve().parent
        timeline = read_timeline(Path(timeline))
    session = Session.open(library, config, device=device, cache_dir=cache_dir, progress=progress)
    return session.annotate(
        timeline, choices, progress, base_dir=base_dir, media_roots=media_roots, allow_offline=allow_offline
    )


def write_timeline(
    timeline: otio.schema.Timeline,
    path: PathLike,
    *,
    targets: Sequence[str] = OTIO_TARGETS,
    force: bool = False,
    media_base: PathLike | None = None,
    conform: str | None = None,
    before_commit: Callable[[Path], None] | None = None,
) -> None:
    """Write `timeline` in the format `path`'s suffix names (.otio .xml .fcpxml .aaf .rpp ...),
    atomically; an .otio carries the automation of `targets`. Relative media paths, written for
    `media_base` (the input timeline's folder), become absolute when the output goes elsewhere. The
    sounds are conformed to WAV beside it per `conform` ("wav", "none", None = by format; see
    exporters.conform). OutputError when the file exists without `force` (checked again at the moment
    it would be replaced), the suffix is unknown or the folder is missing. `before_commit` gets the
    written, verified temp file just before it takes its name (exporters.write_output)."""
    out = Path(path)
    check_outputs([Output(out, "OUT")], (), force)
    check_format(out)
    if media_base is not None:
        timeline = with_absolute_media(timeline, Path(media_base), out.resolve().parent)
    write_with_media(timeline, out, targets, conform, replace=force, before_commit=before_commit)


def _timeline_and_folder(timeline: TimelineSource, base_dir: PathLike | None) -> tuple[otio.schema.Timeline, Path]:
    if isinstance(timeline, otio.schema.Timeline):
        return timeline, Path(base_dir) if base_dir is not None else Path.cwd()
    path = Path(timeline)
    return read_timeline(path), Path(base_dir) if base_dir is not None else path.resolve().parent
