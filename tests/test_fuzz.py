"""Property-based fuzzing (hypothesis) of what reads untrusted files and what writes untrusted strings:
the timeline readers, the choices parser, the library's tag readers, and the exporters' escaping.

Each reader may only succeed or raise its documented error (never crash, hang or raise anything
else); each writer's output must parse back with the strings intact. In CI every property runs a
small, derandomized number of examples; `make fuzz` runs them long and random
(SOUNDIFY_FUZZ_EXAMPLES=N)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from pathlib import Path

import opentimelineio as otio
import pytest
import rpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from soundify_otio.errors import ChoicesError, LibraryError, SoundifyError, TimelineError
from soundify_otio.library.index import probe
from soundify_otio.library.tags import read_metadata_csv, read_riff, read_sidecar, read_tags
from soundify_otio.pipeline.choices import check_choices, read_choices, toml_string
from soundify_otio.timeline.reading import read_timeline
from soundify_otio.timeline.shots import find_shots
from soundify_otio_adapters.reaper_project import read_rpp, write_rpp

from helpers.timelines import time_range

LONG_RUN = int(os.environ.get("SOUNDIFY_FUZZ_EXAMPLES", "0"))
SAMPLES = Path(__file__).resolve().parents[1] / "sample_projects"


def fuzz(examples: int):
    """A few derandomized examples in CI; `make fuzz` asks for many random ones."""
    return settings(
        max_examples=LONG_RUN or examples,
        derandomize=not LONG_RUN,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def scratch(suffix: str, data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="soundify-fuzz-"))
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    return path


def mutated(original: bytes) -> st.SearchStrategy[bytes]:
    """A file with a few bytes replaced, inserted or cut: close enough to a real one to get deep."""

    @st.composite
    def build(draw) -> bytes:
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, max(0, len(data) - 1)))
            action = draw(st.sampled_from(["replace", "insert", "cut"]))
            chunk = draw(st.binary(min_size=1, max_size=16))
            if action == "replace":
                data[at : at + len(chunk)] = chunk
            elif action == "insert":
                data[at:at] = chunk
            else:
                del data[at : at + len(chunk)]
        return bytes(data)

    return build()


# ---- timeline readers ---------------------------------------------------------------------------


def read_or_timeline_error(path: Path) -> None:
    """Reading and laying out the shots either works or is a TimelineError; nothing else."""
    with contextlib.suppress(TimelineError):
        find_shots(read_timeline(path), path.parent)


@pytest.mark.parametrize("name", ["street.otio", "street.xml"])
@fuzz(25)
@given(data=st.data())
def test_mutated_sample_timelines_read_or_fail_cleanly(name, data):
    original = (SAMPLES / name).read_bytes()
    read_or_timeline_error(scratch(Path(name).suffix, data.draw(mutated(original))))


_JSON_ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_subnormal=False),
    st.text(max_size=20),
)
_JSON = st.recursive(
    _JSON_ATOMS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)


@fuzz(40)
@given(schema=st.sampled_from(["Timeline.1", "Stack.1", "Track.1", "Clip.2", "RationalTime.1", "Nope.9"]), body=_JSON)
def test_json_with_otio_schema_names_reads_or_fails_cleanly(schema, body):
    import json

    document = {"OTIO_SCHEMA": schema, **(body if isinstance(body, dict) else {"metadata": body})}
    read_or_timeline_error(scratch(".otio", json.dumps(document).encode()))


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".fcpxml", ".rpp", ".edl"])
@fuzz(20)
@given(raw=st.binary(max_size=400))
def test_random_bytes_as_a_timeline_fail_cleanly(suffix, raw):
    read_or_timeline_error(scratch(suffix, raw))


# ---- choices ------------------------------------------------------------------------------------


def no_surrogates(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@fuzz(200)
@given(text=st.text().filter(no_surrogates))
def test_toml_string_reads_back_as_the_same_text(text):
    assert tomllib.loads(f"x = {toml_string(text)}")["x"] == text


_TOML_PIECES = st.sampled_from(
    [
        "[[scene]]\n",
        'id = "a"\n',
        "effects = [",
        '"traffic"',
        "]\n",
        "ambient = ",
        '""',
        "\n",
        "[",
        "{",
        "=",
        ",",
        "1e999",
    ]
)


@fuzz(80)
@given(pieces=st.lists(_TOML_PIECES | st.text(max_size=8), max_size=30), bom=st.booleans())
def test_any_choices_text_gives_picks_or_a_choices_error(pieces, bom):
    path = scratch(".toml", (b"\xef\xbb\xbf" if bom else b"") + "".join(pieces).encode("utf-8", "surrogatepass"))
    try:
        picks = check_choices(read_choices(path), ["a"], ["traffic"], ["street"])
    except ChoicesError as exc:
        assert exc.exit_code == 7
        assert "\n" not in str(exc)
        assert len(str(exc)) < 700
    else:
        assert set(picks) <= {"a"}


@fuzz(60)
@given(ids=st.lists(st.text(min_size=1).filter(no_surrogates), min_size=1, max_size=4, unique=True))
def test_ids_and_labels_written_by_suggest_round_trip(ids):
    lines = []
    for scene_id in ids:
        lines += ["[[scene]]", f"id = {toml_string(scene_id)}", f"effects = [{toml_string(scene_id)}]", 'ambient = ""']
    picks = check_choices(read_choices(scratch(".toml", "\n".join(lines).encode())), ids, ids, [])
    assert {k: v.effects for k, v in picks.items()} == {i: (i,) for i in ids}


# ---- the library's tag readers --------------------------------------------------------------------

_WAV_HEAD = (
    b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\xbb\x00\x00\x00\x77\x01\x00\x02\x00\x10\x00"
)
_HEADS = {
    ".wav": _WAV_HEAD + b"data\x00\x00\x00\x00",
    ".flac": b"fLaC\x00\x00\x00\x22" + bytes(34) + b"\x84\x00\x00\x10",
    ".ogg": b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x01vorbis",
    ".aiff": b"FORM\x00\x00\x00\x2eAIFFCOMM\x00\x00\x00\x12",
}


@pytest.mark.parametrize("suffix", sorted(_HEADS))
@fuzz(40)
@given(tail=st.binary(max_size=600), chunks=st.lists(st.sampled_from([b"bext", b"iXML", b"LIST", b"data"]), max_size=3))
def test_tag_readers_and_probe_never_fail_on_a_bad_sound(suffix, tail, chunks):
    body = _HEADS[suffix] + b"".join(c + len(tail).to_bytes(4, "little") for c in chunks) + tail
    path = scratch(suffix, body)
    facts = probe(str(path.parent), path.name)  # never raises: a bad file is skipped with a reason
    assert facts.rel == path.name
    assert facts.usable or facts.reason
    with contextlib.suppress(ValueError, IndexError, UnicodeError):  # what the index treats as "no tags"
        read_tags(path, read_riff(path))


@fuzz(60)
@given(text=st.text(max_size=300))
def test_sidecar_and_metadata_csv_readers_fail_only_cleanly(text):
    path = scratch(".csv", text.encode("utf-8", "surrogatepass"))
    with contextlib.suppress(LibraryError):
        read_sidecar(path)
    assert read_metadata_csv(path) is None or isinstance(read_metadata_csv(path), dict)


# ---- the exporters' string escaping ---------------------------------------------------------------

_NAMES = st.text(max_size=40).filter(lambda t: no_surrogates(t) and "\x00" not in t)
"""Names OTIO can hold: its C++ strings end at a NUL."""


def named_timeline(track_name: str, clip_name: str, media: str) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name=clip_name, global_start_time=otio.opentime.RationalTime(0, 24))
    track = otio.schema.Track(name=track_name, kind=otio.schema.TrackKind.Audio)
    track.append(
        otio.schema.Clip(
            name=clip_name,
            media_reference=otio.schema.ExternalReference(
                target_url=Path("/media", media or "x").as_uri(), available_range=time_range(0, 10)
            ),
            source_range=time_range(0, 2),
        )
    )
    timeline.tracks.append(track)
    return timeline


def _without_controls(text: str) -> str:
    return "".join(" " if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" else c for c in text)


@fuzz(120)
@given(track_name=_NAMES, clip_name=_NAMES, media=_NAMES.filter(lambda m: "/" not in m and "\x00" not in m))
def test_rpp_strings_stay_inside_their_token(track_name, clip_name, media):
    text = write_rpp(named_timeline(track_name, clip_name, media))
    project = rpp.loads(text)
    assert len(project.findall("TRACK")) == 1
    assert len(project.findall(".//ITEM")) == 1
    back = read_rpp(text)
    clip = next(iter(back.find_clips()))
    shown = _without_controls(clip_name)
    expected = shown if not all(q in shown for q in "\"'`") else shown.replace('"', "'")
    assert clip.name.strip() == expected.strip()  # the rpp parser reads a blank-only name as ""


@pytest.mark.parametrize("suffix", [".xml", ".fcpxml"])
@fuzz(25)
@given(clip_name=_NAMES, media=_NAMES.filter(lambda m: "/" not in m and "\x00" not in m))
def test_xml_exports_escape_names_and_paths(tmp_path, suffix, clip_name, media):
    from soundify_otio.exporters import write_output

    out = tmp_path / f"out{suffix}"
    out.unlink(missing_ok=True)
    try:
        write_output(named_timeline("A1", clip_name, media), out)
    except SoundifyError:
        assert not out.exists()  # a name XML cannot hold (a control character) is refused, never half-written
        return
    root = etree.parse(str(out), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    assert root.tag in ("xmeml", "fcpxml")
