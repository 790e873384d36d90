"""What a sound says about itself: its file name, folders, embedded tags and metadata CSVs.

Readers: BWF ``bext`` description, iXML (UCS fields), RIFF ``LIST/INFO`` (a small RIFF chunk
reader), Vorbis comments of FLAC and Ogg files (read from the stream headers, no dependency),
Soundminer-style CSV exports and the ``soundify.csv`` sidecar (``file,label,kind``). The labeller
turns these into a label, a kind (effect or ambient) and the text CLIP encodes.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path, PurePosixPath

from soundify_otio.errors import LibraryError
from soundify_otio.library.ucs import UcsCategory, lookup, lookup_words, one_shot_words, parse_ucs_name
from soundify_otio.types import Kind

SIDECAR_NAME = "soundify.csv"
_CHUNK_LIMIT = 4 << 20
"""Metadata chunks larger than this are not read (they are not text tags)."""


@dataclass(frozen=True)
class EmbeddedTags:
    """Descriptive fields found in a file's metadata or a metadata CSV ('' when absent)."""

    title: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()
    category: str = ""
    subcategory: str = ""
    cat_id: str = ""
    fx_name: str = ""

    def merged(self, fallback: EmbeddedTags) -> EmbeddedTags:
        """These tags, with blanks filled from ``fallback``."""
        return EmbeddedTags(*(getattr(self, f.name) or getattr(fallback, f.name) for f in fields(self)))

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmbeddedTags:
        data = json.loads(text or "{}")
        data["keywords"] = tuple(data.get("keywords", ()))
        return cls(**data)


@dataclass(frozen=True)
class RiffInfo:
    """The chunks of a RIFF/WAVE file that matter here."""

    format_tag: int | None
    data_declared: int | None
    data_available: int
    chunks: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.data_declared is not None and self.data_declared > self.data_available + 1


@dataclass(frozen=True)
class SidecarRow:
    """One row of a ``soundify.csv`` sidecar: a label, a kind and/or one-shot-ness imposed on one file."""

    label: str | None
    kind: Kind | None
    one_shot: bool | None = None
    """The ``one_shot`` column: yes (placed as hits on the frames of contact) or no; blank decides itself."""


@dataclass(frozen=True)
class Description:
    """What the labeller concluded about one sound."""

    label: str
    kind: Kind
    category: str | None
    category_words: tuple[str, ...]
    tags: tuple[str, ...]
    text: str
    one_shot_words: bool | None = None
    """What the words say (UCS category, label, tags): True a hit, False a texture, None nothing."""
    one_shot_override: bool | None = None
    """The sidecar's ``one_shot`` column, when given."""


# --- readers -------------------------------------------------------------------------------


