"""Benchmark of the review page: time from a changed pick to the updated scene.

Run: ``nice python bench/bench_review.py [--minutes 2] [--picks 12] [--sample-only] [--out results.json]``.
Prints one JSON object. Per workload (the sample project; a synthetic timeline of `--minutes`): the
timeline is analysed once (RN50, random weights, frame cache in ~/.cache/soundify-otio/bench), a review
session and server are started, then each pick toggles an effect of a scene spread over the timeline
and is timed three ways:

- ``session_s``: `ReviewSession.pick` + the scene's HTML (Soundify.place_scene: sync, Grad-CAM, curves);
- ``http_s``: the page's request, POST api/pick over HTTP, until the answer is read;
- ``browser_s``: in headless chromium (when /usr/bin/chromium exists), from ticking the checkbox until
  the page shows the re-placed scene.

The goal is under 2 s and independent of the timeline's length: compare the workloads' medians.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from json_report import emit  # bench/ is on sys.path when a benchmark runs as a script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # synthetic footage helpers

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "soundify-otio" / "bench"
CHROMIUM = Path("/usr/bin/chromium")
FPS, SIZE = 25, (640, 360)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def sample_project():
    from soundify_otio.sample.project import build_sample_project

    return build_sample_project(CACHE / "sample")


def synthetic_timeline(minutes: float) -> Path:
    """A cached `minutes`-long synthetic timeline (hard cuts every 2-6 s), generated once."""
    import opentimelineio as otio

    from helpers.synthetic import long_timeline

    folder = CACHE / f"synthetic-{minutes:g}min-{SIZE[1]}p{FPS}"
    path = folder / "timeline.otio"
    if not path.is_file():
        _log(f"generating {minutes:g} min of {SIZE[1]}p{FPS} footage in {folder} (once)")
        otio.adapters.write_to_file(long_timeline(folder, minutes, FPS, SIZE), str(path))
    return path


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 4),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 4),
        "max": round(ordered[-1], 4),
        "n": len(ordered),
    }


def _picks(session, count: int) -> list[tuple[int, list[str], str | None]]:
    """(scene index, effects, ambient) toggling the second-ranked effect on scenes spread evenly."""
    scenes = session.annotation().scenes
    picks = []
    for k in range(count):
        index = round(k * (len(scenes) - 1) / max(count - 1, 1))
        result = session.annotation().scenes[index]
        extra = next((s.label for s in result.effects if s.label not in result.picked_effects), None)
        effects = list(result.picked_effects)
        effects = [e for e in effects if e != extra] if k % 2 else [*effects, *([extra] if extra else [])]
        picks.append((index, effects, result.picked_ambient))
    return picks


def workload(name: str, timeline_path: Path, library: Path, picks: int, work: Path) -> dict:
    from soundify_otio.config import Config
    from soundify_otio.library.sounds import open_library
    from soundify_otio.pipeline.soundify import Soundify
    from soundify_otio.review.server import ReviewServer
    from soundify_otio.review.session import ReviewSession
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.timeline.shots import find_shots
    from soundify_otio.vision.model import load_model

    started = time.perf_counter()
    timeline = read_timeline(timeline_path)
    shots, skipped = find_shots(timeline, timeline_path.resolve().parent)
    config = Config.from_overrides(pretrained="none")
    soundify = Soundify(load_model("RN50", "none", "cpu"), open_library(library), config, cache=CACHE / "frames")
    analysis = soundify.analyse(shots, skipped)
    session = ReviewSession(timeline, timeline_path, soundify, analysis, work / f"{name}.otio", ["resolve"])
    setup_s = time.perf_counter() - started
    _log(f"{name}: {len(analysis.scenes)} scenes analysed and placed in {setup_s:.0f} s")
    session.pick(session.analysis.scenes[0].scene.id, [], None)  # first call: label embeddings, imports

    in_process = []
    for index, effects, ambient in _picks(session, picks):
        scene_id = session.analysis.scenes[index].scene.id
        t0 = time.perf_counter()
        session.pick(scene_id, effects, ambient)
        session.scene_html(scene_id)
        in_process.append(time.perf_counter() - t0)

    server = ReviewServer(session)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        over_http = []
        headers = {"Origin": f"http://127.0.0.1:{server.port}", "Content-Type": "application/json"}
        for index, effects, ambient in _picks(session, picks):
            scene_id = session.analysis.scenes[index].scene.id
            body = json.dumps({"scene": scene_id, "effects": effects, "ambient": ambient})
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            t0 = time.perf_counter()
            connection.request("POST", f"/{server.token}/api/pick", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            over_http.append(time.perf_counter() - t0)
            connection.close()
            assert response.status == 200, response.status
        in_browser = _browser(server, session, picks) if CHROMIUM.is_file() else None
    finally:
        server.shutdown()
        server.server_close()
    duration = timeline.tracks.duration().to_seconds()
    return {
        "timeline_s": round(duration, 1),
        "scenes": len(analysis.scenes),
        "scene_s_median": round(statistics.median(s.scene.end - s.scene.start for s in analysis.scenes), 2),
        "setup_s": round(setup_s, 1),
        "session_s": _summary(in_process),
        "http_s": _summary(over_http),
        "browser_s": _summary(in_browser) if in_browser else "no /usr/bin/chromium",
    }


def _browser(server, session, picks: int) -> list[float]:
    """Tick a checkbox in chromium, wait until the page shows that scene re-placed."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server.url)
        count = len(session.analysis.scenes)
        for k in range(picks):
            index = round(k * (count - 1) / max(picks - 1, 1))
            box = page.locator(f"#scene-{index} table.effects input.pick").nth(1)
            page.evaluate("document.getElementById('status').textContent = ''")
            t0 = time.perf_counter()
            box.click()
            page.wait_for_function(
                "() => document.getElementById('status').textContent.includes('re-placed')", timeout=60_000
            )
            times.append(time.perf_counter() - t0)
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--picks", type=int, default=12)
    parser.add_argument("--sample-only", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    project = sample_project()
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_1min": round(os.getloadavg()[0], 2),
        },
        "model": "RN50, random weights, CPU",
    }
    with tempfile.TemporaryDirectory(prefix="bench-review-") as folder:
        work = Path(folder)
        results["sample"] = workload("sample", project.timeline_otio, project.library, args.picks, work)
        if not args.sample_only:
            long = synthetic_timeline(args.minutes)
            results[f"synthetic_{args.minutes:g}min"] = workload(
                f"synthetic-{args.minutes:g}min", long, project.library, args.picks, work
            )
    emit(results, args.out)


if __name__ == "__main__":
    main()
