"""Where a clip's media is on this machine: file URLs, relative paths and --media-root remaps."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote

import opentimelineio as otio

MediaRoots = Sequence[tuple[str, str]]
"""(old prefix, new prefix) pairs applied to media paths in order; the first match wins."""

_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def locate_media(target_url: str, base_dir: Path, media_roots: MediaRoots = ()) -> Path:
    """A media reference's URL or path as a local path: file:// URLs unescaped, relative paths
    against the timeline's folder, prefixes remapped by --media-root OLD=NEW.

    OLD matches whole path components (`/Volumes/A` does not match `/Volumes/AB/x`); Windows paths
    are compared with forward slashes, so `C:\\Media` and `C:/Media` are the same prefix.
    """
    raw = _remap(_local_path(target_url), media_roots)
    path = Path(os.path.expanduser(raw))
    if path.is_absolute() or _WINDOWS_PATH.match(raw):  # a Windows path stays as written, for the warning
        return path
    return Path(base_dir) / path


def media_files(
    timeline: otio.schema.Timeline, base_dir: Path, media_roots: MediaRoots = ()
) -> Iterator[tuple[str, Path]]:
    """(clip name, local path) of every clip's file reference, on every track (remote URLs left out)."""
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if not isinstance(reference, otio.schema.ExternalReference) or not reference.target_url:
            continue
        if not remote_scheme(reference.target_url, media_roots):
            yield clip.name, locate_media(reference.target_url, base_dir, media_roots)


def remote_scheme(target_url: str, media_roots: MediaRoots = ()) -> str | None:
    """The scheme of a reference that names no local file once remapped (http, s3, ...); None for a file."""
    return _remote_scheme(_remap(_local_path(target_url), media_roots))


def _local_path(target_url: str) -> str:
    """The path a file URL or plain path names, unescaped (other URLs are returned as they are)."""
    if target_url.lower().startswith("file:"):
        rest = target_url[5:]
        if rest.startswith("//"):  # file://host/path; '#' and '?' belong to the file name
            host, _, rest = rest[2:].partition("/")
            rest = "/" + rest
        else:
            host = ""
        raw = unquote(rest)
        if re.match(r"^/[A-Za-z]:[\\/]", raw):  # file:///C:/Media/x.mov
            raw = raw[1:]
        if host and host.lower() != "localhost":
            raw = f"//{host}{raw}"
        return _normalise(raw)
    if _remote_scheme(target_url):
        return target_url
    return _normalise(target_url)


def _normalise(raw: str) -> str:
    """Windows paths with forward slashes; other paths unchanged."""
    return raw.replace("\\", "/") if _WINDOWS_PATH.match(raw) else raw


def _remote_scheme(url: str) -> str | None:
    """The scheme of a URL that names no local file (http, s3, ...); None for paths and file URLs."""
    match = _URL_SCHEME.match(url)
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def _remap(raw: str, media_roots: MediaRoots) -> str:
    for old, new in media_roots:
        old = _normalise(old).rstrip("/")
        if raw == old or raw.startswith(old + "/"):
            return new.rstrip("/") + raw[len(old) :] if raw != old else new
    return raw
