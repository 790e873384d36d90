"""The editors' own files (../shared/interop) pass through `annotate` with their media offline:
every shot is skipped, and every track, clip and piece of existing automation the adapters read survives."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from soundify_otio.cli import main
from soundify_otio.timeline.reading import read_timeline

from helpers.timelines import SHARED_INTEROP, write_tone

CASES = [
    ("fcp7xml/otio-fcp-adapter_premiere_example.xml", ".xml"),
    ("fcp7xml/otio-fcp-adapter_premiere_enable_property.xml", ".xml"),
    ("fcpxml/DAWFileKit_SyncClipRoles2.fcpxml", ".fcpxml"),
    ("aaf/LibAAF_PR_Audio_Levels-noBTM.aaf", ".aaf"),
    ("aaf/LibAAF_MC_Audio_Pan.aaf", ".aaf"),
    ("aaf/otio-aaf-adapter_multitrack.aaf", ".aaf"),
    ("rpp/rpp-editor_test2_track_vol_pan_envelopes.rpp", ".rpp"),
    ("rpp/FastTrackStudio_Template-with-takes-lanes.RPP", ".rpp"),
]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("library")
    write_tone(root / "door slam.wav", 1.0, 48000, 1)
    (root / "ambience").mkdir()
    write_tone(root / "ambience" / "room tone.wav", 4.0, 48000, 2)
    return root


def _shape(timeline: otio.schema.Timeline) -> list[tuple[str, str, list[str]]]:
    return [(t.kind, t.name, [c.name for c in t.find_clips()]) for t in timeline.tracks]


def _automation(timeline: otio.schema.Timeline) -> list[str]:
    """Every effect and envelope the adapters expose, by clip, as comparable text."""
    found = []
    for clip in timeline.find_clips():
        found += [f"{clip.name}:{e.effect_name}:{sorted(e.metadata.keys())}" for e in clip.effects]
        keys = (
            clip.metadata.get("soundify", {}).get("keyframes")
            if hasattr(clip.metadata.get("soundify", {}), "get")
            else None
        )
        if keys:
            found.append(f"{clip.name}:keys:{len(keys.get('gain_db', []))}:{len(keys.get('pan', []))}")
    return found


@pytest.mark.slow
@pytest.mark.interop
@pytest.mark.parametrize("name, suffix", CASES, ids=[c[0].split("/")[1] for c in CASES])
def test_offline_editor_file_passes_through(tmp_path, capsys, library, name, suffix):
    source = SHARED_INTEROP / name
    if not source.is_file():
        pytest.skip(f"{source} is absent (../shared/interop ships with the team's checkout only)")
    out = tmp_path / f"out{suffix}"
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "--quiet",
                "annotate",
                str(source),
                "-o",
                str(out),
                "--library",
                str(library),
                "--pretrained",
                "none",
                "--allow-offline",
                "--no-cache",
            ]
        )
    stderr = capsys.readouterr().err
    assert exited.value.code == 0, stderr
    original, result = read_timeline(source), read_timeline(out)
    shape_in, shape_out = _shape(original), _shape(result)
    clips_in = sorted(c for _, _, names in shape_in for c in names)
    clips_out = sorted(c for _, _, names in shape_out for c in names)
    assert len(shape_out) >= len([t for t in shape_in if t[2]]), (shape_in, shape_out)
    assert all(c in clips_out for c in clips_in), set(clips_in) - set(clips_out)
    before = _automation(original)
    after = _automation(result)
    assert all(entry in after for entry in before), set(before) - set(after)


@pytest.mark.interop
def test_offline_without_the_flag_is_an_error(tmp_path, capsys, library):
    source = SHARED_INTEROP / "fcp7xml/otio-fcp-adapter_premiere_example.xml"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    out = tmp_path / "out.xml"
    with pytest.raises(SystemExit) as exited:
        main(["--quiet", "annotate", str(source), "-o", str(out), "--library", str(library), "--pretrained", "none"])
    assert exited.value.code == 3
    assert "no shot could be analysed" in capsys.readouterr().err
    assert not out.exists()
