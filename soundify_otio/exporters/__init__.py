"""Per-editor automation encodings, chosen by the output file's suffix; every write is atomic.

`.otio` carries DaVinci Resolve's and Premiere Pro's clip effects (pick with `targets`), `.xml` is
FCP7 xmeml, `.fcpxml` Final Cut Pro X, `.aaf` Pro Tools / Media Composer, `.rpp` REAPER (through
the plugin adapter). Any other suffix an installed OTIO adapter writes is passed to it as is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import opentimelineio as otio

from soundify_otio.atomic import atomic_output, write_bytes_verified
from soundify_otio.errors import OutputError
from soundify_otio.exporters.media_urls import absolutise_media
from soundify_otio.timeline.reading import adapter_suffixes

OTIO_TARGETS = ("resolve", "premiere")
"""Editors whose clip-effect metadata an .otio output can carry."""


def _write_otio(timeline: otio.schema.Timeline, path: Path, targets: Sequence[str]) -> None:
    from soundify_otio.exporters.premiere import add_premiere_effects
    from soundify_otio.exporters.resolve import add_resolve_effects

    copy = timeline.deepcopy()
    if "resolve" in targets:
        add_resolve_effects(copy)
    if "premiere" in targets:
        add_premiere_effects(copy)
    text = otio.adapters.write_to_string(copy, adapter_name="otio_json")
    del copy  # each of these is 100-200 MB for 5,000 scenes: no more than two of them at once
    data = text.encode("utf-8")
    del text
    # written by us, not by OTIO's file writer, which returns without raising when the disk is full
    write_bytes_verified(path, data)


def _write_fcp7(timeline: otio.schema.Timeline, path: Path, targets: Sequence[str]) -> None:
    from .fcp7 import write_fcp7_xml

    write_fcp7_xml(timeline, path)


def _write_fcpxml(timeline: otio.schema.Timeline, path: Path, targets: Sequence[str]) -> None:
    from soundify_otio.exporters.fcpxml import write_fcpxml

    write_fcpxml(timeline, path)


def _write_aaf(timeline: otio.schema.Timeline, path: Path, targets: Sequence[str]) -> None:
    from soundify_otio.exporters.aaf import write_aaf

    write_aaf(timeline, path)


def _write_with_adapter(timeline: otio.schema.Timeline, path: Path, targets: Sequence[str]) -> None:
    path.unlink(missing_ok=True)  # the atomic writer's empty placeholder: adapters (otioz) refuse to overwrite
    otio.adapters.write_to_file(timeline, str(path))


FOLDER_SUFFIXES = {".otiod"}
"""Formats an adapter writes as a folder, not a file: not offered as outputs (only files are written atomically)."""


EDITOR_SUFFIXES = (".aaf", ".xml", ".fcpxml", ".rpp")
"""The editors' own formats: every media reference is written as an absolute file URL (their form), and
the sounds are conformed to linkable WAV by default (exporters/conform.py)."""

WRITERS: dict[str, Callable[[otio.schema.Timeline, Path, Sequence[str]], None]] = {
    ".otio": _write_otio,
    ".xml": _write_fcp7,
    ".fcpxml": _write_fcpxml,
    ".aaf": _write_aaf,
}


def _parses_as_xml(path: Path) -> None:
    from lxml import etree

    etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


VERIFIERS: dict[str, Callable[[Path], None]] = {".xml": _parses_as_xml, ".fcpxml": _parses_as_xml}
"""Checks of a written file beyond "not empty, on disk", by suffix."""


def _adapter_suffixes() -> set[str]:
    """What OTIO's adapters write, lower-cased, less the folder formats."""
    return {s.lower() for s in adapter_suffixes("write", "write_to_file")} - FOLDER_SUFFIXES


def writable_suffixes() -> list[str]:
    """Every output suffix this installation can write."""
    return sorted(set(WRITERS) | _adapter_suffixes())


