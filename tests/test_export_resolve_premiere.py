"""Resolve and Premiere native OTIO: write the fixture, read the .otio back as plain JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import opentimelineio as otio

from soundify_otio.exporters.premiere import add_premiere_effects
from soundify_otio.exporters.resolve import add_resolve_effects
from soundify_otio.timeline.keyframes import value_at

from helpers.timelines import generated_clips

RATE = 24.0


def _write_json(timeline: otio.schema.Timeline, path: Path) -> dict:
    otio.adapters.write_to_file(timeline, str(path))
    return json.loads(path.read_text())


def _placed_clips(doc: dict) -> list[tuple[str, str, float, dict]]:
    """(track name, clip name, start seconds, clip dict) computed from the raw JSON."""
    out = []
    for track in doc["tracks"]["children"]:
        position = 0.0
        for item in track["children"]:
            if item["OTIO_SCHEMA"].startswith("Transition"):
                continue
            duration = item["source_range"]["duration"]
            out.append((track["name"], item.get("name"), position, item))
            position += duration["value"] / duration["rate"]
    return out


def _expected(timeline: otio.schema.Timeline) -> list[tuple[str, str, float, dict, float]]:
    return [
        (
            track.name,
            clip.name,
            clip.range_in_parent().start_time.to_seconds(),
            meta,
            clip.source_range.start_time.to_seconds(),
        )
        for track, clip, meta in generated_clips(timeline)
    ]


def _effects(clip: dict, namespace: str, key: str) -> dict:
    return {
        e["metadata"][namespace][key]: e["metadata"][namespace] for e in clip["effects"] if namespace in e["metadata"]
    }


def _assert_input_kept(doc: dict) -> None:
    video = doc["tracks"]["children"][0]
    assert video["name"] == "V1"
    assert [c["name"] for c in video["children"]] == ["shot A", "shot B"]
    assert [m["name"] for m in video["children"][0]["markers"]] == ["note"]


def _sfx_clips(doc: dict) -> list[tuple[str, str, float, dict]]:
    return [p for p in _placed_clips(doc) if p[3].get("metadata", {}).get("soundify", {}).get("generated")]


def test_resolve_keyframes_match_neutral(annotated_timeline, tmp_path):
    expected = _expected(annotated_timeline)
    add_resolve_effects(annotated_timeline)
    doc = _write_json(annotated_timeline, tmp_path / "resolve.otio")
    _assert_input_kept(doc)
    assert doc["metadata"]["Resolve_OTIO"]["Resolve OTIO Meta Version"] == "1.0"
    got = _sfx_clips(doc)
    assert len(got) == len(expected) == 4
    for (track, name, start, clip), (e_track, e_name, e_start, meta, _src) in zip(got, expected):
        assert (track, name) == (e_track, e_name)
        assert abs(start - e_start) < 1 / RATE / 2
        fx = _effects(clip, "Resolve_OTIO", "Effect Name")
        volume, pan = fx["Fairlight Clip Volume and Fades"], fx["Fairlight Clip Pan"]
        assert (volume["Type"], pan["Type"]) == (62, 72)
        params = {p["Parameter ID"]: p for p in volume["Parameters"]}
        for curve, param, scale in (
            (meta["keyframes"]["gain_db"], params["volume"], 1.0),
            (meta["keyframes"]["pan"], pan["Parameters"][0], 100.0),
        ):
            keys = {int(k): v["Value"] / scale for k, v in param["Key Frames"].items()}
            assert len(keys) == len(curve)
            for (t, value), frame in zip(curve, sorted(keys)):
                assert abs(frame / RATE - t) <= 1 / RATE
                assert abs(keys[frame] - value) < (0.1 if scale == 1.0 else 0.01)
        assert params["faderIn"]["Parameter Value"] == round(meta["fade_in"] * RATE)
        assert params["faderOut"]["Parameter Value"] == round(meta["fade_out"] * RATE)
    bell = got[0][3]
    first_pan = _effects(bell, "Resolve_OTIO", "Effect Name")["Fairlight Clip Pan"]["Parameters"][0]["Key Frames"]["0"]
    assert first_pan["Value"] == -80.0
    audio_types = {
        t["name"]: t["metadata"]["Resolve_OTIO"]["Audio Type"]
        for t in doc["tracks"]["children"]
        if t["kind"] == "Audio"
    }
    assert audio_types == {"SFX 1": "Mono", "SFX 2": "Stereo", "AMB": "Stereo"}


def test_resolve_is_idempotent(annotated_timeline):
    add_resolve_effects(annotated_timeline)
    add_resolve_effects(annotated_timeline)
    for _track, clip, _meta in generated_clips(annotated_timeline):
        names = [e.metadata["Resolve_OTIO"]["Effect Name"] for e in clip.effects]
        assert sorted(names) == ["Fairlight Clip Pan", "Fairlight Clip Volume and Fades"]


def test_premiere_keyframes_match_neutral(annotated_timeline, tmp_path):
    expected = _expected(annotated_timeline)
    add_premiere_effects(annotated_timeline)
    add_premiere_effects(annotated_timeline)  # re-running must not duplicate
    doc = _write_json(annotated_timeline, tmp_path / "premiere.otio")
    _assert_input_kept(doc)
    got = _sfx_clips(doc)
    assert len(got) == len(expected) == 4
    link_ids = [clip["metadata"]["PremierePro_OTIO"]["LinkID"] for *_x, clip in got]
    assert len(set(link_ids)) == len(link_ids)
    for (track, name, start, clip), (e_track, e_name, e_start, meta, src_in) in zip(got, expected):
        assert (track, name) == (e_track, e_name)
        assert abs(start - e_start) < 1 / RATE / 2
        stereo = meta["sound"]["channels"] == 2
        fx = _effects(clip, "PremierePro_OTIO", "MatchName")
        assert len(clip["effects"]) == 2
        volume = fx["Internal Volume Stereo" if stereo else "Internal Volume Mono"]
        level = next(p for p in volume["Parameters"] if p["ID"] == 1 and p["DisplayName"] == "Level")
        pan = fx["PanProcessor"]["Parameters"][0]
        assert pan["DisplayName"] == ("Balance" if stereo else "Pan")
        for curve, param, to_neutral, tol in (
            (meta["keyframes"]["gain_db"], level, lambda v: 20 * math.log10(v) + 15.0, 0.1),
            (meta["keyframes"]["pan"], pan, lambda v: 2 * v - 1, 0.01),
        ):
            offsets = []
            for key in param["Keyframes"]:
                pos = key["Position"]
                t = pos["value"] / pos["rate"] - src_in
                offsets.append(t)
                assert abs(to_neutral(key["Value"]) - value_at(curve, t)) < tol
            for t, _v in curve:
                assert min(abs(t - o) for o in offsets) <= 1 / RATE
    bell_pan = _effects(got[0][3], "PremierePro_OTIO", "MatchName")["PanProcessor"]["Parameters"][0]
    assert abs(bell_pan["Keyframes"][0]["Value"] - 0.1) < 1e-9
    traffic_level = _effects(got[2][3], "PremierePro_OTIO", "MatchName")["Internal Volume Stereo"]
    first = traffic_level["Parameters"][1]["Keyframes"][0]
    assert abs(first["Value"] - 10 ** ((-10 - 15) / 20)) < 1e-9
    assert first["Position"]["value"] == 24  # the traffic clip's source in-point (1 s at 24 fps)
