"""The editor's choices file (TOML): per scene the ranked candidates and the picks to edit."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from soundify_otio.config import SETTINGS
from soundify_otio.errors import ChoicesError
from soundify_otio.pipeline.analysis import AnalysedScene, Analysis
from soundify_otio.pipeline.soundify import Choice, Soundify
from soundify_otio.timeline.timecode import timecode

HEADER = """# soundify-otio choices for {timeline}
# Per scene: edit `effects` (any number, [] for none) and `ambient` ("" for none), then run
#   soundify-otio annotate {timeline} -o OUT --library LIBRARY --choices {name}
# The candidate lists are the model's ranking (score 0..1); any label of the library may be used.
# Where a scene has dialogue, our sounds dip under it: `duck = false` switches that off for the scene,
# `duck_ambient_db` / `duck_effect_db` (-60..0) change its depths.
"""


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """`text` as a TOML basic string that reads back as the same text: quotes, backslashes and
    control characters escaped; every other character, emoji included, written as itself. (JSON's
    escapes are not TOML's: JSON writes an emoji as a surrogate pair, which TOML refuses.) A lone
    surrogate (from an undecodable file name) cannot be written in TOML and becomes U+FFFD."""
    out = []
    for char in text:
        code = ord(char)
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _comment(text: str) -> str:
    """Text safe inside a TOML comment (no line break or control character can end it)."""
    return toml_string(text)[1:-1]


def _pairs(suggestions) -> str:
    return "[" + ", ".join(f"[{toml_string(s.label)}, {s.score:.4f}]" for s in suggestions) + "]"


def render_choices(
    soundify: Soundify,
    analysis: Analysis,
    timeline_name: str,
    out_name: str,
    origin: float,
    rate: float,
    choices: Mapping[str, Choice] | None = None,
) -> str:
    """The choices file text: the picks (the defaults where `choices` has none), candidates beside them."""
    lines = [
        HEADER.format(timeline=_comment(timeline_name), name=_comment(out_name)),
        f"timeline = {toml_string(timeline_name)}",
        f"model = {toml_string(soundify.model.model_id)}",
        "",
    ]
    for analysed in analysis.scenes:
        scene = analysed.scene
        choice = (choices or {}).get(scene.id) or soundify.default_choice(analysed)
        ambients = soundify.rerank_ambients(analysed, choice.effects)
        lines += [
            "[[scene]]",
            f"id = {toml_string(scene.id)}",
            f'timecode = "{timecode(origin + scene.start, rate)} - {timecode(origin + scene.end, rate)}"',
            f"effects = [{', '.join(toml_string(e) for e in choice.effects)}]",
            f"ambient = {toml_string(choice.ambient or '')}",
            *_duck_lines(soundify, analysed, choice),
            f"effect_candidates = {_pairs(analysed.effects)}",
            f"ambient_candidates = {_pairs(ambients)}",
            *_one_shot_note(soundify, [*choice.effects, *(s.label for s in analysed.effects)]),
            *_loop_table(choice.loops),
            "",
        ]
    return "\n".join(lines)


def _duck_lines(soundify: Soundify, analysed: AnalysedScene, choice: Choice) -> list[str]:
    """The scene's ducking, editable, where it has speech (none: no line)."""
    if not analysed.speech or soundify.config.duck == "off":
        return []
    spoken = ", ".join(
        f"{r.start - analysed.scene.start:.2f}-{r.end - analysed.scene.start:.2f}" for r in analysed.speech
    )
    lines = [f"# speech (s from the scene's start): {spoken}", f"duck = {'true' if choice.duck else 'false'}"]
    for name, value in (("duck_ambient_db", choice.duck_ambient_db), ("duck_effect_db", choice.duck_effect_db)):
        if value is not None:
            lines.append(f"{name} = {value:g}")
    return lines


def _one_shot_note(soundify: Soundify, labels: list[str]) -> list[str]:
    """A comment naming the labels fine sync places as one clip per visual impact (none: no line)."""
    if soundify.config.fine_sync != "auto":
        return []
    shots = [label for label in dict.fromkeys(labels) if soundify.library.one_shots(label, soundify.config.seed)]
    if not shots:
        return []
    return [
        f"# one-shots, one clip per impact: [{', '.join(toml_string(x) for x in shots)}]",
        "# (none found: placed once; to loop one over its interval instead: [scene.loop] with its label = true)",
    ]


def _loop_table(loops: frozenset[str]) -> list[str]:
    """The scene's `[scene.loop]` table: one-shots to loop where no impact is found (none: no lines)."""
    return ["[scene.loop]", *(f"{toml_string(label)} = true" for label in sorted(loops))] if loops else []


def _line_of(text: str, pattern: str, start_line: int = 1) -> int:
    """1-based number of the first line at or after start_line that matches the regex."""
    for number, line in enumerate(text.splitlines()[start_line - 1 :], start=start_line):
        if re.search(pattern, line):
            return number
    return start_line


@dataclass(frozen=True)
class ChoicesFile:
    """An edited choices file, read and parsed, not yet checked against a run."""

    path: Path
    text: str
    data: dict


def read_choices(path: Path) -> ChoicesFile:
    """Read, parse and shape-check a choices file (ChoicesError for an unreadable file, invalid TOML or
    a malformed [[scene]] table, naming the line); which scenes and labels exist is checked later."""
    if not path.is_file():  # missing, a folder, or a FIFO that would block the read
        raise ChoicesError("not found" if not path.exists() else "is not a regular file", path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is not content
    except OSError as exc:
        raise ChoicesError(f"cannot read it ({exc.strerror})", path) from exc
    except UnicodeDecodeError as exc:
        raise ChoicesError(f"is not UTF-8 text (byte {exc.start})", path) from exc
    try:
        choices = ChoicesFile(path, text, tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ChoicesError(f"is not valid TOML: {str(exc)[:200]}", path) from exc
    except RecursionError as exc:
        raise ChoicesError("is not a choices file: its arrays or tables nest too deep", path) from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ChoicesError(f"is not a choices file: {str(exc)[:120]}", path) from exc
    for _ in _scene_tables(choices):  # the shapes now, so a malformed file fails before the long work
        pass
    return choices


def _scene_tables(choices: ChoicesFile) -> Iterator[tuple[dict, Callable[..., ChoicesError]]]:
    """Each [[scene]] table, checked for shape (a string id, a list of string effects, a string
    ambient), with a function that makes a ChoicesError naming the table's line."""
    path, text = choices.path, choices.text
    scenes = choices.data.get("scene")
    if not isinstance(scenes, list) or not scenes:
        raise ChoicesError("has no [[scene]] tables", path)
    headers = [i for i, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[scene]]"]
    for index, table in enumerate(scenes):
        at = headers[index] if index < len(headers) else 1

        def fail(message: str, pattern: str | None = None, at: int = at) -> ChoicesError:
            line = _line_of(text, pattern, at) if pattern else at
            return ChoicesError(f"line {line}: {_shown(message)}", path)

        if not isinstance(table, dict):
            raise fail("each `scene` entry must be a [[scene]] table")
        if not isinstance(table.get("id"), str):
            raise fail("the scene has no string `id`")
        picked = table.get("effects", [])
        if not isinstance(picked, list) or not all(isinstance(e, str) for e in picked):
            raise fail('`effects` must be a list of labels, e.g. ["traffic"]', r"^\s*effects\s*=")
        if not isinstance(table.get("ambient", ""), str):
            raise fail('`ambient` must be a label or ""', r"^\s*ambient\s*=")
        if not isinstance(table.get("duck", True), bool):
            raise fail("`duck` must be true or false", r"^\s*duck\s*=")
        for name in DUCK_DEPTHS:
            problem = duck_depth_problem(name, table[name]) if name in table else None
            if problem is not None:
                raise fail(problem, rf"^\s*{name}\s*=")
        loops = table.get("loop", {})
        if not isinstance(loops, dict) or not all(isinstance(on, bool) for on in loops.values()):
            raise fail('`[scene.loop]` must set labels to true or false, e.g. "knock" = true', r"^\s*\[scene\.loop\]")
        yield table, fail


def check_choices(
    choices: ChoicesFile, scene_ids: Sequence[str], effects: Sequence[str], ambients: Sequence[str]
) -> dict[str, Choice]:
    """The picks per scene id; ChoicesError naming the line for anything malformed or unknown."""
    known_scenes, known_effects, known_ambients = set(scene_ids), set(effects), set(ambients)
    result: dict[str, Choice] = {}
    for table, fail in _scene_tables(choices):
        scene_id, picked, ambient = table["id"], table.get("effects", []), table.get("ambient", "")
        if scene_id not in known_scenes:
            raise fail(
                f"scene '{scene_id}' is not in this timeline's analysis "
                f"(known: {', '.join(sorted(known_scenes)[:6])}{' ...' if len(known_scenes) > 6 else ''})",
                r"^\s*id\s*=",
            )
        if scene_id in result:
            raise fail(f"scene '{scene_id}' is listed twice", r"^\s*id\s*=")
        for effect in picked:
            if effect not in known_effects:
                raise fail(f"effect '{effect}' is not a label of the library's effects", re.escape(toml_string(effect)))
        if ambient and ambient not in known_ambients:
            raise fail(f"ambient '{ambient}' is not a label of the library's ambiences", r"^\s*ambient\s*=")
        loops = table.get("loop", {})
        for label in loops:
            if label not in known_effects:
                raise fail(f"loop: '{label}' is not a label of the library's effects", r"^\s*\[scene\.loop\]")
        result[scene_id] = Choice(
            tuple(dict.fromkeys(picked)),
            ambient or None,
            frozenset(label for label, on in loops.items() if on),
            duck=table.get("duck", True),
            duck_ambient_db=_decibels(table.get("duck_ambient_db")),
            duck_effect_db=_decibels(table.get("duck_effect_db")),
        )
    return result


def _decibels(value: float | int | None) -> float | None:
    return None if value is None else float(value)


DUCK_DEPTHS = ("duck_ambient_db", "duck_effect_db")
"""A scene's ducking depths, as the choices file, Choice and the review page name them."""


def duck_depth_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be the scene's `name` (one of DUCK_DEPTHS), a number of dB in its setting's
    range; None when it can. The choices file and the review page check a depth here."""
    low, high = SETTINGS[name].low, SETTINGS[name].high
    assert low is not None and high is not None  # the depths' settings have a range
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        return f"`{name}` must be a number of dB in {low:g}..{high:g}"
    return None


def _shown(message: str, limit: int = 300) -> str:
    """A message cut to `limit` characters (a pasted megabyte of label stays out of the terminal)."""
    return message if len(message) <= limit else message[:limit] + "..."


def known_labels(soundify: Soundify) -> Mapping[str, list[str]]:
    """The library's labels by kind, as the choices file may name them."""
    return {kind: soundify.labels(kind)[0] for kind in ("effect", "ambient")}
