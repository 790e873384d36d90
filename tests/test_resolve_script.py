"""`install resolve` and the Resolve script, run against a stand-in of exactly the Resolve API calls it
makes (Resolve itself cannot run here). Every call and its arguments are recorded and asserted; the
annotation and the review page the script starts are the real ones."""

from __future__ import annotations

import ast
import http.client
import py_compile
import re
import runpy
import subprocess
import time
from pathlib import Path

import opentimelineio as otio
import pytest

from soundify_otio.cli import main
from soundify_otio.integrations.resolve import SCRIPT_NAME, scripts_folder

from helpers.cli import analysis_args

EXPORT_OTIO, EXPORT_NONE = 1001, 1002  # stand-in values: the script must pass Resolve's own constants through


class StandIn:
    """Resolve's objects as far as the script uses them; `calls` logs (object, method, args) in order."""

    def __init__(self, source: Path, names: list[str], exports: bool = True, imports: bool = True) -> None:
        self.calls: list[tuple[str, str, tuple]] = []
        self.source, self.names, self.exports, self.imports = source, names, exports, imports
        self.imported: list[otio.schema.Timeline] = []
        self.EXPORT_OTIO, self.EXPORT_NONE = EXPORT_OTIO, EXPORT_NONE

    def _log(self, owner: str, method: str, *args):
        self.calls.append((owner, method, args))

    def GetProjectManager(self):
        self._log("resolve", "GetProjectManager")
        return _Object(self, "project_manager", GetCurrentProject=lambda: _Object(self, "project", **self._project()))

    def _project(self) -> dict:
        timelines = [_Object(self, f"timeline {i}", GetName=lambda n=n: n) for i, n in enumerate(self.names, 1)]
        return {
            "GetCurrentTimeline": lambda: _Object(self, "current", GetName=lambda: "street", Export=self._export),
            "GetTimelineCount": lambda: len(timelines),
            "GetTimelineByIndex": lambda i: timelines[i - 1],
            "GetMediaPool": lambda: _Object(self, "media_pool", ImportTimelineFromFile=self._import),
        }

    def _export(self, path: str, kind: int, subtype: int) -> bool:
        if not self.exports:
            return False
        timeline = otio.adapters.read_from_file(str(self.source))
        for clip in timeline.find_clips():  # Resolve writes absolute media paths
            url = clip.media_reference.target_url
            clip.media_reference.target_url = (self.source.parent / url).resolve().as_uri()
        otio.adapters.write_to_file(timeline, path)
        return True

    def _import(self, path: str, options: dict):
        if not self.imports:
            return None
        self.imported.append(otio.adapters.read_from_file(path))
        return _Object(self, "imported", GetName=lambda: options["timelineName"])


