"""One run of soundify over one timeline, as every front end makes it.

`open_run` does everything up to the analysed timeline: the outputs checked against every input
before any work (and again once the timeline and the library say what the inputs are), the
timeline read, the library opened, the model loaded, the frames analysed with the given cache.
`write_annotated` places the picks and writes the timeline and its report together, or neither.
The command line (annotate, suggest, review) calls both; the batch planner lists its jobs' inputs
with the same functions (`media_inputs`, `library_inputs`), and its workers load the model with
`open_model` and analyse through `Session`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import opentimelineio as otio

from soundify_otio.app.api import AnalysedTimeline, Session, write_timeline
from soundify_otio.app.model import ModelRequest, open_model
from soundify_otio.atomic import StagedOutputs, staged_outputs
from soundify_otio.config import Config
from soundify_otio.errors import OutputError
from soundify_otio.exporters import check_format
from soundify_otio.library.sounds import SoundLibrary, open_library
from soundify_otio.outputs import Input, Output, check_outputs
from soundify_otio.pipeline.choices import ChoicesFile
from soundify_otio.progress import ProgressHook, null_progress
from soundify_otio.timeline.media import MediaRoots, media_files
from soundify_otio.timeline.reading import read_timeline
from soundify_otio.timeline.timecode import timeline_rate
from soundify_otio.types import Annotation, Choice
from soundify_otio.vision.runtime import default_cache_root

PREVIEW_BYTES_PER_SECOND = 48000 * 2 * 4
"""The report's preview WAV: 48 kHz, stereo, 32-bit float."""


@dataclass(frozen=True)
class RunRequest:
    """What a user asks of one run: the timeline, the library, the settings, the outputs."""

    timeline_in: Path
    library_dir: Path
    config: Config
    model: ModelRequest
    outputs: tuple[Output, ...]
    """Every file the run writes, each named as the user named it (`-o`, `--report`, ...)."""
    extra_inputs: tuple[Input, ...] = ()
    """Inputs besides IN, its media and the library (the choices file)."""
    force: bool = False
    media_roots: MediaRoots = ()
    allow_offline: bool = False
    cache_dir: Path | None = None
    """The frame cache's folder (created if missing); None: no cache, the frames of this run only."""
    timeline_out: Path | None = None
    """The annotated timeline to write, whose format must be able to hold IN's (probed before work)."""
    report: Path | None = None
    """The HTML report to write; a long timeline's preview is then an output beside it too."""

    @property
    def base_dir(self) -> Path:
        """The folder relative media paths of IN resolve against."""
        return self.timeline_in.resolve().parent


@dataclass(frozen=True)
class Run:
    """A run after the pixel pass: its analysis and every output it will write."""

    request: RunRequest
    analysed: AnalysedTimeline
    outputs: tuple[Output, ...]
    """The request's outputs and those the timeline adds (a report's linked preview)."""


def open_run(request: RunRequest, say: Callable[[str], None], progress: ProgressHook = null_progress) -> Run:
    """Everything up to the pixel analysis; bad input and every output that cannot be written fail
    here, before any work and before any output exists. Notes for the user go through `say`."""
    outputs = list(request.outputs)
    check_outputs(outputs, [Input(request.timeline_in, "IN"), *request.extra_inputs], request.force)  # cheap first
    timeline = read_timeline(request.timeline_in)
    if request.report is not None and preview_is_linked(timeline):
        outputs.append(Output(linked_preview(request.report), "--report's preview"))
    if request.timeline_out is not None:
        check_format(request.timeline_out, timeline)
    library = open_library(request.library_dir, progress=progress)
    inputs = run_inputs(request.timeline_in, timeline, request.media_roots, library, request.extra_inputs)
    check_outputs(outputs, inputs, request.force)
    cache = None if request.cache_dir is None else check_cache_dir(request.cache_dir)
    runtimes = request.model.runtime_cache or runtimes_folder(cache)
    model = open_model(replace(request.model, runtime_cache=runtimes), say)
    analysed = Session(model, library, request.config, cache).analyse(
        timeline,
        base_dir=request.base_dir,
        media_roots=request.media_roots,
        allow_offline=request.allow_offline,
        progress=progress,
    )
    _say_tower(model.runtime_info(), say)
    return Run(request, analysed, tuple(outputs))


def write_annotated(
    run: Run,
    choices: Mapping[str, Choice] | ChoicesFile | None,
    *,
    targets: Sequence[str],
    conform: str | None,
    say: Callable[[str], None],
    progress: ProgressHook = null_progress,
) -> tuple[otio.schema.Timeline, Annotation]:
    """Place the picks and write the annotated timeline (and the report, when asked) together: the
    report is made and verified first, so the timeline is written only if it can be, and neither is
    left behind when the other fails. Notes for the user go through `say`."""
    request = run.request
    if request.timeline_out is None:
        raise ValueError("write_annotated needs a request with timeline_out")
    result, annotation = run.analysed.annotate(choices)
    write_started = time.perf_counter()
    with staged_outputs(replace=request.force) as staged:
        if request.report is not None:
            _write_report(run, annotation, result, staged, say, progress)
            staged.verify()
        write_timeline(
            result,
            request.timeline_out,
            targets=targets,
            force=request.force,
            media_base=request.base_dir,
            conform=conform,
        )
    annotation.timings["write"] = time.perf_counter() - write_started
    return result, annotation


