"""The Python version promise: 3.11 or newer (tomllib), said the same everywhere and enforced by `make`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_place_that_names_the_floor_names_3_11() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["tool"]["ruff"]["target-version"] == "py311"
    assert project["tool"]["mypy"]["python_version"] == "3.11"
    claims = re.findall(r"Python (3\.\d+)\+", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert claims
    assert set(claims) == {"3.11"}


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(("version", "accepted"), [((3, 10, 14), False), ((3, 11, 0), True), ((3, 13, 1), True)])
def test_make_refuses_an_older_python_before_building_anything(tmp_path: Path, version, accepted: bool) -> None:
    """A stand-in interpreter that reports `version` runs the Makefile's check."""
    fake = tmp_path / "python"
    fake.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "import sys; sys.version_info = {version!r}; '
        f'sys.version = {".".join(map(str, version))!r}; exec(sys.argv[1])" "$2"\n'
    )
    fake.chmod(0o755)
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "check-python", f"PYTHON={fake}"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode == 0) is accepted
    if not accepted:
        assert "needs Python 3.11 or newer, found 3.10.14" in done.stderr
