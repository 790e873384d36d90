"""Media references as the absolute, percent-escaped `file://` URLs the editors write themselves.

Every real export in ../shared/interop uses absolute URLs: `file://localhost/D%3a/...` (Premiere
xmeml), `file:///...` (FCPXML, AAF locators). Relative paths, plain paths and URLs in any form
become `file:///<escaped absolute path>`; FCP7 xml then spells the host `localhost`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import opentimelineio as otio

from soundify_otio.timeline.media import locate_media

_WINDOWS_PATH = re.compile(r"^[A-Za-z]:/")
_REMOTE = re.compile(r"^(?!file:)[A-Za-z][A-Za-z0-9+.-]+://", re.IGNORECASE)


def absolute_file_url(url: str, base_dir: Path) -> str:
    """`url` (relative or absolute path, or file URL) as `file:///...`; other URLs unchanged."""
    if _REMOTE.match(url):
        return url
    path = locate_media(url, base_dir)
    raw = path.as_posix()
    if _WINDOWS_PATH.match(raw):  # a Windows path written on another machine: kept, drive escaped
        return "file:///" + quote(raw, safe="/")
    if raw.startswith("//"):  # a UNC path: the host stays the URL's host
        return "file:" + quote(raw, safe="/")
    return "file://" + quote(os.path.normpath(raw), safe="/")


def fcp7_pathurl(url: str) -> str:
    """A `file:///` URL in the form Premiere's xmeml writes: `file://localhost/...`."""
    return "file://localhost/" + url[len("file:///") :] if url.startswith("file:///") else url


def absolutise_media(timeline: otio.schema.Timeline, base_dir: Path) -> None:
    """Every external reference of the timeline (picture and sound) made an absolute file URL."""
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if isinstance(reference, otio.schema.ExternalReference) and reference.target_url:
            reference.target_url = absolute_file_url(reference.target_url, base_dir)
