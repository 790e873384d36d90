"""Counts in words, for every line the tool prints (the command line's and the batch summary's)."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 scene', '2 scenes', '0 scenes' (`nouns` where adding an s is wrong)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
