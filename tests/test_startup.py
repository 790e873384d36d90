"""Start-up: commands that do not run CLIP do not import torch, open_clip or the inference runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio

from helpers.timelines import write_tone

MODEL_STACK = ("torch", "torchvision", "open_clip", "timm", "openvino", "onnxruntime")

_CHILD = """
import json, sys
from soundify_otio.cli import main
watched = json.loads(sys.argv[2])
loaded = {}
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    loaded[" ".join(args[:2])] = {"exit": code, "modules": sorted(m for m in watched if m in sys.modules)}
print(json.dumps(loaded))
"""


def _modules_after(commands: list[list[str]], watched: tuple[str, ...]) -> dict[str, dict]:
    """Run the commands one after another in a fresh interpreter; per command its exit code and which of
    `watched` had been imported by the time it ended (so the first command to import one is named)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(commands), json.dumps(watched)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_light_commands_do_not_import_the_model_stack(annotated_timeline, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    write_tone(library / "door slam.wav", 0.5, 48000, 1)
    # indexed first: measuring a new sound's speech share runs the speech detector (ONNX Runtime), as
    # measuring its loudness loads pyloudnorm (next test); reading the index loads neither
    _modules_after([["--quiet", "library", "stats", str(library)]], ())
    annotated = tmp_path / "annotated.otio"
    otio.adapters.write_to_file(annotated_timeline, str(annotated))
    commands = [
        ["--help"],
        ["annotate", "--help"],
        ["library", "--help"],
        ["library", "stats", str(library)],
        ["install", "resolve", "--dry-run", "--library", str(library), "--scripts-dir", str(tmp_path / "scripts")],
        ["render", str(annotated), "-o", str(tmp_path / "preview.wav")],
    ]
    loaded = _modules_after(commands, MODEL_STACK)
    assert [entry["exit"] for entry in loaded.values()] == [0] * len(commands), loaded
    assert (tmp_path / "preview.wav").stat().st_size > 0  # render did its work, not just its checks
    assert all(entry["modules"] == [] for entry in loaded.values()), loaded


def test_reading_an_indexed_library_does_not_import_the_loudness_meter(tmp_path: Path) -> None:
    """pyloudnorm brings scipy.signal (about a second), the speech detector ONNX Runtime: only measuring a
    new sound needs them."""
    library = tmp_path / "library"
    library.mkdir()
    write_tone(library / "door slam.wav", 0.5, 48000, 1)
    first = _modules_after([["--quiet", "library", "stats", str(library)]], ("pyloudnorm", "onnxruntime"))
    watched = ("pyloudnorm", "scipy", "onnxruntime")
    again = _modules_after([["--quiet", "library", "stats", str(library)]], watched)
    assert first["--quiet library"] == {"exit": 0, "modules": ["onnxruntime", "pyloudnorm"]}  # built: measured
    assert again["--quiet library"] == {"exit": 0, "modules": []}


def test_the_console_script_loads_without_collecting_and_freezes_what_it_loaded() -> None:
    """In the console script, heavy imports and the model load run with the collector paused, and what they
    made is frozen (later full collections skip it); called with argv (tests, scripts) nothing changes."""
    import gc

    import click

    from soundify_otio.cli.app import without_collection

    frozen = gc.get_freeze_count()
    with without_collection(click.Context(click.Command("x"), obj={"console": False})):
        assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    try:
        with without_collection(click.Context(click.Command("x"), obj={"console": True})):
            assert not gc.isenabled()
            kept = [[index] for index in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(kept)
    finally:
        gc.unfreeze()  # this test process keeps collecting as before
        gc.enable()


def test_the_console_script_freezes_its_objects_before_the_interpreter_tears_down() -> None:
    code = (
        "import gc, sys\nfrom soundify_otio.cli import main\nsys.argv = ['soundify-otio', '--help']\n"
        "try:\n    main({argv})\nexcept SystemExit:\n    pass\nprint(gc.get_freeze_count())"
    )
    counts = [
        int(
            subprocess.run([sys.executable, "-c", code.format(argv=argv)], capture_output=True, text=True, check=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        for argv in ("", "['--help']")
    ]
    assert counts[0] > 10_000
    assert counts[1] == 0  # as the console script; as a call with argv
