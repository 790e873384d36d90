"""The review page and the static report in a real browser (Debian's chromium through Playwright):
listen, pick, see the scene re-placed, write / download, and check what was written carries the pick."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import opentimelineio as otio
import pytest
import soundfile

from soundify_otio.config import Config
from soundify_otio.report.auditions import audition_files
from soundify_otio.report.html import write_report
from soundify_otio.review.session import ReviewSession
from soundify_otio.types import Choice

from helpers.review import chromium, needs_browser, picks_in, sample_session, serving

pytestmark = needs_browser
TIMEOUT_MS = 20_000


@pytest.fixture
def session(project, cache_dir: Path, tmp_path: Path) -> ReviewSession:
    return sample_session(project, cache_dir, tmp_path / "street.soundify.otio")


def listen_and_check_duration(page, button, path_of) -> None:
    """Click a listen button: the page's audio element loads the file and reports its duration."""
    button.click()
    page.wait_for_function(
        "() => { const a = document.getElementById('audition'); return a.readyState >= 1 && isFinite(a.duration); }",
        timeout=TIMEOUT_MS,
    )
    duration = page.evaluate("document.getElementById('audition').duration")
    assert duration == pytest.approx(soundfile.info(str(path_of(button.get_attribute("data-src")))).duration, abs=0.05)


def curves(page, index: int) -> list[tuple[str, str, str]]:
    return page.eval_on_selector_all(
        f"#scene-{index} polyline.gain-curve, #scene-{index} polyline.pan-curve",
        "els => els.map(e => [e.getAttribute('class'), e.dataset.label, e.getAttribute('points')])",
    )


def test_review_page_pick_listen_write(session: ReviewSession) -> None:
    scene = session.annotation().scenes[0]
    label = next(s.label for s in scene.effects if s.label not in scene.picked_effects)
    _, want = session.soundify.place_scene(session.analysis.scenes[0], Choice((*scene.picked_effects, label), None))
    with serving(session) as server, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url)
        assert page.locator("section.scene").count() == len(session.analysis.scenes)

        listen_and_check_duration(
            page,
            page.locator("#scene-0 table.effects button.audition").first,
            lambda src: session.sounds.path(int(src.split("/")[1])),
        )
        page.wait_for_function(
            "() => { const v = document.querySelector('#scene-0 video'); return v.readyState >= 1; }",
            timeout=TIMEOUT_MS,
        )
        assert page.evaluate("document.querySelector('#scene-0 video').duration") > 0

        before = curves(page, 0)
        page.locator(f'#scene-0 table.effects input.pick[value="{label}"]').check()
        page.wait_for_function("() => document.getElementById('status').textContent.includes('re-placed')")
        page.locator("#scene-0 input.pick[data-kind='ambient'][value='']").check()
        page.wait_for_function(
            "label => [...document.querySelectorAll('#scene-0 polyline.gain-curve')].every(e => e.dataset.kind"
            " === 'effect') && [...document.querySelectorAll('#scene-0 polyline.gain-curve')].some(e => "
            "e.dataset.label === label)",
            arg=label,
            timeout=TIMEOUT_MS,
        )
        after = curves(page, 0)
        assert after != before
        assert sorted(lbl for cls, lbl, _ in after if cls == "gain-curve") == sorted(p.label for p in want)
        assert "re-placed in" in page.text_content("#status")

        page.click("#write-timeline")
        page.wait_for_function("() => document.getElementById('status').textContent.startsWith('wrote')")
        assert errors == []

    written = otio.adapters.read_from_file(str(session.out))
    placed = sorted(
        c.metadata["soundify"]["label"]
        for c in written.find_clips()
        if "soundify" in c.metadata and c.metadata["soundify"].get("scene_id") == scene.scene.id
    )
    assert placed == sorted(p.label for p in want)
    picks = picks_in(session, session.choices_path)
    assert picks[scene.scene.id] == Choice((*scene.picked_effects, label), None)


