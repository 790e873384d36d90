"""The sound library: labels, kinds, tags, bad files, the index, embeddings, choice, loudness, search."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile

from soundify_otio.errors import LibraryError
from soundify_otio.library import index as library_index
from soundify_otio.library import ucs
from soundify_otio.library.sounds import loudness_offset_db, open_library
from soundify_otio.library.tags import label_from_filename


def tone(
    path: Path, seconds: float = 1.0, amplitude: float = 0.25, freq: float = 440.0, rate: int = 22050, channels: int = 1
) -> Path:
    """A sine tone (a stand-in sound with a known level)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    mono = amplitude * np.sin(2 * np.pi * freq * t)
    soundfile.write(path, np.repeat(mono[:, None], channels, axis=1), rate)
    return path


def add_wav_chunks(path: Path, bext_description: str = "", ixml: str = "") -> None:
    """Append a BWF bext chunk and an iXML chunk to a WAV file, fixing the RIFF size."""
    extra = b""
    if bext_description:
        bext = bext_description.encode()[:256].ljust(602, b"\0")
        extra += b"bext" + struct.pack("<I", len(bext)) + bext
    if ixml:
        data = ixml.encode()
        extra += b"iXML" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
    body = path.read_bytes()[8:] + extra
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def add_flac_comments(path: Path, comments: dict[str, str]) -> None:
    """Replace a FLAC file's Vorbis comment block with ``comments``."""
    raw, pos, blocks = path.read_bytes(), 4, []
    while True:
        header, n = raw[pos], int.from_bytes(raw[pos + 1 : pos + 4], "big")
        blocks.append((header & 0x7F, raw[pos + 4 : pos + 4 + n]))
        pos += 4 + n
        if header & 0x80:
            break
    entries = [f"{k}={v}".encode() for k, v in comments.items()]
    body = (
        struct.pack("<I", 4)
        + b"test"
        + struct.pack("<I", len(entries))
        + b"".join(struct.pack("<I", len(e)) + e for e in entries)
    )
    blocks = [blocks[0], (4, body)] + [b for b in blocks[1:] if b[0] != 4]
    out = b"fLaC" + b"".join(
        bytes([kind | (0x80 if i == len(blocks) - 1 else 0)]) + len(data).to_bytes(3, "big") + data
        for i, (kind, data) in enumerate(blocks)
    )
    path.write_bytes(out + raw[pos:])


class FakeEncoder:
    """Hashed bag-of-words text vectors; counts every text it encodes."""

    def __init__(self, model_id: str = "fake/1") -> None:
        self.model_id = model_id
        self.encoded: list[str] = []

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        rows = np.zeros((len(texts), 64), np.float32)
        for i, text in enumerate(texts):
            for word in text.replace(",", " ").split():
                rows[i, zlib.crc32(word.encode()) % 64] += 1.0
            rows[i] /= max(np.linalg.norm(rows[i]), 1e-9)
        return rows


def by_name(library, name: str):
    return next(e for e in library.entries if e.path.name == name)


@pytest.mark.parametrize(
    "name, label",
    [
        ("Bicycle Bell 02.flac", "bicycle bell"),
        ("traffic_01.wav", "traffic"),
        ("DOORWood_Front Door Slam_ABC_XYZ.wav", "front door slam"),
        ("AMBUrbn_City Street Day_SNDFY_01.wav", "city street day"),
        ("dog-bark_take3.wav", "dog bark"),
        ("001 - Glass Break v2.aif", "glass break"),
        ("BicycleBell02.wav", "bicycle bell"),
        ("Plane Take Off 02.wav", "plane take off"),
        ("car_pass_by_stereo_48k.wav", "car pass by"),
        ("Rain (2).ogg", "rain"),
        ("0001.wav", ""),
    ],
)
def test_label_from_filename(name: str, label: str) -> None:
    assert label_from_filename(name) == label