def read_riff(path: Path) -> RiffInfo | None:
    """Walk the chunks of a RIFF/RF64 WAVE file; None when it is not one."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return None
        chunks: dict[bytes, bytes] = {}
        pos, declared, available = 12, None, 0
        while pos + 8 <= size:
            f.seek(pos)
            header = f.read(8)
            cid, n = header[:4], int.from_bytes(header[4:], "little")
            if cid == b"data":
                declared = None if n == 0xFFFFFFFF else n
                available = size - pos - 8
            elif cid in (b"fmt ", b"bext", b"iXML", b"LIST") and n <= _CHUNK_LIMIT:
                chunks[cid] = chunks.get(cid, b"") + f.read(n) if cid == b"LIST" else f.read(n)
            pos += 8 + n + (n & 1)
    fmt = chunks.get(b"fmt ", b"")
    tag = int.from_bytes(fmt[:2], "little") if len(fmt) >= 2 else None
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    return RiffInfo(tag, declared, available, chunks)


def _text(raw: bytes) -> str:
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def _keywords(text: str) -> tuple[str, ...]:
    words = (w.strip().lower() for w in re.split(r"[,;]", text))
    return tuple(dict.fromkeys(w for w in words if w))


def _ixml_field(xml: str, *names: str) -> str:
    for name in names:
        found = re.search(rf"<{name}>(.*?)</{name}>", xml, re.IGNORECASE | re.DOTALL)
        if found and found.group(1).strip():
            return html.unescape(found.group(1).strip())
    return ""


def wav_tags(riff: RiffInfo) -> EmbeddedTags:
    """Tags from the iXML (UCS USER fields), bext and LIST/INFO chunks, in that precedence."""
    ixml = riff.chunks.get(b"iXML", b"").decode("utf-8", "replace")
    from_ixml = (
        EmbeddedTags(
            title=_ixml_field(ixml, "TRACKTITLE"),
            description=_ixml_field(ixml, "DESCRIPTION", "BWF_DESCRIPTION", "NOTE"),
            keywords=_keywords(_ixml_field(ixml, "KEYWORDS")),
            category=_ixml_field(ixml, "CATEGORY"),
            subcategory=_ixml_field(ixml, "SUBCATEGORY"),
            cat_id=_ixml_field(ixml, "CATID"),
            fx_name=_ixml_field(ixml, "FXNAME"),
        )
        if ixml
        else EmbeddedTags()
    )
    bext = riff.chunks.get(b"bext", b"")
    from_bext = EmbeddedTags(description=_text(bext[:256]))
    info = _list_info(riff.chunks.get(b"LIST", b""))
    from_info = EmbeddedTags(
        title=info.get(b"INAM", ""),
        description=info.get(b"ICMT", "") or info.get(b"ISBJ", ""),
        keywords=_keywords(info.get(b"IKEY", "")),
    )
    return from_ixml.merged(from_bext).merged(from_info)


def _list_info(raw: bytes) -> dict[bytes, str]:
    if raw[:4] != b"INFO":
        return {}
    out, pos = {}, 4
    while pos + 8 <= len(raw):
        cid, n = raw[pos : pos + 4], int.from_bytes(raw[pos + 4 : pos + 8], "little")
        out[cid] = _text(raw[pos + 8 : pos + 8 + n])
        pos += 8 + n + (n & 1)
    return out


def parse_vorbis_comment(block: bytes) -> dict[str, list[str]]:
    """Decode a Vorbis comment structure (vendor string, then ``KEY=value`` entries)."""
    out: dict[str, list[str]] = {}
    pos = 4 + int.from_bytes(block[:4], "little")
    count = int.from_bytes(block[pos : pos + 4], "little")
    pos += 4
    for _ in range(count):
        if pos + 4 > len(block):
            break
        n = int.from_bytes(block[pos : pos + 4], "little")
        key, _, value = block[pos + 4 : pos + 4 + n].decode("utf-8", "replace").partition("=")
        out.setdefault(key.upper(), []).append(value)
        pos += 4 + n
    return out


def read_flac_comments(path: Path) -> dict[str, list[str]]:
    """The Vorbis comments of a FLAC file ({} when there are none)."""
    with path.open("rb") as f:
        if f.read(4) != b"fLaC":
            return {}
        while len(header := f.read(4)) == 4:
            kind, n = header[0] & 0x7F, int.from_bytes(header[1:], "big")
            if kind == 4:
                return parse_vorbis_comment(f.read(n))
            if header[0] & 0x80:
                break
            f.seek(n, 1)
    return {}


def read_ogg_comments(path: Path) -> dict[str, list[str]]:
    """The comment header (second packet) of an Ogg Vorbis or Opus stream."""
    with path.open("rb") as f:
        data = f.read(1 << 18)
    packets: list[bytes] = []
    current, pos = b"", 0
    while len(packets) < 2 and data[pos : pos + 4] == b"OggS" and pos + 27 <= len(data):
        nseg = data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + nseg]
        pos += 27 + nseg
        for n in lacing:
            current += data[pos : pos + n]
            pos += n
            if n < 255:
                packets.append(current)
                current = b""
    if len(packets) < 2:
        return {}
    body = packets[1]
    for magic in (b"\x03vorbis", b"OpusTags"):
        if body.startswith(magic):
            return parse_vorbis_comment(body[len(magic) :])
    return {}


def vorbis_tags(comments: dict[str, list[str]]) -> EmbeddedTags:
    """Tags from Vorbis comment keys (UCS-style keys where present)."""

    def first(*keys: str) -> str:
        return next((v[0].strip() for k in keys if (v := comments.get(k)) and v[0].strip()), "")

    return EmbeddedTags(
        title=first("TITLE"),
        description=first("DESCRIPTION", "COMMENT"),
        keywords=_keywords(first("KEYWORDS")),
        category=first("CATEGORY", "GENRE"),
        subcategory=first("SUBCATEGORY"),
        cat_id=first("CATID"),
        fx_name=first("FXNAME"),
    )


def read_tags(path: Path, riff: RiffInfo | None = None) -> EmbeddedTags:
    """The embedded tags of a WAV, FLAC or Ogg file (empty tags for other formats)."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic in (b"RIFF", b"RF64"):
        riff = riff or read_riff(path)
        return wav_tags(riff) if riff else EmbeddedTags()
    if magic == b"fLaC":
        return vorbis_tags(read_flac_comments(path))
    if magic == b"OggS":
        return vorbis_tags(read_ogg_comments(path))
    return EmbeddedTags()


