"""One root exception type; each subclass maps to one documented exit code."""

from __future__ import annotations

from pathlib import Path


class SoundifyError(Exception):
    """A problem the user can fix, reported once with the file and the reason."""

    exit_code = 1

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class UsageError(SoundifyError):
    """The command line contradicts itself or names something impossible (an output that is an input,
    two outputs on one file, an unknown device)."""

    exit_code = 2


class TimelineError(SoundifyError):
    """The input timeline cannot be read, or holds nothing that can be analysed."""

    exit_code = 3


class MediaError(SoundifyError):
    """A media file (video or sound) is missing, corrupt or of the wrong kind."""

    exit_code = 3


class LibraryError(SoundifyError):
    """The sound library is missing, empty or unreadable."""

    exit_code = 4


class ModelError(SoundifyError):
    """The CLIP model or its weights cannot be loaded."""

    exit_code = 5


class OutputError(SoundifyError):
    """The output cannot be written (exists without --force, unknown format, unwritable)."""

    exit_code = 6


class ChoicesError(SoundifyError):
    """A choices file is malformed or names an unknown scene or sound."""

    exit_code = 7


INTERRUPTED_EXIT = 130
"""Exit code after Ctrl-C (128 + SIGINT, the shells' convention); not an error of the tree."""
TERMINATED_EXIT = 143
"""Exit code after SIGTERM (128 + SIGTERM)."""