def test_ucs_names_folders_and_sidecar_set_label_category_and_kind(tmp_path: Path) -> None:
    tone(tmp_path / "DOORWood_Front Door Slam_ABC_XYZ.wav")
    tone(tmp_path / "AMBUrbn_City Street Day_SNDFY_01.wav")
    tone(tmp_path / "Atmos" / "rain on roof.wav")
    tone(tmp_path / "room tone" / "office hum.flac")
    tone(tmp_path / "sfx" / "wind_03.wav")
    tone(tmp_path / "sfx" / "Bicycle Bell 02.flac")
    (tmp_path / "sfx" / "soundify.csv").write_text("file,label,kind\nwind_03.wav,wind gusts,ambient\n")
    lib = open_library(tmp_path)

    door = by_name(lib, "DOORWood_Front Door Slam_ABC_XYZ.wav")
    assert (door.label, door.kind, door.category) == ("front door slam", "effect", "DOORS-WOOD")
    assert "doors" in door.text
    assert "wood" in door.text
    street = by_name(lib, "AMBUrbn_City Street Day_SNDFY_01.wav")
    assert (street.label, street.kind) == ("city street day", "ambient")
    assert by_name(lib, "rain on roof.wav").kind == "ambient"
    assert by_name(lib, "office hum.flac").kind == "ambient"
    wind = by_name(lib, "wind_03.wav")
    assert (wind.label, wind.kind) == ("wind gusts", "ambient")
    assert by_name(lib, "Bicycle Bell 02.flac").kind == "effect"
    assert lib.labels("ambient") == ["city street day", "office hum", "rain on roof", "wind gusts"]
    assert lib.labels("effect") == ["bicycle bell", "front door slam"]


def test_bad_sidecar_kind_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav")
    (tmp_path / "soundify.csv").write_text("file,label,kind\na.wav,thing,loud\n")
    with pytest.raises(LibraryError, match=r"soundify\.csv: line 2: kind 'loud'"):
        open_library(tmp_path)


def test_embedded_tags_and_metadata_csv_feed_the_clip_text(tmp_path: Path) -> None:
    wav = tone(tmp_path / "0001.wav")
    add_wav_chunks(
        wav,
        bext_description="Heavy wooden crate dropped on concrete.",
        ixml="<BWFXML><USER><CATID>WOODImpt</CATID><FXNAME>Crate Drop</FXNAME>"
        "<KEYWORDS>crate, thud, warehouse</KEYWORDS></USER></BWFXML>",
    )
    flac = tone(tmp_path / "take_7.flac")
    add_flac_comments(
        flac,
        {
            "TITLE": "Kettle Whistle",
            "DESCRIPTION": "Steam kettle boiling",
            "KEYWORDS": "kitchen; steam",
            "CATID": "FOODCook",
        },
    )
    with soundfile.SoundFile(tmp_path / "clip_3.ogg", "w", 22050, 1, format="OGG") as ogg:
        ogg.title, ogg.comment = "Owl Hoot", "Barn owl calling at night. Recorded in Devon."
        ogg.write(0.2 * np.sin(np.arange(22050) / 5.0))
    tone(tmp_path / "pack" / "Engine 04.wav")
    (tmp_path / "pack" / "export.csv").write_text(
        "Filename,Description,Keywords,Category,SubCategory\n"
        "Engine 04.wav,Old tractor idling in a barn,tractor;diesel,VEHICLES,FARM\n"
    )
    lib = open_library(tmp_path)

    crate = by_name(lib, "0001.wav")
    assert (crate.label, crate.category, crate.kind) == ("crate drop", "WOOD-IMPACT", "effect")
    for word in ("wood", "impact", "thud", "warehouse", "concrete"):
        assert word in crate.text
    kettle = by_name(lib, "take_7.flac")
    assert kettle.label == "kettle whistle"
    assert kettle.category == "FOOD & DRINK-COOKING"
    assert "kitchen" in kettle.text
    assert "boiling" in kettle.text
    owl = by_name(lib, "clip_3.ogg")
    assert owl.label == "owl hoot"
    assert "barn" in owl.text
    assert "devon" not in owl.text
    engine = by_name(lib, "Engine 04.wav")
    assert engine.label == "engine"
    assert engine.category == "VEHICLES-FARM"
    assert "tractor" in engine.text
    assert "diesel" in engine.tags