def test_review_page_search_adds_a_sound_beyond_the_top5(session: ReviewSession) -> None:
    scene = session.annotation().scenes[1]
    ranked = {s.label for s in scene.effects}
    with serving(session) as server, chromium() as browser:
        page = browser.new_page()
        page.goto(server.url)
        page.fill("#scene-1 form.search input", "bicycle bell ringing")
        page.click("#scene-1 form.search button")
        results = page.locator("#scene-1 ul.search-results li")
        results.first.wait_for(timeout=TIMEOUT_MS)
        texts = results.all_text_contents()
        hit = next(
            i for i, t in enumerate(texts) if "(effect," in t and t.split("▶", 1)[1].split(" (")[0] not in ranked
        )
        label = texts[hit].split("▶", 1)[1].split(" (")[0]
        results.nth(hit).locator("button.use-sound").click()
        page.wait_for_selector(f'#scene-1 tr.suggestion.chosen[data-label="{label}"]', timeout=TIMEOUT_MS)
        assert page.locator(f'#scene-1 polyline.gain-curve[data-label="{label}"]').count() >= 1
    assert label in session.choices[scene.scene.id].effects


def test_a_page_from_another_origin_cannot_drive_the_server(session: ReviewSession) -> None:
    """A page served from another local port tries to read and to write through the review server."""

    class Other(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!DOCTYPE html><title>other</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    other = ThreadingHTTPServer(("127.0.0.1", 0), Other)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    before = dict(session.choices)
    scene_id = session.analysis.scenes[0].scene.id
    try:
        with serving(session) as server, chromium() as browser:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{other.server_address[1]}/")
            outcome = page.evaluate(
                """async ([url, scene]) => {
                  const tries = [
                    fetch(url + 'api/search?q=dog').then(r => 'read ' + r.status),
                    fetch(url + 'api/write', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                              body: '{}'}).then(r => 'write ' + r.status),
                    fetch(url + 'api/write', {method: 'POST', mode: 'no-cors', body: '{}'}).then(r => r.type),
                    fetch(url + 'api/pick', {method: 'POST', mode: 'no-cors',
                      body: JSON.stringify({scene, effects: []})}).then(r => r.type),
                  ];
                  return Promise.all(tries.map(t => t.catch(e => 'blocked')));
                }""",
                [server.url, scene_id],
            )
    finally:
        other.shutdown()
        other.server_close()
    assert outcome[:2] == ["blocked", "blocked"]  # no CORS grant: the page cannot read any answer
    assert session.choices == before  # and the no-cors posts changed nothing
    assert not session.out.exists()
    assert not session.choices_path.exists()


def test_static_report_listen_pick_download(session: ReviewSession, tmp_path: Path) -> None:
    annotation = session.annotation()
    report = tmp_path / "report.html"
    auditions = audition_files(session.library, annotation, Config())
    write_report(annotation, report, title="street.otio", thumbnails_per_scene=1, auditions=auditions)
    scene = annotation.scenes[0]
    label = next(s.label for s in scene.effects if s.label not in scene.picked_effects)
    ambient = next(s.label for s in scene.ambients if s.label != scene.picked_ambient)
    with chromium() as browser:
        page = browser.new_page(accept_downloads=True)
        page.goto(report.as_uri())
        listen_and_check_duration(
            page, page.locator("#scene-0 table.ambients button.audition").first, lambda src: report.parent / src
        )
        page.locator(f'#scene-0 table.effects input.pick[value="{label}"]').check()
        page.locator(f'#scene-0 table.ambients input.pick[value="{ambient}"]').check()
        for effect in scene.picked_effects:
            page.locator(f'#scene-0 table.effects input.pick[value="{effect}"]').uncheck()
        page.locator("#scene-1 table.effects input.pick:checked").first.uncheck()
        with page.expect_download() as download:
            page.click("#download-choices")
        saved = tmp_path / "choices.toml"
        download.value.save_as(saved)
        suggested = download.value.suggested_filename
    picks = picks_in(session, saved)
    assert suggested == "choices.toml"
    assert picks[scene.scene.id] == Choice((label,), ambient)
    second = annotation.scenes[1]
    assert picks[second.scene.id] == Choice(second.picked_effects[1:], second.picked_ambient)
    for other in annotation.scenes[2:]:
        assert picks[other.scene.id] == Choice(other.picked_effects, other.picked_ambient)


HOSTILE = ('door "slam" \\ </script><img class="injected" src=x onerror="window.pwned=1">', "rain\nroof \u007f 🚲")


def test_hostile_labels_stay_text_in_the_page_and_the_choices_file(tmp_path: Path) -> None:
    """Labels come from file names and tags: quotes, markup, a newline, DEL and emoji must survive as text."""
    import tomllib

    from soundify_otio.types import Annotation, Scene, SceneResult, Suggestion

    effect, ambient = HOSTILE
    scene = Scene(0, 'clip "1" <b>@0-2', 0, 0.0, 2.0, tmp_path / "gone.mp4", 0.0)
    result = SceneResult(
        scene=scene,
        effects=(Suggestion(effect, "effect", 0.4), Suggestion("bell", "effect", 0.2)),
        ambients=(Suggestion(ambient, "ambient", 0.3),),
        picked_effects=(),
        picked_ambient=None,
    )
    annotation = Annotation(
        scenes=(result,), placements=(), skipped_shots=(), model="RN50", weights="none", pipeline_check=True
    )
    report = tmp_path / "report.html"
    write_report(annotation, report, title='cut "A" </title><script>window.pwned=1</script>', thumbnails_per_scene=0)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(report.as_uri())
        page.locator("#scene-0 table.effects input.pick").first.check()
        page.locator("#scene-0 table.ambients input.pick").first.check()
        assert page.evaluate("window.pwned") is None
        assert page.locator(".injected").count() == 0
        assert page.locator("#scene-0 table.effects td.label").first.text_content().strip() == f"{effect}"
        text = page.evaluate("window.soundify.choicesToml()")
    data = tomllib.loads(text)
    assert data["timeline"] == 'cut "A" </title><script>window.pwned=1</script>'
    (table,) = data["scene"]
    assert (table["id"], table["effects"], table["ambient"]) == (scene.id, [effect], ambient)
    assert table["effect_candidates"] == [[effect, 0.4], ["bell", 0.2]]


LAYOUT = """() => {
  const root = document.documentElement;
  const small = [];
  for (const text of document.querySelectorAll('svg text')) {
    const box = text.getBoundingClientRect();
    if (!box.width || !text.textContent.trim()) continue;
    const ctm = text.getScreenCTM();
    const px = parseFloat(getComputedStyle(text).fontSize) * Math.min(Math.abs(ctm.a), Math.abs(ctm.d));
    if (px < 10) small.push([text.textContent, Math.round(px * 10) / 10]);
  }
  const texts = document.querySelectorAll('svg text').length;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => !e.closest('.chart, .strip') && e.getBoundingClientRect().right > root.clientWidth)
    .slice(0, 8).map(e => `${e.tagName}.${e.getAttribute('class')} ${Math.round(e.getBoundingClientRect().right)}`);
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, small, texts, wide};
}"""
"""The page's width against the window's, and every chart label drawn smaller than 10 px (its CSS size times
the chart's scale on screen; the smaller of the two axes, so a label squeezed sideways counts too)."""


def check_layout(page, width: int, shot: Path) -> None:
    """At `width` CSS px: no horizontal overflow of the page, chart labels at least 10 px; a screenshot kept."""
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(200)
    page.screenshot(path=str(shot), full_page=True)
    layout = page.evaluate(LAYOUT)
    assert layout["texts"] > 0
    assert layout["scrollWidth"] <= layout["clientWidth"] == width, layout["wide"]
    assert not layout["small"], layout["small"][:10]


@pytest.mark.parametrize("width", [390, 1440])
def test_report_and_review_page_fit_a_small_screen(session: ReviewSession, tmp_path: Path, width: int) -> None:
    """A phone's 390 px and a desktop's 1440 px: the static report and the review page both fit the width
    (charts too wide for it scroll inside their own box) and every chart label stays readable."""
    report = tmp_path / "report.html"
    write_report(session.annotation(), report, title="street.otio", thumbnails_per_scene=2)
    with serving(session) as server, chromium() as browser:
        page = browser.new_page()
        page.goto(report.as_uri())
        check_layout(page, width, tmp_path / f"report-{width}.png")
        page.goto(server.url)
        page.wait_for_selector("section.scene svg.curves", timeout=TIMEOUT_MS)
        check_layout(page, width, tmp_path / f"review-{width}.png")


def test_the_launcher_page_opens_the_review_page_and_goes(session: ReviewSession) -> None:
    """The browser is started on a private file (the token never on a command line); from it the
    browser reaches the page, which works (a pick re-places its scene), and the file is removed."""
    with serving(session) as server, chromium() as browser:
        launcher = server.write_launcher()
        page = browser.new_page()
        page.goto(launcher.as_uri())
        page.wait_for_url(server.url, timeout=TIMEOUT_MS)
        page.wait_for_selector("#scene-1", timeout=TIMEOUT_MS)
        assert not launcher.exists()
        search = page.locator("#scene-1 form.search input")
        search.fill("bell")
        page.click("#scene-1 form.search button")
        page.locator("#scene-1 ul.search-results li").first.wait_for(timeout=TIMEOUT_MS)  # the API answers it
