"""A review session over the sample project with the known-answer model, and a headless chromium."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from soundify_otio.config import Config
from soundify_otio.library.sounds import open_library
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.review.session import ReviewSession
from soundify_otio.timeline.reading import find_shots, read_timeline

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
        colour_model(), open_library(project.library), Config.from_overrides(pretrained="none"), cache_dir=cache_dir
    )
    return ReviewSession(timeline, project.timeline_otio, soundify, soundify.analyse(shots, skipped), out, ["resolve"])


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
