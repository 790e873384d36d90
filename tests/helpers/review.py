"""A review session over the sample project with the known-answer model, its server in a thread, and a headless
chromium."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from soundify_otio.config import Config
from soundify_otio.library.sounds import open_library
from soundify_otio.pipeline.choices import check_choices, known_labels, read_choices
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.review.server import ReviewServer
from soundify_otio.review.session import ReviewSession
from soundify_otio.timeline.reading import read_timeline
from soundify_otio.timeline.shots import find_shots
from soundify_otio.types import Choice

from helpers.known_answer import colour_model

CHROMIUM = Path("/usr/bin/chromium")
needs_browser = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="no /usr/bin/chromium (apt-get install -y chromium)"),
]


def sample_session(project, cache_dir: Path, out: Path) -> ReviewSession:
    """The sample project analysed once (frame cache shared by the session's tests), picks at their defaults."""
    timeline = read_timeline(project.timeline_otio)
    shots, skipped = find_shots(timeline, project.timeline_otio.resolve().parent, [])
    soundify = Soundify(
        colour_model(), open_library(project.library), Config.from_overrides(pretrained="none"), cache=cache_dir
    )
    return ReviewSession(timeline, project.timeline_otio, soundify, soundify.analyse(shots, skipped), out, ["resolve"])


def picks_in(session: ReviewSession, choices: Path) -> dict[str, Choice]:
    """A choices file read and checked as annotate --choices would, against the session's scenes and labels."""
    labels = known_labels(session.soundify)
    scene_ids = [s.scene.id for s in session.analysis.scenes]
    return check_choices(read_choices(choices), scene_ids, labels["effect"], labels["ambient"])


@contextmanager
def serving(session: ReviewSession) -> Iterator[ReviewServer]:
    """The session's review server (127.0.0.1, a free port) answering in a daemon thread; shut and joined after."""
    server = ReviewServer(session)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def request(
    server: ReviewServer, method: str, path: str, body: object = None, headers: dict | None = None
) -> tuple[int, dict, bytes]:
    """One request to the server: its status, headers and body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    try:
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def own(server: ReviewServer) -> dict:
    """The headers of a JSON request from the server's own page."""
    return {"Origin": f"http://127.0.0.1:{server.port}", "Content-Type": "application/json"}


@contextmanager
def chromium() -> Iterator:
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu", "--mute-audio"]
        )
        try:
            yield browser
        finally:
            browser.close()
