"""Hostile but realistic input, below the CLI: every bad file gets the documented error (never a
crash, a hang or NaN audio), our own files round-trip, untrusted strings are escaped per format."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import opentimelineio as otio
import pytest
import rpp

from soundify_otio.cli.terminal import MAX_MESSAGE, terminal_safe
from soundify_otio.errors import ChoicesError, MediaError, OutputError, TimelineError, UsageError
from soundify_otio.outputs import Input, Output, check_outputs
from soundify_otio.pipeline.choices import check_choices, read_choices, toml_string
from soundify_otio.preview.render import render_preview
from soundify_otio.timeline.reading import MAX_JSON_DEPTH, read_timeline
from soundify_otio_adapters.reaper_project import read_rpp, write_rpp

from helpers.timelines import RATE, sound_clip, time_range, write_tone


def one_clip_timeline(name: str = "shot", url: str = "video.mp4") -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="t")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(
            name=name, media_reference=otio.schema.ExternalReference(target_url=url), source_range=time_range(0, 2)
        )
    )
    timeline.tracks.append(track)
    return timeline


# ---- timelines ----------------------------------------------------------------------------------


def test_deeply_nested_json_is_refused_before_parsing(tmp_path):
    """100,000 levels crash OTIO's reader (a segfault): the depth is checked on the bytes first,
    brackets inside strings not counted."""
    deep = tmp_path / "deep.otio"
    deep.write_text('{"OTIO_SCHEMA": "Timeline.1", "name": "[[[[", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(TimelineError, match="nested 100001 levels") as caught:
        read_timeline(deep)
    assert caught.value.path == str(deep)
    fine = tmp_path / "fine.otio"
    brackets_in_a_name = one_clip_timeline(name="[" * (MAX_JSON_DEPTH * 2))
    fine.write_text(otio.adapters.write_to_string(brackets_in_a_name))
    assert read_timeline(fine).tracks[0][0].name.startswith("[[[")


@pytest.mark.parametrize("rate", ["0", "NaN", "-24.0", "Infinity"])
def test_a_rate_that_is_not_a_positive_number_is_a_timeline_error(tmp_path, rate):
    text = otio.adapters.write_to_string(one_clip_timeline("Taxi"))
    assert '"rate": 24.0' in text
    path = tmp_path / "rate.otio"
    path.write_text(text.replace('"rate": 24.0', f'"rate": {rate}', 1))
    with pytest.raises(TimelineError, match="frame rate") as caught:
        read_timeline(path)
    assert "'Taxi'" in str(caught.value)
    assert caught.value.exit_code == 3


def test_fcp7_timebase_0_is_a_timeline_error(tmp_path):
    xml = (Path(__file__).parents[1] / "sample_projects" / "street.xml").read_text(encoding="utf-8")
    assert "<timebase>25</timebase>" in xml
    path = tmp_path / "tb0.xml"
    path.write_text(xml.replace("<timebase>25</timebase>", "<timebase>0</timebase>"), encoding="utf-8")
    with pytest.raises(TimelineError):
        read_timeline(path)


def test_a_fifo_as_timeline_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "edit.otio"
    os.mkfifo(fifo)
    with pytest.raises(TimelineError, match="not a regular file"):
        read_timeline(fifo)


# ---- choices ------------------------------------------------------------------------------------


def choices(tmp_path, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / "c.toml"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    "text",
    [
        "scene = " + "[" * 10_000 + "]" * 10_000,
        "x = " + "9" * 5_000,
        "scene = 3",
        "scene = [1, 2]",
        'scene = ["a"]',
        "[[scene]]\nid = 5",
        '[[scene]]\nid = "a"\neffects = "traffic"',
        '[[scene]]\nid = "a"\neffects = [[["x"]]]',
        '[[scene]]\nid = "a"\nambient = 3',
        "\x00\x01 not toml",
        "",
    ],
)
def test_malformed_choices_files_are_choices_errors_before_the_analysis(tmp_path, text):
    path = choices(tmp_path, text)
    with pytest.raises(ChoicesError) as caught:
        read_choices(path)  # no scene ids or labels needed: it fails before the long work
    assert caught.value.exit_code == 7
    assert caught.value.path == str(path)
    assert len(str(caught.value)) < 600
    assert "\n" not in str(caught.value)


def test_choices_with_a_byte_order_mark_are_read(tmp_path):
    path = choices(tmp_path, '[[scene]]\nid = "a"\neffects = ["traffic"]\nambient = ""\n', bom=True)
    picks = check_choices(read_choices(path), ["a"], ["traffic"], ["street"])
    assert picks["a"].effects == ("traffic",)
    assert picks["a"].ambient is None


@pytest.mark.parametrize(
    "label", ['bell "big"', "emoji 🚲 bell", "two\nlines", "tab\there", "back\\slash", "\x1b[31mred"]
)
def test_toml_strings_read_back_as_the_same_text(tmp_path, label):
    assert tomllib.loads(f"x = {toml_string(label)}")["x"] == label
    path = choices(
        tmp_path,
        f"# for {toml_string(label)[1:-1]}\n[[scene]]\nid = {toml_string(label)}\neffects = [{toml_string(label)}]\n",
    )
    picks = check_choices(read_choices(path), [label], [label], [])
    assert picks[label].effects == (label,)


def test_a_fifo_as_choices_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    with pytest.raises(ChoicesError, match="not a regular file"):
        read_choices(fifo)


# ---- the output rule ----------------------------------------------------------------------------


def test_outputs_never_name_an_input_or_each_other(tmp_path):
    edit = tmp_path / "edit.otio"
    edit.write_text("{}")
    link = tmp_path / "alias.otio"
    os.link(edit, link)
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x")
    inputs = [Input(edit, "IN"), Input(media, "the media of clip 'a'")]
    (tmp_path / "sub").mkdir()
    for path in (edit, link, tmp_path / "sub" / ".." / "edit.otio"):
        with pytest.raises(UsageError, match="IN"):
            check_outputs([Output(path, "-o")], inputs, force=True)
    with pytest.raises(UsageError, match="media of clip"):
        check_outputs([Output(media, "--with-video")], inputs, force=True)
    with pytest.raises(UsageError, match="same file"):
        check_outputs([Output(tmp_path / "o.otio", "-o"), Output(tmp_path / "o.otio", "--report")], inputs, False)
    check_outputs(
        [Output(tmp_path / "edit.toml", "-o", (".toml",))], inputs, force=False
    )  # suggest edit.otio -o edit.toml


def test_outputs_exist_only_with_force_and_their_folder_must_exist(tmp_path):
    existing = tmp_path / "out.otio"
    existing.write_text("mine")
    with pytest.raises(OutputError, match="--force"):
        check_outputs([Output(existing, "-o")], [], force=False)
    check_outputs([Output(existing, "-o")], [], force=True)
    (tmp_path / "folder.otio").mkdir()
    with pytest.raises(OutputError, match="not a regular file"):
        check_outputs([Output(tmp_path / "folder.otio", "-o")], [], force=True)
    with pytest.raises(OutputError, match="does not exist"):
        check_outputs([Output(tmp_path / "missing" / "out.otio", "-o")], [], force=False)
    with pytest.raises(OutputError, match=r"\.toml"):
        check_outputs([Output(tmp_path / "c.txt", "-o", (".toml",))], [], force=False)


# ---- render: FIFOs, NaN and huge keys, zero-length transitions -------------------------------------


def sfx_timeline(clips: list[otio.core.Composable]) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="t")
    track = otio.schema.Track(name="SFX 1", kind=otio.schema.TrackKind.Audio)
    track.metadata["soundify"] = {"generated": True, "role": "effects"}
    for item in clips:
        track.append(item)
    timeline.tracks.append(track)
    return timeline


def effect(path: Path, gain_db: list[list[float]], pan: list[list[float]] | None = None) -> otio.schema.Clip:
    clip = sound_clip(path, "bell", "effect", 0.0, 1.0, pan or [[0.0, 0.0]], gain_db, 48000, 1, 2.0, 0.0, 0.0)
    return clip


@pytest.mark.parametrize(
    "gain_db",
    [[[0.0, float("nan")]], [[0.0, 1e308]], [[0.0, float("inf")]], [[float("nan"), 0.0]], [[1.0, 0.0], [0.0, 0.0]]],
)
def test_poisoned_gain_keys_are_refused_and_nothing_is_written(tmp_path, gain_db):
    tone = write_tone(tmp_path / "bell.wav", 2.0, 48000, 1)
    out = tmp_path / "preview.wav"
    with pytest.raises(TimelineError, match="keyframes"):
        render_preview(sfx_timeline([effect(tone, gain_db)]), out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bell.wav"]


def test_a_zero_length_transition_is_a_cut_not_nan(tmp_path):
    tone = write_tone(tmp_path / "bell.wav", 2.0, 48000, 1)
    zero = otio.schema.Transition(
        in_offset=otio.opentime.RationalTime(0, RATE), out_offset=otio.opentime.RationalTime(0, RATE)
    )
    timeline = sfx_timeline([effect(tone, [[0.0, 0.0]]), zero, effect(tone, [[0.0, 0.0]])])
    stats = render_preview(timeline, tmp_path / "p.wav")
    import soundfile

    data, _ = soundfile.read(tmp_path / "p.wav")
    assert np.isfinite(data).all()
    assert np.abs(data).max() > 0.1
    assert np.isfinite(stats.peak_dbfs)


def test_render_refuses_a_fifo_sound_without_blocking(tmp_path):
    fifo = tmp_path / "bell.wav"
    os.mkfifo(fifo)
    with pytest.raises(MediaError, match="not a regular file"):
        render_preview(sfx_timeline([effect(fifo, [[0.0, 0.0]])]), tmp_path / "p.wav")


# ---- strings into other formats -----------------------------------------------------------------


def test_rpp_names_and_paths_cannot_break_lines_or_inject_chunks(tmp_path):
    hostile = 'x"\'`\n  >\n  <TRACK\n    NAME "pwned"\r\n'
    timeline = sfx_timeline([effect(write_tone(tmp_path / "b.wav", 2.0, 48000, 1), [[0.0, 0.0]])])
    timeline.tracks[0].name = hostile
    timeline.tracks[0][0].name = hostile
    timeline.tracks[0][0].media_reference.target_url = str(tmp_path / "a\nb.wav")
    text = write_rpp(timeline)
    project = rpp.loads(text)
    assert len(project.findall("TRACK")) == 1
    back = read_rpp(text)
    assert len(back.tracks) == 1
    assert "pwned" in back.tracks[0].name
    assert "\n" not in back.tracks[0].name
    assert len(list(back.find_clips())) == 1


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("line\nspoof", "line\\nspoof"),
        ("rtl\u202eexe.wav", "rtl\\u202eexe.wav"),
        ("bad\udcffname", "bad\\udcffname"),
        ("café 🚲", "café 🚲"),
    ],
)
def test_terminal_text_is_one_line_without_control_characters(raw, shown):
    assert terminal_safe(raw) == shown
    assert len(terminal_safe("x" * 5_000_000)) < MAX_MESSAGE + 50  # bounded: an exception can carry megabytes


def test_library_search_output_cannot_be_spoofed(capsys, monkeypatch, tmp_path):
    """A newline in a library path is shown escaped, so it cannot fake a result line."""
    import soundify_otio.cli.library as library_cli
    from soundify_otio.cli import main

    entry = SimpleNamespace(kind="effect", label="bell\n 1.000  effect   fake", path=tmp_path / "x\n 9.9 fake.wav")
    fake = SimpleNamespace(search=lambda *a: [(entry, 0.5)])
    monkeypatch.setattr("soundify_otio.library.sounds.open_library", lambda *a, **k: fake)
    monkeypatch.setattr(library_cli, "open_model_for", lambda *a, **k: None)
    with pytest.raises(SystemExit) as exited:
        main(["--quiet", "library", "search", str(tmp_path), "bell"])
    assert exited.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert "\\n" in lines[0]


def test_otioz_is_written_and_otiod_is_not_offered(tmp_path):
    from soundify_otio.exporters import check_format, writable_suffixes, write_output

    sound = write_tone(tmp_path / "a.wav", 0.5, 48000, 1)
    timeline = one_clip_timeline(url=sound.as_uri())
    out = tmp_path / "x.otioz"
    write_output(timeline, out)
    assert [c.name for c in otio.adapters.read_from_file(str(out)).find_clips()] == ["shot"]
    assert ".otioz" in writable_suffixes()
    assert ".otiod" not in writable_suffixes()
    with pytest.raises(OutputError, match="no writer"):
        check_format(tmp_path / "x.otiod")


def test_found_by_fuzzing_invalid_utf8_and_a_missing_active_reference_are_timeline_errors(tmp_path):
    text = otio.adapters.write_to_string(one_clip_timeline("Taxi"))
    assert '"DEFAULT_MEDIA": {' in text
    bad_bytes = tmp_path / "bytes.otio"
    bad_bytes.write_bytes(
        text.replace('"DEFAULT_MEDIA": {', '"\x80EFAULT": {').encode("utf-8").replace(b"\xc2\x80", b"\x80")
    )
    with pytest.raises(TimelineError, match="UTF-8"):
        read_timeline(bad_bytes)
    no_reference = tmp_path / "ref.otio"
    no_reference.write_text(text.replace('"DEFAULT_MEDIA": {', '"OTHER_MEDIA": {'))
    with pytest.raises(TimelineError, match="media reference"):
        read_timeline(no_reference)
