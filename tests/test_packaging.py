"""The package as a user gets it: the wheel and sdist built from this checkout, what they hold, whether
the wheel resolves on every platform editors use, and a first run from a fresh virtual environment.

Built with uv (the test extra); the matrix also needs the package index and is skipped without it.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import opentimelineio as otio
import pytest

import soundify_otio

ROOT = Path(__file__).resolve().parents[1]
UV = shutil.which("uv", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
PLATFORMS = {
    "macOS arm64": "aarch64-apple-darwin",
    "Windows amd64": "x86_64-pc-windows-msvc",
    "Linux x86_64": "x86_64-unknown-linux-gnu",
    "Linux aarch64": "aarch64-unknown-linux-gnu",
}
PYTHONS = ("3.11", "3.12", "3.13")
MACOS_MINIMUM = "14.0"
"""The oldest macOS resolved for: PyAV 17 and newer (vision.decode's reformat arguments) ship arm64 wheels for
macOS 14 (Sonoma) and newer only; uv assumes an older macOS unless MACOSX_DEPLOYMENT_TARGET says otherwise."""

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed (it is in the test extra)")


def _env() -> dict[str, str]:
    """The environment for a child that must see only what it is given (not this checkout on PYTHONPATH)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel built from it, with this environment's setuptools (no index needed)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [UV, "build", "--no-build-isolation", "--python", sys.executable, "-o", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=_env(),
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_wheel_holds_the_package_its_data_and_licences(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = f"soundify_otio-{soundify_otio.__version__}.dist-info"
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        licence = wheel.read(f"{info}/licenses/LICENSE").decode()
    for name in (
        "soundify_otio/py.typed",
        "soundify_otio/sample/data/bikes.mp4",
        "soundify_otio/sample/data/LICENSE-bikes.txt",
        "soundify_otio/report/report.css",
        "soundify_otio/report/review.js",
        "soundify_otio_adapters/plugin_manifest.json",
        f"{info}/licenses/soundify_otio/sample/data/LICENSE-bikes.txt",
    ):
        assert name in names, name
    source = Path(soundify_otio.__file__).parent
    for module in sorted(source.rglob("*.py")):  # a package folder left out of pyproject's list is missing
        assert f"soundify_otio/{module.relative_to(source).as_posix()}" in names, module
    assert "Apache License" in licence
    assert "Version 2.0, January 2004" in licence
    assert not any(n.startswith(("tests/", "bench/", "docs/")) for n in names)
    assert metadata["Version"] == soundify_otio.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = metadata.get_all("Classifier")
    for version in PYTHONS:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert {"Operating System :: MacOS", "Operating System :: Microsoft :: Windows"} <= set(classifiers)
    assert not any(r.startswith("decord") for r in metadata.get_all("Requires-Dist"))
    assert dist["wheel"].stat().st_size < 2 * 2**20


def test_the_user_readme_is_short_and_links_only_what_exists(dist: dict[str, Path]) -> None:
    """The long description PyPI shows: the README, under 250 lines, every relative link a file of the sdist."""
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        info = f"soundify_otio-{soundify_otio.__version__}.dist-info"
        description = email.message_from_bytes(wheel.read(f"{info}/METADATA")).get_payload()
    assert len(description.splitlines()) < 250
    with tarfile.open(dist["sdist"]) as sdist:
        shipped = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in sdist.getnames() if "/" in n}
    links = [m for m in re.findall(r"\]\(([^)#\s]+)", description) if "://" not in m]
    assert links, "the README links its docs"
    for link in links:
        assert link in shipped, link


@pytest.mark.slow
def test_sdist_tests_run_from_the_sdist(dist: dict[str, Path], tmp_path: Path) -> None:
    """The sdist carries its tests and what they read: some run from the unpacked sdist, against its code."""
    with tarfile.open(dist["sdist"]) as sdist:
        sdist.extractall(tmp_path, filter="data")
    (source,) = tmp_path.iterdir()
    assert (source / "LICENSE").is_file()
    assert (source / "sample_projects" / "street.otio").is_file()
    env = _env() | {"PYTHONPATH": str(source)}
    where = subprocess.run(
        [sys.executable, "-c", "import soundify_otio; print(soundify_otio.__file__)"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(source)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_sample.py",
            "tests/test_config.py",
        ],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


@pytest.mark.slow
def test_fresh_install_runs_the_sample_project(dist: dict[str, Path], tmp_path: Path) -> None:
    """The wheel installed with --no-deps in a fresh venv that sees this environment's packages (a .pth
    file), then `sample-project` and `annotate` from an empty folder, as the README's quick start says."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run(
        [UV, "pip", "install", "--no-deps", "--offline", "--python", str(python), str(dist["wheel"])],
        check=True,
        capture_output=True,
        env=_env(),
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = python.parent / ("soundify-otio.exe" if os.name == "nt" else "soundify-otio")
    work = tmp_path / "empty"
    work.mkdir()
    env = _env() | {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = subprocess.run(
        [str(python), "-c", "import soundify_otio; print(soundify_otio.__file__)"],
        cwd=work,  # not the checkout: `python -c` puts the working folder first on sys.path
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(Path(site)), where.stdout + where.stderr
    built = run("sample-project")
    assert built.returncode == 0, built.stderr
    assert (work / "soundify-sample" / "media" / "bikes.mp4").stat().st_size == 509868
    annotated = run(
        "annotate",
        "soundify-sample/street.otio",
        "-o",
        "street.soundify.otio",
        "--library",
        "soundify-sample/library",
        "--fallback-random",
    )
    assert annotated.returncode == 0, annotated.stderr
    timeline = otio.adapters.read_from_file(str(work / "street.soundify.otio"))
    generated = [t for t in timeline.audio_tracks() if t.metadata.get("soundify", {}).get("generated")]
    assert generated
    assert any(isinstance(c, otio.schema.Clip) for t in generated for c in t)


@cache
def _network_reachable() -> bool:
    """Whether uv can reach the package index (a one-package resolution, cached after the first time)."""
    probe = subprocess.run(
        [UV, "pip", "compile", "-", "--quiet", "--no-header", "--python-version", "3.12"],
        input="packaging\n",
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    return probe.returncode == 0


@cache
def _matrix(wheel: Path) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """uv's resolution of the wheel for every platform and Python, binary wheels only, run in parallel."""

    def compile_for(case: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        platform, version = case
        target = ["--python-platform", PLATFORMS[platform], "--python-version", version]
        return subprocess.run(
            [UV, "pip", "compile", "-", "--quiet", "--no-header", "--no-annotate", "--only-binary", ":all:", *target],
            input=f"soundify-otio @ {wheel.as_uri()}\n",
            capture_output=True,
            text=True,
            env={**_env(), "MACOSX_DEPLOYMENT_TARGET": MACOS_MINIMUM},
            timeout=600,
        )

    cases = [(p, v) for p in PLATFORMS for v in PYTHONS]
    with ThreadPoolExecutor(4) as pool:
        return dict(zip(cases, pool.map(compile_for, cases)))


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_wheel_resolves_from_binary_wheels(dist: dict[str, Path], platform: str, version: str) -> None:
    """`pip install soundify-otio` can succeed there: every dependency has a wheel for that platform and
    Python (uv evaluates the markers for the target, which `pip --dry-run --platform` does not)."""
    if not _network_reachable():
        pytest.skip("the package index cannot be reached")
    result = _matrix(dist["wheel"])[platform, version]
    assert result.returncode == 0, result.stderr[-2000:]
    pins = {line.split("==")[0].lower() for line in result.stdout.splitlines() if "==" in line}
    assert {"torch", "torchvision", "open-clip-torch", "av", "opentimelineio", "onnxruntime"} <= pins
    assert "decord" not in pins
    assert ("openvino" in pins) == (platform != "Linux aarch64")
