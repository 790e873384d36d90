"""The review server over HTTP: the token, the allowed files, other origins, picks, writes, closing; the CLI."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import opentimelineio as otio
import pytest

import soundify_otio.review.server as server_module
from soundify_otio.cli import main
from soundify_otio.errors import OutputError
from soundify_otio.review.server import ReviewServer
from soundify_otio.review.session import ReviewSession
from soundify_otio.timeline.writeback import annotated_copy
from soundify_otio.types import Choice

from helpers.cli import analysis_args, interruptible
from helpers.review import own, picks_in, request, sample_session, serving


@pytest.fixture(scope="module")
def session(project, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReviewSession:
    return sample_session(project, cache_dir, tmp_path_factory.mktemp("review") / "street.soundify.otio")


def an_unpicked_effect(session: ReviewSession, index: int = 0) -> tuple[str, str]:
    scene = session.annotation().scenes[index]
    label = next(s.label for s in scene.effects if s.label not in scene.picked_effects)
    return scene.scene.id, label


def test_the_page_needs_the_token(session: ReviewSession) -> None:
    with serving(session) as server:
        token = server.token
        for path in ("/", f"/{token}", f"/{token[:-1]}/", f"/{token}x/", f"/?token={token}", f"/x/{token}/"):
            status, _, body = request(server, "GET", path)
            assert status == 403, path
            assert b"<html" not in body
        status, headers, body = request(server, "GET", f"/{token}/")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        page = body.decode()
        for scene in session.analysis.scenes:
            assert f'data-scene-id="{scene.scene.id}"' in page
    assert server.url.startswith("http://127.0.0.1:")
    assert server.token in server.url


def test_only_the_sessions_files_are_served(session: ReviewSession) -> None:
    entries = session.library.entries
    with serving(session) as server:
        base = f"/{server.token}"
        for path in (
            f"{base}/sound/{len(entries)}",
            f"{base}/media/{len(session.analysis.scenes) + 5}",
            f"{base}/sound/-1",
            f"{base}/sound/../../../../etc/passwd",
            f"{base}/media/0/../../../../etc/passwd",
            f"{base}/%2e%2e/%2e%2e/etc/passwd",
            f"{base}/sound/0%00",
            f"{base}/file?path=/etc/passwd",
            f"{base}/{quote(str(entries[0].path))}",
        ):
            status, _, body = request(server, "GET", path)
            assert status == 404, path
            assert b"root:" not in body
        number = session.sounds.number(entries[0].path)
        whole = entries[0].path.read_bytes()
        status, headers, body = request(server, "GET", f"{base}/sound/{number}")
        assert status == 200
        assert body == whole
        assert headers["Accept-Ranges"] == "bytes"
        status, headers, body = request(server, "GET", f"{base}/sound/{number}", headers={"Range": "bytes=10-19"})
        assert status == 206
        assert body == whole[10:20]
        assert headers["Content-Range"] == f"bytes 10-19/{len(whole)}"
        status, _, body = request(server, "GET", f"{base}/sound/{number}", headers={"Range": "bytes=-5"})
        assert status == 206
        assert body == whole[-5:]
        status, _, _ = request(server, "GET", f"{base}/sound/{number}", headers={"Range": f"bytes={len(whole)}-"})
        assert status == 416
        media = session.analysis.scenes[0].scene.media_path
        status, _, body = request(server, "GET", f"{base}/media/{session.media.number(media)}")
        assert status == 200
        assert body == media.read_bytes()


def test_other_origins_are_refused(session: ReviewSession) -> None:
    scene_id, label = an_unpicked_effect(session)
    before = dict(session.choices)
    with serving(session) as server:
        page = f"/{server.token}/"
        evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Host": f"evil.example:{server.port}"},  # DNS rebinding: a foreign name pointed at 127.0.0.1
        ):
            assert request(server, "GET", page, headers=headers)[0] == 403, headers
        pick = {"scene": scene_id, "effects": [label], "ambient": ""}
        assert request(server, "POST", page + "api/pick", pick, evil)[0] == 403
        assert request(server, "POST", page + "api/write", {}, evil)[0] == 403
        assert request(server, "POST", page + "api/pick", pick, {"Content-Type": "application/json"})[0] == 403
        as_text = {**own(server), "Content-Type": "text/plain"}
        assert request(server, "POST", page + "api/pick", pick, as_text)[0] == 415
    assert session.choices == before
    assert not session.out.exists()
    assert not session.choices_path.exists()


def test_a_pick_replaces_its_scene_only(session: ReviewSession) -> None:
    scene_id, label = an_unpicked_effect(session, 1)
    others = {s.scene.id: session.scene_html(s.scene.id) for s in session.analysis.scenes if s.scene.id != scene_id}
    with serving(session) as server:
        api = f"/{server.token}/api/"
        status, _, body = request(server, "POST", api + "pick", {"scene": scene_id, "effects": [label]}, own(server))
        assert status == 200, body
        reply = json.loads(body)
        assert reply["seconds"] < 30
        assert f'data-scene-id="{scene_id}"' in reply["html"]
        assert f'class="gain-curve" data-label="{label}"' in reply["html"]
        for bad in ({"scene": scene_id, "effects": ["no such sound"]}, {"scene": "nope", "effects": []}):
            status, _, body = request(server, "POST", api + "pick", bad, own(server))
            assert status == 400
            assert json.loads(body)["error"]
    assert session.choices[scene_id].effects == (label,)
    assert session.choices[scene_id].ambient is None
    result = next(r for r in session.annotation().scenes if r.scene.id == scene_id)
    assert result.picked_effects == (label,)
    assert label in result.intervals
    assert others == {i: session.scene_html(i) for i in others}


def test_write_gives_out_and_choices_that_reproduce_it(session: ReviewSession) -> None:
    scene_id, label = an_unpicked_effect(session, 2)
    session.pick(scene_id, [label], None)
    with serving(session) as server:
        status, _, body = request(server, "POST", f"/{server.token}/api/write", {}, own(server))
    assert status == 200, body
    assert json.loads(body) == {"out": str(session.out), "choices": str(session.choices_path)}
    written = otio.adapters.read_from_file(str(session.out))
    placed = {
        (c.metadata["soundify"]["scene_id"], c.metadata["soundify"]["label"])
        for c in written.find_clips()
        if "soundify" in c.metadata and c.metadata["soundify"].get("kind") == "effect"
    }
    assert {lbl for sid, lbl in placed if sid == scene_id} == {label}
    picks = picks_in(session, session.choices_path)
    assert picks == session.choices
    again = annotated_copy(session.timeline, session.soundify.place(session.analysis, picks))
    names = [[c.name for c in t.find_clips()] for t in again.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert names == [[c.name for c in t.find_clips()] for t in written.tracks if t.kind == otio.schema.TrackKind.Audio]


def test_search_covers_the_whole_library(session: ReviewSession) -> None:
    with serving(session) as server:
        status, _, body = request(server, "GET", f"/{server.token}/api/search?q=traffic%20at%20night")
    assert status == 200
    hits = json.loads(body)["results"]
    expected = session.library.search(session.soundify.model, "traffic at night", 12)
    assert [(h["label"], h["file"]) for h in hits] == [(e.label, e.path.name) for e, _ in expected]
    for hit, (entry, _) in zip(hits, expected, strict=True):
        assert session.sounds.path(int(hit["src"].split("/")[1])) == entry.path.resolve()


def test_closing_the_page_ends_the_server(session: ReviewSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "CLOSE_GRACE_SECONDS", 4.0)
    server = ReviewServer(session)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = f"/{server.token}/"
        assert request(server, "POST", page + "api/close", {}, own(server))[0] == 200
        assert request(server, "GET", page)[0] == 200  # a reload inside the grace period keeps it
        time.sleep(4.5)
        assert thread.is_alive()
        assert request(server, "POST", page + "api/close", {}, own(server))[0] == 200
        thread.join(5)
        assert not thread.is_alive()
    finally:
        server.server_close()


def test_closing_the_server_ends_and_joins_its_request_threads(session: ReviewSession) -> None:
    """A client holding a connection open (a keep-alive, a stream) must not leave a thread that holds the
    session past the close: freed later, while the interpreter shuts down, it aborts the process."""
    before = set(threading.enumerate())
    server = ReviewServer(session)
    serve = threading.Thread(target=server.serve_forever, daemon=True)
    serve.start()
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)  # connected, no request sent
    try:
        assert request(server, "GET", f"/{server.token}/")[0] == 200
        deadline = time.monotonic() + 10
        while len(set(threading.enumerate()) - before - {serve}) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the idle connection's thread has started
        assert set(threading.enumerate()) - before - {serve}
        server.shutdown()
        server.server_close()
        serve.join(5)
        assert set(threading.enumerate()) - before == set()
        assert idle.recv(1) == b""  # its connection was ended, not left waiting for a request
    finally:
        idle.close()


@pytest.mark.slow
def test_review_command_prints_one_url_and_ends_on_ctrl_c(project, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "street.soundify.otio"
    command = [
        sys.executable,
        "-c",
        "from soundify_otio.cli import main; main()",
        "review",
        str(project.timeline_otio),
        "-o",
        str(out),
        *analysis_args(project, cache_dir),
        "--no-browser",
    ]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible
    )
    try:
        url = child.stdout.readline().strip()
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/([A-Za-z0-9_-]{20,})/", url)
        assert match, (url, child.stderr.read() if child.poll() is not None else "")
        connection = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=20)
        connection.request("GET", f"/{match.group(2)}/")
        assert connection.getresponse().status == 200
        connection.close()
        child.send_signal(signal.SIGINT)
        rest, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert rest == ""  # the URL was the only line on stdout
    assert "review ended" in err
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=5).connect()
    assert not out.exists()  # nothing is written until the page asks


@pytest.mark.slow
def test_review_prints_a_hostile_timeline_name_escaped(
    project, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    hostile = tmp_path / "cut\x1b[2J\u202e.otio"
    hostile.write_bytes(project.timeline_otio.read_bytes())
    (tmp_path / "media").symlink_to(project.timeline_otio.parent / "media")  # its media paths are relative
    monkeypatch.setattr(ReviewServer, "serve_forever", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(SystemExit) as exited:
        main(["review", str(hostile), *analysis_args(project, cache_dir), "--no-browser"])
    assert exited.value.code == 0
    err = capsys.readouterr().err
    assert "review page for " in err
    assert "cut\\x1b[2J\\u202e.otio" in err
    assert "\x1b" not in err
    assert "\u202e" not in err


def test_review_refuses_an_existing_out_without_force(project, tmp_path: Path, capsys) -> None:
    out = tmp_path / "taken.otio"
    out.write_text("{}")
    with pytest.raises(SystemExit) as exited:
        main(["--quiet", "review", str(project.timeline_otio), "-o", str(out), "--library", str(project.library)])
    assert exited.value.code == 6
    assert str(out) in capsys.readouterr().err
    assert out.read_text() == "{}"


def test_a_session_can_start_from_picks_and_conform_its_sounds(session: ReviewSession, tmp_path: Path) -> None:
    first = session.analysis.scenes[0].scene.id
    label = session.soundify.labels("effect")[0][-1]
    start = {first: Choice((label,), None)}
    again = ReviewSession(
        session.timeline,
        session.timeline_in,
        session.soundify,
        session.analysis,
        tmp_path / "cut.otio",
        ["resolve"],
        choices=start,
        conform="wav",
    )
    assert again.choices[first] == start[first]
    assert again.annotation().scenes[0].picked_effects == (label,)
    again.write()
    written = otio.adapters.read_from_file(str(again.out))
    sounds = [
        Path(unquote(urlsplit(c.media_reference.target_url).path))
        for c in written.find_clips()
        if "soundify" in c.metadata
    ]
    assert sounds
    assert all(s.suffix == ".wav" and s.is_file() for s in sounds)


def test_review_refuses_a_bad_choices_file_before_any_work(project, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "picks.toml"
    bad.write_text("[[scene]\n")
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "--quiet",
                "review",
                str(project.timeline_otio),
                "-o",
                str(tmp_path / "o.otio"),
                "--library",
                str(project.library),
                "--choices",
                str(bad),
            ]
        )
    assert exited.value.code == 7
    assert str(bad) in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picks.toml"]


def _session_writing(session: ReviewSession, out: Path, force: bool = False) -> ReviewSession:
    return ReviewSession(
        session.timeline, session.timeline_in, session.soundify, session.analysis, out, ["resolve"], force=force
    )


def test_write_never_replaces_files_made_after_start_up(session: ReviewSession, tmp_path: Path) -> None:
    """OUT and its choices file did not exist when the review started; something then made them: the
    Write button refuses (no --force), and a second review server on the same OUT cannot replace the
    first one's files, while each server may replace what it wrote itself."""
    first = _session_writing(session, tmp_path / "cut.otio")
    first.out.write_text("the user's timeline")
    with pytest.raises(OutputError, match="pass --force"):
        first.write()
    assert first.out.read_text() == "the user's timeline"
    assert not first.choices_path.exists()
    first.out.unlink()
    first.choices_path.write_text("the user's picks")
    with pytest.raises(OutputError, match="pass --force"):
        first.write()
    assert first.choices_path.read_text() == "the user's picks"
    assert not first.out.exists()
    first.choices_path.unlink()
    first.write()
    written = first.out.read_bytes()
    second = _session_writing(session, tmp_path / "cut.otio")  # another server on the same OUT
    with pytest.raises(OutputError):
        second.write()
    assert first.out.read_bytes() == written
    first.write()  # its own files: replaced
    _session_writing(session, tmp_path / "cut.otio", force=True).write()  # --force: replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.choices.toml", "cut.otio"]