def check_format(path: Path, timeline: otio.schema.Timeline | None = None) -> None:
    """What OUT's format asks of it, before any work (outputs.check_outputs checks the path itself):
    a writer for its suffix, a folder (not a plain file) where its conformed sounds go (OUT_media);
    with `timeline`, that the timeline plus a soundify track can be written in OUT's format (a frame
    rate or structure the format cannot hold), found by writing it to a scratch file."""
    suffix = path.suffix.lower()
    if suffix not in WRITERS and suffix not in _adapter_suffixes():
        raise OutputError(
            f"no writer for '{path.suffix or '(no suffix)'}'; valid: {', '.join(writable_suffixes())}", path
        )
    from soundify_otio.exporters.conform import media_folder, wants_conform

    media = media_folder(path)
    if wants_conform(path, list(OTIO_TARGETS), None) and os.path.lexists(media) and not media.is_dir():
        raise OutputError(f"{media} exists and is not a folder: the sounds conformed for it go there", path)
    if timeline is not None:
        from soundify_otio.exporters.probe import probe_timeline

        with tempfile.TemporaryDirectory(prefix="soundify-probe-") as folder:
            probe = Path(folder) / f"probe{path.suffix}"
            try:
                _encode(probe_timeline(timeline, Path(folder)), probe, OTIO_TARGETS)
            except OutputError as exc:
                raise OutputError(f"cannot be written as {path.suffix}: {exc.reason}", path) from exc


def write_output(
    timeline: otio.schema.Timeline,
    path: Path,
    targets: Sequence[str] = OTIO_TARGETS,
    *,
    replace: bool = True,
    before_commit: Callable[[Path], None] | None = None,
) -> None:
    """Write `timeline` in the format `path`'s suffix names, atomically (temp file + rename); media
    references absolute file URLs against OUT's folder where the format needs them. Without `replace`
    a file that took `path`'s name meanwhile is not replaced (OutputError). `before_commit` gets the
    written, verified temp file just before it takes `path`'s name (a batch records it there). Errors
    name `path`, never the temporary file."""
    check = VERIFIERS.get(path.suffix.lower())

    def verify(temp: Path) -> None:
        if check is not None:
            check(temp)
        if before_commit is not None:
            before_commit(temp)

    with atomic_output(path, verify=verify, replace=replace) as temp:
        try:
            _encode(timeline, temp, targets, base_dir=path.parent)
        except OutputError as exc:
            raise OutputError(exc.reason, path) from exc


def write_with_media(
    timeline: otio.schema.Timeline,
    path: Path,
    targets: Sequence[str] = OTIO_TARGETS,
    conform: str | None = None,
    *,
    replace: bool = True,
    before_commit: Callable[[Path], None] | None = None,
) -> None:
    """write_output after conforming the sounds to WAV beside `path` where `conform` (or, when None,
    the format) asks for it; the conformed files this call created go again if the conforming or the
    write fails (a full disk half-way leaves no half set)."""
    from soundify_otio.exporters.conform import conform_media, sounds_to_conform, wants_conform

    created: list[Path] = []
    try:
        sounds = sounds_to_conform(timeline) if wants_conform(path, list(targets), conform) else set()
        if sounds:  # no copy of the timeline where nothing changes
            timeline = timeline.deepcopy()
            conform_media(timeline, path, sounds, created)
        write_output(timeline, path, targets, replace=replace, before_commit=before_commit)
    except BaseException:  # all outputs or none: the copies made for it go, and their folder if now empty
        for made in created:
            made.unlink(missing_ok=True)
        folders = {made.parent for made in created}
        for folder in folders:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise


def _encode(timeline: otio.schema.Timeline, temp: Path, targets: Sequence[str], base_dir: Path | None = None) -> None:
    """Run the writer for `temp`'s suffix; any failure becomes an OutputError without the temp path."""
    suffix = temp.suffix.lower()
    writer = WRITERS.get(suffix, _write_with_adapter)
    if suffix in EDITOR_SUFFIXES:
        timeline = timeline.deepcopy()
        absolutise_media(timeline, base_dir or temp.parent)
    try:
        writer(timeline, temp, targets)
    except OutputError as exc:
        raise OutputError(exc.reason.replace(str(temp), "OUT")) from exc
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}") from exc
    except Exception as exc:
        raise OutputError(f"cannot write ({str(exc).replace(str(temp), 'OUT')})") from exc