def run_inputs(
    timeline_in: Path,
    timeline: otio.schema.Timeline,
    media_roots: MediaRoots,
    library: SoundLibrary,
    extra: Sequence[Input] = (),
) -> list[Input]:
    """Every file a run reads: IN, `extra` (the choices file), its clips' media, the library."""
    media = media_inputs(timeline, timeline_in.resolve().parent, media_roots)
    return [Input(timeline_in, "IN"), *extra, *media, *library_inputs(library)]


def media_inputs(timeline: otio.schema.Timeline, base: Path, media_roots: MediaRoots, of: str = "") -> list[Input]:
    """The media files of a timeline's clips, as inputs (`of` ends each role, e.g. " of job 3")."""
    return [Input(p, f"the media of clip '{name}'{of}") for name, p in media_files(timeline, base, media_roots)]


def library_inputs(library: SoundLibrary) -> list[Input]:
    """The library's sounds, the files it skipped, and its folder read as a whole."""
    return [
        *(Input(e.path, "a sound of the library") for e in library.entries),
        *(Input(p, "a file of the library") for p, _ in library.skipped),
        Input(library.root, "the sound library", folder=True),
    ]


def check_cache_dir(folder: Path) -> Path:
    """The frame-cache folder, created if missing; OutputError (exit 6) when it is a file or cannot be written."""
    folder = Path(folder).expanduser()
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputError("the frame cache folder (--cache-dir) is a file, not a folder", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"the frame cache folder (--cache-dir) cannot be written: {exc.strerror}", folder) from exc
    return folder


def runtimes_folder(cache_dir: Path | None) -> Path:
    """Where converted image towers are kept: beside the run's frame cache, else in the user's cache."""
    return cache_dir / "runtimes" if cache_dir is not None else default_cache_root()


def preview_is_linked(timeline: otio.schema.Timeline) -> bool:
    """Whether the report's preview will be too large to embed (linked beside the report instead);
    decided from the timeline's length, with a margin, before the work starts."""
    from soundify_otio.report.html import MAX_EMBED_BYTES

    seconds = timeline.tracks.duration().to_seconds()
    return seconds * PREVIEW_BYTES_PER_SECOND > 0.9 * MAX_EMBED_BYTES


def linked_preview(report: Path) -> Path:
    """Where a linked preview goes: beside the report, named after it."""
    return report.with_name(f"{report.stem}.preview.wav")


def _write_report(
    run: Run,
    annotation: Annotation,
    timeline: otio.schema.Timeline,
    staged: StagedOutputs,
    say: Callable[[str], None],
    progress: ProgressHook,
) -> None:
    """The HTML report with the preview audio and a listen button per candidate. The preview is the
    mix `render` makes by default: the timeline's own sound (its media found as IN's are) with our
    tracks, brought to the configured loudness under the true-peak ceiling. It is rendered beside the
    report (a full TMPDIR does not matter; a full disk fails the run before anything is renamed): a
    scratch file when it is embedded, else an output of the run that the report links to
    (REPORT.preview.wav), staged under its own name so the link is right."""
    from soundify_otio.preview.render import render_preview
    from soundify_otio.report.auditions import audition_files
    from soundify_otio.report.html import write_report

    request, soundify = run.request, run.analysed.soundify
    report = request.report
    if report is None:
        raise ValueError("_write_report needs a request with a report")
    origin = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
    linked = preview_is_linked(timeline)
    if linked:
        preview = staged.temp_for(linked_preview(report), same_name=True)
    else:
        preview = staged.scratch_for(report, ".preview.wav")
    stats = render_preview(
        timeline,
        preview,
        include_timeline_audio=True,
        loudness=soundify.config.loudness,
        true_peak=soundify.config.true_peak,
        progress=progress,
        base_dir=request.base_dir,
        media_roots=request.media_roots,
    )
    for problem in stats.unheard:
        say(f"warning: the report's preview lacks some of the timeline's own sound: {problem}")
    write_report(
        annotation,
        staged.temp_for(report, same_name=linked),
        title=request.timeline_in.name,
        timecode_origin=origin,
        frame_rate=timeline_rate(timeline),
        preview_wav=preview,
        preview_mix=stats.mix(),
        auditions=audition_files(soundify.library, annotation, soundify.config),
    )


def _say_tower(tower: dict, say: Callable[[str], None]) -> None:
    """What the image tower's runtime did that the user should know: int8's measured agreement, a fallback."""
    if "int8_agreement_with_fp32" in tower:
        agreement = tower["int8_agreement_with_fp32"]
        say(
            f"int8 image tower ({tower['runtime']}), calibrated on {agreement['frames']} of this run's frames: "
            f"embedding cosine to fp32 min {agreement['embedding_cosine_min']:.6f}, "
            f"mean {agreement['embedding_cosine_mean']:.6f} (recorded in the output's metadata)"
        )
    elif tower.get("fallback_reason"):
        say(f"note: the image tower ran on eager torch ({tower['requested']} failed: {tower['fallback_reason']})")
