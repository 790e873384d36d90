"""Untrusted text (clip names, file names, labels, library paths) made safe to print on a terminal."""

from __future__ import annotations

import shutil
import textwrap
import unicodedata
from typing import TextIO

MAX_MESSAGE = 4000
"""Characters of one message kept; the rest is cut. Far more than any message of ours says (the longest,
the missing-weights advice, is about 700); it bounds what an exception carrying megabytes prints."""
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
"""Controls (escape sequences, newlines), format characters (bidi overrides), surrogates left by
undecodable file names, private-use and unassigned code points, line and paragraph separators."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_safe(text: object, limit: int | None = MAX_MESSAGE) -> str:
    """`text` on one line with every control, format and undecodable character written as an escape
    (`\\x1b`, `\\n`, `\\u202e`), cut to `limit` characters; ordinary Unicode (accents, emoji) is kept."""
    value = str(text)
    if limit is not None and len(value) > limit:
        value = value[:limit] + f"... ({len(value) - limit} more characters)"
    if value.isprintable():
        return value
    return "".join(
        char if char == " " or unicodedata.category(char) not in _UNSAFE_CATEGORIES else _escape(char) for char in value
    )


def quoted(name: object) -> str:
    """A name for a message: terminal-safe, in single quotes."""
    return f"'{terminal_safe(name)}'"


def wrapped(line: str, stream: TextIO) -> str:
    """`line` wrapped at spaces to the width of the terminal `stream` is (continuation lines indented two
    spaces; a word longer than a line, a path or a URL, is never split); unchanged where `stream` is not a
    terminal, so logs keep one message a line."""
    if not stream.isatty():
        return line
    width = max(40, shutil.get_terminal_size().columns - 1)
    if len(line) <= width:
        return line
    return textwrap.fill(
        line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False, replace_whitespace=False
    )