class _Object:
    def __init__(self, stand_in: StandIn, owner: str, **methods) -> None:
        for name, method in methods.items():
            setattr(self, name, self._recorded(stand_in, owner, name, method))

    @staticmethod
    def _recorded(stand_in, owner, name, method):
        def call(*args):
            stand_in._log(owner, name, *args)
            return method(*args)

        return call


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """One request on its own connection: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def scripts_folder_made(tmp_path: Path) -> Path:
    """The scripts folder the installer writes into (it creates none)."""
    folder = tmp_path / "Scripts"
    folder.mkdir(exist_ok=True)
    return folder


def install_script(project, cache_dir: Path, tmp_path: Path, *extra: str) -> Path:
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "--quiet",
                "install",
                "resolve",
                *analysis_args(project, cache_dir),
                "--sample-fps",
                "2.0",
                "--scripts-dir",
                str(scripts_folder_made(tmp_path)),
                "--work-dir",
                str(tmp_path / "work"),
                *extra,
            ]
        )
    assert exited.value.code == 0
    return tmp_path / "Scripts" / SCRIPT_NAME


def test_scripts_folder_per_os(tmp_path: Path) -> None:
    home = tmp_path / "home"
    support = "Blackmagic Design/DaVinci Resolve"
    assert scripts_folder("Darwin", {}, home) == home / f"Library/Application Support/{support}/Fusion/Scripts/Utility"
    assert scripts_folder("Windows", {"APPDATA": str(tmp_path / "Roaming")}, home) == (
        tmp_path / f"Roaming/{support}/Support/Fusion/Scripts/Utility"
    )
    assert scripts_folder("Linux", {}, home) == home / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"


def test_dry_run_says_where_and_writes_nothing(project, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            ["install", "resolve", "--library", str(project.library), "--scripts-dir", str(tmp_path / "S"), "--dry-run"]
        )
    assert exited.value.code == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str((tmp_path / "S" / SCRIPT_NAME).resolve())
    assert str(project.library.resolve()) in captured.err
    assert not (tmp_path / "S").exists()


def test_install_refuses_a_library_that_is_not_a_folder(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["install", "resolve", "--library", str(tmp_path / "none"), "--scripts-dir", str(tmp_path / "S")])
    assert exited.value.code == 4
    assert str(tmp_path / "none") in capsys.readouterr().err
    assert not (tmp_path / "S").exists()


def test_the_installed_script_carries_its_settings(project, cache_dir: Path, tmp_path: Path) -> None:
    path = install_script(project, cache_dir, tmp_path, "--no-review", "--seed", "7")
    py_compile.compile(str(path), doraise=True)
    ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 6))  # Resolve's Python may be 3.6
    config = runpy.run_path(str(path), run_name="installed")["CONFIG"]  # no `resolve` global: nothing runs
    assert config["library"] == str(project.library.resolve())
    assert config["work_dir"] == str((tmp_path / "work").resolve())
    assert config["review"] is False
    options = config["options"]
    pairs = dict(zip(options[::2], options[1::2], strict=True))
    assert pairs == {
        "--pretrained": "none",
        "--cache-dir": str(cache_dir.resolve()),
        "--sample-fps": "2.0",
        "--seed": "7",
    }
    assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_script_in_a_stand_in_resolve(project, cache_dir: Path, tmp_path: Path, capsys) -> None:
    """As Resolve runs it (the `resolve` global set): export, annotate, import beside, review page."""
    path = install_script(project, cache_dir, tmp_path, "--no-browser")
    resolve = StandIn(project.timeline_otio, ["street", "street (soundify)"])
    runpy.run_path(str(path), init_globals={"resolve": resolve}, run_name="resolve_script")
    said = capsys.readouterr().out
    (run_dir,) = (tmp_path / "work").iterdir()
    exported, annotated = run_dir / "street.otio", run_dir / "street.soundify.otio"
    assert resolve.calls == [
        ("resolve", "GetProjectManager", ()),
        ("project_manager", "GetCurrentProject", ()),
        ("project", "GetCurrentTimeline", ()),
        ("current", "GetName", ()),
        ("current", "Export", (str(exported), EXPORT_OTIO, EXPORT_NONE)),
        ("project", "GetTimelineCount", ()),
        ("project", "GetTimelineByIndex", (1,)),
        ("timeline 1", "GetName", ()),
        ("project", "GetTimelineByIndex", (2,)),
        ("timeline 2", "GetName", ()),
        ("project", "GetMediaPool", ()),
        (
            "media_pool",
            "ImportTimelineFromFile",
            (str(annotated), {"timelineName": "street (soundify 2)", "importSourceClips": True}),
        ),
    ]
    (imported,) = resolve.imported
    original = otio.adapters.read_from_file(str(exported))
    generated = [t for t in imported.tracks if t.metadata.get("soundify", {}).get("generated")]
    assert generated
    assert len(imported.tracks) == len(original.tracks) + len(generated)
    effects = [e for t in generated for c in t.find_clips() for e in c.effects]
    assert effects
    assert all(e.effect_name == "Resolve Effect" for e in effects)  # --target resolve
    assert "imported 'street (soundify 2)' beside 'street'" in said

    url = re.search(r"review page (http://127\.0\.0\.1:(\d+)/\S+/)", said)
    assert url, said
    port, token = int(url.group(2)), url.group(1).rsplit("/", 2)[1]
    status, page = _request(port, "GET", f"/{token}/")
    assert status == 200
    assert b'data-mode="review"' in page
    origin = {"Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json"}
    assert _request(port, "POST", f"/{token}/api/close", b"{}", origin)[0] == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
        except (ConnectionRefusedError, ConnectionResetError):  # reset: it closed with this one in its backlog
            break
        time.sleep(0.5)
    else:
        pytest.fail("the review page's server did not end after the page closed")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("exports", "imports", "message", "last_call"),
    [
        (False, True, "did not export 'street' as OTIO", "Export"),
        (True, False, "did not import", "ImportTimelineFromFile"),
    ],
)
def test_script_says_why_when_resolve_refuses(
    project, cache_dir: Path, tmp_path: Path, exports: bool, imports: bool, message: str, last_call: str
) -> None:
    path = install_script(project, cache_dir, tmp_path, "--no-review")
    script = runpy.run_path(str(path), run_name="installed")
    resolve = StandIn(project.timeline_otio, [], exports=exports, imports=imports)
    said: list[str] = []
    ran: list[list[str]] = []

    def run_command(command, **kwargs):
        ran.append(command)
        return subprocess.run(command, **kwargs, check=False)

    assert script["run"](resolve, script["CONFIG"], run_command=run_command, say=said.append) == 1
    assert len(said) == 1
    assert message in said[0]
    assert resolve.calls[-1][1] == last_call
    assert len(ran) == (0 if not exports else 1)  # nothing is annotated when the export failed


def test_script_without_a_timeline(project, cache_dir: Path, tmp_path: Path) -> None:
    script = runpy.run_path(str(install_script(project, cache_dir, tmp_path)), run_name="installed")
    resolve = StandIn(project.timeline_otio, [])
    resolve._project = lambda: {"GetCurrentTimeline": lambda: None}  # type: ignore[method-assign]
    said: list[str] = []
    assert script["run"](resolve, script["CONFIG"], say=said.append) == 1
    assert said == ["soundify: the project has no current timeline; open one on the Edit page"]
    assert [c[1] for c in resolve.calls] == ["GetProjectManager", "GetCurrentProject", "GetCurrentTimeline"]


def _install(library: Path, *args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["--quiet", "install", "resolve", "--library", str(library), *args])
    return int(exited.value.code or 0)


def test_install_replaces_only_a_script_an_install_wrote(tmp_path: Path, capsys) -> None:
    library, scripts = tmp_path / "lib", tmp_path / "Scripts"
    library.mkdir()
    scripts.mkdir()
    theirs = scripts / SCRIPT_NAME
    theirs.write_text("print('the user\\'s own Soundify script')\n")
    assert _install(library, "--scripts-dir", str(scripts)) == 6
    assert "pass --force" in capsys.readouterr().err
    assert theirs.read_text() == "print('the user\\'s own Soundify script')\n"
    assert _install(library, "--scripts-dir", str(scripts), "--force") == 0
    assert "written by `soundify-otio install resolve`" in theirs.read_text()
    assert _install(library, "--scripts-dir", str(scripts), "--seed", "3") == 0  # its own: replaced without --force
    assert "'--seed', '3'" in theirs.read_text()
    assert sorted(p.name for p in scripts.iterdir()) == [SCRIPT_NAME]  # no temp file left


def test_install_creates_no_folder_and_refuses_an_empty_home(tmp_path: Path, monkeypatch, capsys) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    assert _install(library, "--scripts-dir", str(tmp_path / "missing" / "Scripts")) == 6
    assert not (tmp_path / "missing").exists()
    monkeypatch.setenv("HOME", "")
    assert _install(library) == 6
    assert "HOME is not an absolute folder" in capsys.readouterr().err