def _csv_rows(path: Path, sniff: bool) -> list[dict[str, str]]:
    """Rows with lower-case, space-free column names; ``sniff`` guesses the delimiter."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        sample = f.read(4096)
        f.seek(0)
        dialect = csv.Sniffer().sniff(sample, ",;\t") if sniff and sample else csv.excel
        reader = csv.DictReader(f, dialect=dialect)
        return [
            {
                (k or "").strip().lower().replace(" ", ""): (v or "").strip()
                for k, v in row.items()
                if isinstance(v, str)
            }
            for row in reader
        ]


def _kind_word(word: str) -> Kind | None:
    word = word.strip().lower()
    if word in ("ambient", "ambience", "amb", "atmos", "bg", "background"):
        return "ambient"
    if word in ("effect", "effects", "sfx", "fx"):
        return "effect"
    return None


_YES, _NO = ("yes", "y", "true", "1", "one-shot", "oneshot"), ("no", "n", "false", "0")


def read_sidecar(path: Path) -> dict[str, SidecarRow]:
    """A ``soundify.csv`` (``file,label,kind[,one_shot]``; file relative to the CSV's folder, posix)."""
    try:
        rows = _csv_rows(path, sniff=False)
    except (OSError, csv.Error) as exc:
        raise LibraryError(f"cannot read sidecar: {exc}", path) from exc
    out = {}
    for line, row in enumerate(rows, start=2):
        name, kind = row.get("file", ""), row.get("kind", "")
        if not name:
            raise LibraryError(f"line {line}: the 'file' column is empty or missing", path)
        if kind and _kind_word(kind) is None:
            raise LibraryError(f"line {line}: kind {kind!r} is neither 'effect' nor 'ambient'", path)
        shot = (row.get("one_shot") or row.get("oneshot") or "").strip().lower()
        if shot and shot not in _YES + _NO:
            raise LibraryError(f"line {line}: one_shot {shot!r} is neither 'yes' nor 'no'", path)
        out[PurePosixPath(name).as_posix().lower()] = SidecarRow(
            clean_label(row.get("label", "")) or None,
            _kind_word(kind) if kind else None,
            (shot in _YES) if shot else None,
        )
    return out


_CSV_NAME_COLUMNS = ("filename", "file", "name", "pathname", "filepath", "path")
_CSV_TAG_COLUMNS = ("description", "keywords", "category", "subcategory", "catid", "fxname")


def read_metadata_csv(path: Path) -> dict[str, EmbeddedTags] | None:
    """A Soundminer-style CSV export, keyed by lower-case file name; None when not one."""
    try:
        rows = _csv_rows(path, sniff=True)
    except (OSError, csv.Error):
        return None
    if not rows or not any(c in rows[0] for c in _CSV_NAME_COLUMNS) or not any(c in rows[0] for c in _CSV_TAG_COLUMNS):
        return None
    out = {}
    for row in rows:
        name = next((row[c] for c in _CSV_NAME_COLUMNS if row.get(c)), "")
        if name:
            out[PurePosixPath(name.replace("\\", "/")).name.lower()] = EmbeddedTags(
                title=row.get("tracktitle", "") or row.get("title", ""),
                description=row.get("description", ""),
                keywords=_keywords(row.get("keywords", "")),
                category=row.get("category", ""),
                subcategory=row.get("subcategory", ""),
                cat_id=row.get("catid", ""),
                fx_name=row.get("fxname", ""),
            )
    return out


# --- labeller ------------------------------------------------------------------------------

_TRAILING_NOISE = re.compile(
    r"^(\d+[a-z]?|#\d+|v\d+|(take|tk|var|variation|version|ver|alt|copy|edit)\d*|"
    r"\d+(k|khz|hz|bit|b)|mono|stereo|st|ms|lr|xy|surround|quad|loop|loopable|seamless|final|"
    r"sfx|fx|[a-z])$"
)
_LEADING_NOISE = re.compile(r"^(\d+|#\d+)$")
_PLACEHOLDERS = {"audio", "clip", "file", "new", "rec", "recording", "sample", "sound", "track", "untitled", "zoom"}
"""Names recorders and editors give files: alone, they say nothing of the sound."""
_AMBIENT_FOLDER_WORDS = {
    "ambience",
    "ambiences",
    "ambient",
    "ambients",
    "amb",
    "ambs",
    "atmos",
    "atmo",
    "atmosphere",
    "atmospheres",
    "roomtone",
    "roomtones",
    "background",
    "backgrounds",
    "bg",
    "bgs",
}
_AMBIENT_PHRASES = ("room tone", "ambience", "atmos", "ambient")


def clean_label(text: str) -> str:
    """Lower-case words of ``text`` without separators, numbering and take/variation suffixes."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)", " ", text)
    words = re.sub(r"[_\-.,+()\[\]{}~=|/\\]+", " ", text).lower().split()
    while len(words) > 1 and _TRAILING_NOISE.match(words[-1]):
        words.pop()
    while words and _LEADING_NOISE.match(words[0]):
        words.pop(0)
    if len(words) == 1 and (_TRAILING_NOISE.match(words[0]) or words[0] in _PLACEHOLDERS):
        words = []
    return " ".join(words)


def label_from_filename(name: str) -> str:
    """The label a file name gives: its UCS FXName when UCS, else the cleaned name ('' if none).

    ``Bicycle Bell 02.flac`` -> ``bicycle bell``; ``DOORWood_Front Door Slam_ABC_XYZ.wav`` ->
    ``front door slam``.
    """
    stem = PurePosixPath(name).stem if "." in name else name
    ucs = parse_ucs_name(stem)
    return clean_label(ucs.fx_name if ucs else stem)


def ucs_category(name: str, tags: EmbeddedTags) -> UcsCategory | None:
    """The UCS category from the file name's CatID, else from the tags' CatID or words."""
    stem = PurePosixPath(name).stem
    ucs = parse_ucs_name(stem)
    if ucs:
        return ucs.category
    if tags.cat_id and (found := lookup(tags.cat_id)):
        return found
    return lookup_words(tags.category, tags.subcategory) if tags.category else None


@lru_cache(maxsize=4096)
def kind_from_folders(parts: tuple[str, ...]) -> Kind | None:
    """``ambient`` when a folder is named like ambience/amb/atmos/room tone; else None."""
    for part in parts:
        words = clean_label(part).split()
        if _AMBIENT_FOLDER_WORDS.intersection(words) or "room tone" in " ".join(words):
            return "ambient"
    return None


def compose_text(
    label: str, category_words: tuple[str, ...], tags: tuple[str, ...], description: str = "", max_words: int = 24
) -> str:
    """The text CLIP encodes: the label, then category words, tags and description not yet said."""
    parts, seen = [label], set(label.split())
    for phrase in (*category_words, *tags, clean_description(description)):
        new = [w for w in phrase.split() if w not in seen]
        if new and phrase:
            parts.append(phrase)
            seen.update(phrase.split())
    words = ", ".join(p for p in parts if p).split()
    return " ".join(words[:max_words]).rstrip(",")


def clean_description(text: str, max_words: int = 12) -> str:
    """The first sentence of a description, lower case, at most ``max_words`` words."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return " ".join(re.sub(r"[^\w' -]+", " ", first).lower().split()[:max_words])


def _label_candidates(rel_path: PurePosixPath, tags: EmbeddedTags, category: UcsCategory | None) -> Iterator[str]:
    yield label_from_filename(rel_path.name)
    yield clean_label(tags.fx_name)
    yield clean_label(tags.title)
    yield clean_description(tags.description, 6)
    yield " ".join(category.words) if category else ""
    yield from (clean_label(part) for part in reversed(rel_path.parent.parts))


def _label(rel_path: PurePosixPath, tags: EmbeddedTags, category: UcsCategory | None) -> str:
    """The file name's label, else the tags' FXName, title or description, else the category
    words, else the nearest folder's name."""
    return next((c for c in _label_candidates(rel_path, tags, category) if c), "sound")


def _kind(rel_path: PurePosixPath, tags: EmbeddedTags, category: UcsCategory | None) -> Kind:
    """A UCS AMBIENCE category; else an ambience-like folder; else effect for any other UCS
    category; else ambience words in the tags; else effect."""
    if category is not None and category.is_ambience:
        return "ambient"
    if folder_kind := kind_from_folders(rel_path.parent.parts):
        return folder_kind
    words = " ".join((tags.category, tags.subcategory, *tags.keywords)).lower()
    return "ambient" if category is None and any(p in words for p in _AMBIENT_PHRASES) else "effect"


def describe(rel_path: PurePosixPath, tags: EmbeddedTags, sidecar: SidecarRow | None) -> Description:
    """Label, kind, category and CLIP text of one sound; the sidecar's label and kind win."""
    category = ucs_category(rel_path.name, tags)
    label = (sidecar.label if sidecar else None) or _label(rel_path, tags, category)
    kind = (sidecar.kind if sidecar else None) or _kind(rel_path, tags, category)
    name: str | None
    if category is not None:
        words, name = category.words, f"{category.category}-{category.subcategory}"
    else:
        words = tuple(w.lower() for w in (tags.category, tags.subcategory) if w)
        name = "-".join(w.upper() for w in (tags.category, tags.subcategory) if w) or None
    text = compose_text(label, words, tags.keywords, tags.description)
    says = one_shot_words(label, rel_path.stem, " ".join(tags.keywords), tags.category, tags.subcategory)
    if category is not None and category.is_one_shot and says is None:
        says = True
    return Description(label, kind, name, words, tags.keywords, text, says, sidecar.one_shot if sidecar else None)