def test_bad_files_are_skipped_each_with_its_reason(tmp_path: Path) -> None:
    good = tone(tmp_path / "good.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    raw = good.read_bytes()
    (tmp_path / "truncated.wav").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "notes.wav").write_bytes(b"not audio at all " * 40)
    flac = tone(tmp_path / "real.flac")
    (tmp_path / "flac inside.wav").write_bytes(flac.read_bytes())
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 8000, 1, 8)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 64) + bytes(64)
    (tmp_path / "codec.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    (tmp_path / "song.mp3").write_bytes(b"ID3")
    with open(os.fsencode(tmp_path) + b"/caf\xe9.wav", "wb") as f:
        f.write(raw)
    lib = open_library(tmp_path)

    assert sorted(e.path.name for e in lib.entries) == ["good.wav", "real.flac"]
    reasons = {p.name: r for p, r in lib.skipped}
    assert reasons["empty.wav"].startswith("empty file")
    assert reasons["truncated.wav"].startswith("truncated")
    assert reasons["notes.wav"].startswith("unreadable")
    assert reasons["flac inside.wav"].startswith("wrong extension: the content is FLAC")
    assert reasons["codec.wav"].startswith("unsupported codec: WAV format tag 0x1234")
    assert reasons["song.mp3"].startswith("unsupported format")
    assert reasons[os.fsdecode(b"caf\xe9.wav")].startswith("file name is not valid UTF-8")
    assert lib.stats()["skipped_reasons"]["truncated"] == 1


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    tone(tmp_path / "ok.wav")
    locked = tone(tmp_path / "locked.wav")
    locked.chmod(0)
    try:
        lib = open_library(tmp_path)
    finally:
        locked.chmod(0o644)
    assert dict((p.name, r) for p, r in lib.skipped)["locked.wav"].startswith("permission denied")


def test_empty_or_missing_library_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="does not exist"):
        open_library(tmp_path / "nowhere")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_bytes(b"text, not sound")
    with pytest.raises(LibraryError) as caught:
        open_library(tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "no usable sound" in message
    assert "2 file(s) skipped" in message
    assert "1 empty file" in message
    assert "1 unreadable" in message
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(LibraryError, match="no WAV, FLAC, OGG or AIFF file found"):
        open_library(bare)


def test_reindex_reads_only_new_or_changed_files(tmp_path: Path) -> None:
    for i in range(5):
        tone(tmp_path / f"sound {i}.wav", freq=300 + 50 * i)
    reads: list[tuple[int, int | None]] = []

    def hook(stage: str, done: int, total: int | None) -> None:
        if stage == "read":
            reads.append((done, total))

    assert open_library(tmp_path).stats()["indexed"] == {"read": 5, "reused": 0, "removed": 0}
    assert open_library(tmp_path, progress=hook).stats()["indexed"]["read"] == 0
    assert reads == []
    tone(tmp_path / "sound 2.wav", seconds=2.0)
    lib = open_library(tmp_path, progress=hook)
    assert lib.stats()["indexed"] == {"read": 1, "reused": 4, "removed": 0}
    assert reads[-1] == (1, 1)
    assert by_name(lib, "sound 2.wav").duration == pytest.approx(2.0)
    os.utime(tmp_path / "sound 3.wav", ns=(1, 10**18))  # touched, content unchanged
    (tmp_path / "sound 4.wav").rename(tmp_path / "moved 4.wav")
    (tmp_path / "sound 0.wav").unlink()
    stats = open_library(tmp_path).stats()
    assert stats["indexed"] == {"read": 0, "reused": 4, "removed": 2}
    assert stats["files"] == 4


def test_corrupt_index_is_rebuilt_and_explicit_index_path_is_used(tmp_path: Path) -> None:
    tone(tmp_path / "lib" / "a.wav")
    (tmp_path / "lib" / library_index.INDEX_NAME).write_bytes(b"this is not sqlite" * 100)
    assert open_library(tmp_path / "lib").stats()["files"] == 1
    elsewhere = tmp_path / "cache" / "idx.sqlite"
    lib = open_library(tmp_path / "lib", index_path=elsewhere)
    assert lib.stats()["index"] == str(elsewhere)
    assert elsewhere.exists()


@pytest.mark.slow
def test_process_pool_probes_give_the_same_facts(tmp_path: Path, monkeypatch) -> None:
    for i in range(6):
        tone(tmp_path / f"ambience/wind {i}.wav", seconds=0.5 + i * 0.1)
    (tmp_path / "broken.wav").write_bytes(b"RIFF")
    monkeypatch.setattr(library_index, "_POOL_THRESHOLD", 2)
    lib = open_library(tmp_path)
    assert [round(e.duration, 2) for e in lib.entries] == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert [p.name for p, _ in lib.skipped] == ["broken.wav"]


def test_embeddings_are_computed_once_per_distinct_text(tmp_path: Path) -> None:
    for name in ("traffic_01.wav", "traffic_02.wav", "Dog Bark 1.wav", "Dog Bark 2.wav", "horn.wav"):
        tone(tmp_path / name)
    tone(tmp_path / "amb" / "city street.wav")
    progress: list[tuple[str, int, int | None]] = []
    encoder = FakeEncoder()
    lib = open_library(tmp_path, progress=lambda *a: progress.append(a))
    labels, vectors = lib.label_embeddings(encoder, "effect")
    assert labels == ["dog bark", "horn", "traffic"]
    assert vectors.shape == (3, 64)
    assert vectors.dtype == np.float32
    assert sorted(encoder.encoded) == ["dog bark", "horn", "traffic"]
    assert ("embed", 3, 3) in progress
    lib.label_embeddings(encoder, "effect")
    open_library(tmp_path).label_embeddings(encoder, "effect")
    assert len(encoder.encoded) == 3
    _, again = open_library(tmp_path).label_embeddings(encoder, "effect")
    np.testing.assert_array_equal(again, vectors)
    other = FakeEncoder("fake/2")
    open_library(tmp_path).label_embeddings(other, "ambient")
    assert other.encoded == ["city street"]


def test_choice_varies_across_occasions_and_is_deterministic_per_seed(tmp_path: Path) -> None:
    for i in range(4):
        tone(tmp_path / f"Door Slam {i:02d}.wav", seconds=1.0 + 0.1 * i, freq=200 + 100 * i)
    tone(tmp_path / "Door Slam 99.wav", seconds=0.05)  # far too short for a 1 s interval
    lib = open_library(tmp_path)

    def picks(seed: int) -> list[str]:
        return [lib.choose("door slam", "effect", 1.0, seed, k).path.name for k in range(8)]

    first = picks(7)
    assert first == picks(7)
    assert len(set(first[:4])) == 4
    assert "Door Slam 99.wav" not in first
    assert any(picks(seed) != first for seed in range(1, 6))
    with pytest.raises(LibraryError, match="no effect sound is labelled 'window'"):
        lib.choose("window", "effect", 1.0, 0, 0)


def test_ambient_choice_prefers_a_bed_at_least_as_long_as_the_scene(tmp_path: Path) -> None:
    tone(tmp_path / "amb" / "forest 1.wav", seconds=0.5)
    tone(tmp_path / "amb" / "forest 2.wav", seconds=6.0)
    lib = open_library(tmp_path)
    assert {lib.choose("forest", "ambient", 5.0, s, k).path.name for s in range(3) for k in range(3)} == {
        "forest 2.wav"
    }


def test_loudness_offset_lands_loud_and_quiet_copies_at_the_same_level(tmp_path: Path) -> None:
    tone(tmp_path / "loud" / "engine.wav", amplitude=0.4)
    tone(tmp_path / "quiet" / "engine.wav", amplitude=0.4 / 10 ** (6 / 20))
    lib = open_library(tmp_path)
    loud, quiet = sorted(lib.entries, key=lambda e: e.path.parent.name)
    assert loud.loudness_lufs - quiet.loudness_lufs == pytest.approx(6.0, abs=0.5)
    difference = loudness_offset_db(quiet) - loudness_offset_db(loud)
    assert difference == pytest.approx(6.0, abs=0.5)
    assert loud.loudness_lufs + loudness_offset_db(loud, -20.0) == pytest.approx(-20.0, abs=0.01)


def test_search_ranks_by_text_similarity_and_stats_count(tmp_path: Path) -> None:
    tone(tmp_path / "Dog Bark Small.wav")
    tone(tmp_path / "Bicycle Bell.flac")
    tone(tmp_path / "AMBUrbn_City Street Night_X_Y.wav")
    lib = open_library(tmp_path)
    encoder = FakeEncoder()
    ranked = lib.search(encoder, "a small dog", limit=2)
    assert next(e.path.name for e, _ in ranked) == "Dog Bark Small.wav"
    assert len(ranked) == 2
    assert ranked[0][1] >= ranked[1][1]
    lib.search(encoder, "bell", limit=3)
    assert encoder.encoded.count("bicycle bell") == 1
    stats = lib.stats()
    assert stats["files"] == 3
    assert stats["kinds"] == {"ambient": 1, "effect": 2}
    assert stats["formats"] == {"WAV": 2, "FLAC": 1}
    assert stats["categories"]["AMBIENCE"] == 1
    assert stats["skipped"] == 0


def test_ucs_table_maps_catids_to_category_words() -> None:
    assert len({c.category for c in ucs.categories()}) == 82
    assert ucs.lookup("VEHCar").words == ("vehicles", "car")
    assert ucs.lookup("amburbn").is_ambience
    assert ucs.lookup("DOORMisc").words == ("doors",)
    parsed = ucs.parse_ucs_name("AMBUrbn-Madrid_City Street Day_SNDFY_01")
    assert (parsed.category.cat_id, parsed.user_category, parsed.fx_name, parsed.creator_id) == (
        "AMBUrbn",
        "Madrid",
        "City Street Day",
        "SNDFY",
    )
    assert ucs.parse_ucs_name("TRAFFIC_01") is None