def test_hostile_requests_are_answered_without_a_traceback(session: ReviewSession, capfd) -> None:
    with serving(session) as server:
        base = f"/{server.token}"
        number = session.sounds.number(session.library.entries[0].path)
        huge = "9" * 5000
        assert request(server, "GET", f"{base}/sound/{number}", headers={"Range": f"bytes={huge}-"})[0] == 416
        assert request(server, "GET", f"{base}/sound/{huge}")[0] == 404
        assert request(server, "GET", f"{base}/sound/{quote(chr(0xB2))}")[0] == 404
        deep = b'{"scene": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        assert request(server, "POST", f"{base}/api/pick", deep[: server_module.MAX_BODY], own(server))[0] == 400
        too_deep = b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}"
        assert request(server, "POST", f"{base}/api/pick", too_deep, own(server))[0] == 400
        digits = b'{"scene": ' + huge.encode() + b"}"
        assert request(server, "POST", f"{base}/api/pick", digits, own(server))[0] == 400
        assert request(server, "POST", f"{base}/api/pick", {"scene": 7, "effects": []}, own(server))[0] == 400
        assert request(server, "GET", f"{base}/")[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_the_browser_is_started_on_a_page_only_this_user_can_read(session: ReviewSession) -> None:
    with serving(session) as server:
        launcher = server.write_launcher()
        assert launcher.stat().st_mode & 0o777 == 0o600
        assert launcher.parent.stat().st_mode & 0o777 == 0o700
        assert server.token in launcher.read_text()
        assert server.token not in launcher.as_uri()
        navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        assert request(server, "GET", f"/{server.token}/", headers=navigation)[0] == 200  # the launcher's hop
        assert not launcher.parent.exists()  # gone once the page has loaded
        assert request(server, "GET", f"/{server.token}/api/search?q=door", headers=navigation)[0] == 403
        assert request(server, "GET", "/wrong-token/", headers=navigation)[0] == 403
