"""The HTML report: structure checked with lxml, then rendered by a real headless chromium."""

from __future__ import annotations

import base64
import io
import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import numpy as np
import pytest
import soundfile
from PIL import Image

from soundify_otio.errors import MediaError
from soundify_otio.report.html import write_report
from soundify_otio.timeline.timecode import timecode
from soundify_otio.types import Annotation, Interval, Placement, Scene, SceneResult, SkippedShot, SoundEntry, Suggestion

from helpers.synthetic import hard_cuts
from helpers.threads import counts_threads, native_threads

FPS = 25
CUTS = (30, 60)  # three scenes of 30, 30 and 40 frames
ORIGIN = 3600.0  # timecode 01:00:00:00
EFFECTS = ("dog barking", "car engine", "footsteps", "door slam", "bird chirp")
AMBIENTS = ("city street", "park", "rain", "office", "forest")
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install -y chromium)")


def _sound(label: str, kind: str) -> SoundEntry:
    return SoundEntry(
        path=Path(f"/library/{label}.wav"),
        label=label,
        kind=kind,
        text=label,
        sample_rate=48000,
        channels=2,
        duration=5.0,
    )


def _placement(result: SceneResult, label: str, kind: str, start: float, end: float, pan, gain) -> Placement:
    ranked = result.effects if kind == "effect" else result.ambients
    return Placement(
        label=label,
        kind=kind,
        sound=_sound(label, kind),
        scene_index=result.scene.index,
        scene_id=result.scene.id,
        start=start,
        end=end,
        score=0.3,
        alternatives=ranked,
        pan=tuple(pan),
        gain_db=tuple(gain),
    )


def _ranked(labels: tuple[str, ...], kind: str, shift: int) -> tuple[Suggestion, ...]:
    order = labels[shift:] + labels[:shift]
    return tuple(Suggestion(label, kind, score) for label, score in zip(order, (0.41, 0.22, 0.13, 0.08, 0.05)))


@pytest.fixture(scope="module")
def annotation(tmp_path_factory: pytest.TempPathFactory) -> Annotation:
    """Three scenes over a hard-cuts video: scene 0 with two effects, scene 1 with one, scene 2 with none."""
    video = hard_cuts(tmp_path_factory.mktemp("media") / "cuts.mp4", CUTS, n_frames=100, fps=FPS)
    bounds = [0, *CUTS, 100]
    results = []
    for i in range(3):
        start, end = bounds[i] / FPS, bounds[i + 1] / FPS
        scene = Scene(
            index=i,
            id=f"cuts.mp4@{start:.3f}-{end:.3f}",
            shot_index=0,
            start=start,
            end=end,
            media_path=video,
            media_start=start,
        )
        effects, ambients = _ranked(EFFECTS, "effect", i), _ranked(AMBIENTS, "ambient", i)
        picked, intervals = [
            (
                (effects[0].label, effects[2].label),
                {effects[0].label: (Interval(0.0, 0.4), Interval(0.6, 1.2)), effects[2].label: (Interval(0.2, 1.0),)},
            ),
            ((effects[1].label,), {effects[1].label: (Interval(1.4, 2.2),)}),
            ((), {}),
        ][i]
        results.append(
            SceneResult(
                scene=scene,
                effects=effects,
                ambients=ambients,
                picked_effects=picked,
                picked_ambient=ambients[0].label if i < 2 else None,
                intervals=intervals,
            )
        )
    r0, r1 = results[0], results[1]
    placements = (
        _placement(
            r0,
            r0.picked_effects[0],
            "effect",
            0.0,
            1.2,
            [(0.0, -0.8), (0.6, 0.0), (1.2, 0.7)],
            [(0.0, -9.0), (1.2, -2.0)],
        ),
        _placement(
            r0,
            r0.picked_effects[1],
            "effect",
            0.2,
            1.0,
            [(0.0, 0.5), (0.8, 0.5)],
            [(0.0, -4.0), (0.4, 1.5), (0.8, -4.0)],
        ),
        _placement(r0, r0.picked_ambient, "ambient", 0.0, 1.2, [(0.0, 0.0), (1.2, 0.0)], [(0.0, -18.0), (1.2, -18.0)]),
        _placement(r1, r1.picked_effects[0], "effect", 1.4, 2.2, [(0.1, 0.9), (0.7, -0.9)], [(0.0, -6.0), (0.8, -6.0)]),
        _placement(r1, r1.picked_ambient, "ambient", 1.2, 2.4, [(0.0, 0.0), (1.2, 0.0)], [(0.0, -15.0), (1.2, -15.0)]),
    )
    return Annotation(
        scenes=tuple(results),
        placements=placements,
        skipped_shots=(SkippedShot("B-roll 7", "/missing/broll.mov", "media file not found"),),
        model="RN50",
        weights="none",
        pipeline_check=True,
        timings={"analyse": 1.5},
    )


@pytest.fixture(scope="module")
def report(annotation: Annotation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    wav = out / "preview.wav"
    t = np.arange(24000) / 24000
    soundfile.write(wav, np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.2, 24000)
    path = out / "report.html"
    write_report(annotation, path, title="Cut test", timecode_origin=ORIGIN, frame_rate=FPS, preview_wav=wav)
    return path


def q(el, path: str) -> list:
    """XPath with `.name` as a class test: q(doc, "//section.scene//img") (lxml's cssselect is optional)."""
    return el.xpath(re.sub(r"\.([\w-]+)", r"[contains(concat(' ', normalize-space(@class), ' '), ' \1 ')]", path))


def _scale(svg) -> tuple[float, float, float, float]:
    return tuple(float(svg.get(k)) for k in ("data-t0", "data-t1", "data-x0", "data-x1"))


def _x(svg, t: float) -> float:
    t0, t1, x0, x1 = _scale(svg)
    return x0 + (t - t0) / (t1 - t0) * (x1 - x0)


def test_timecode() -> None:
    assert timecode(3600.0, 25) == "01:00:00:00"
    assert timecode(3600 + 61 + 12 / 25, 25) == "01:01:01:12"
    assert timecode(1001 / 24000 * 24, 24000 / 1001) == "00:00:01:00"


def test_scenes_thumbnails_and_rankings(annotation: Annotation, report: Path) -> None:
    doc = lxml.html.parse(str(report)).getroot()
    assert doc.find(".//title").text == "Cut test"
    assert doc.get_element_by_id("pipeline-check") is not None
    sections = q(doc, "//section.scene[@data-scene-id]")
    assert [s.get("data-scene-id") for s in sections] == [r.scene.id for r in annotation.scenes]
    for section, result in zip(sections, annotation.scenes):
        assert timecode(ORIGIN + result.scene.start, FPS) in q(section, ".//*.tc")[0].text_content()
        images = q(section, ".//div.strip//img")
        assert len(images) == 4
        for img in images:
            head, data = img.get("src").split(",", 1)
            assert head == "data:image/jpeg;base64"
            picture = Image.open(io.BytesIO(base64.b64decode(data)))
            assert picture.size == (160, 90)
        for kind, ranked, picked in (
            ("effects", result.effects, set(result.picked_effects)),
            ("ambients", result.ambients, {result.picked_ambient} - {None}),
        ):
            rows = q(section, f".//table.top5.{kind}//tr.suggestion")
            assert [r.get("data-label") for r in rows] == [s.label for s in ranked]
            assert [float(r.get("data-score")) for r in rows] == pytest.approx([s.score for s in ranked])
            assert {r.get("data-label") for r in rows if "chosen" in r.get("class").split()} == picked
    assert "media file not found" in doc.get_element_by_id("skipped").text_content()


def test_thumbnails_show_their_scene(annotation: Annotation, report: Path) -> None:
    """hard_cuts gives each segment its own grey background: the thumbnails of different scenes differ."""
    doc = lxml.html.parse(str(report)).getroot()
    greys = []
    for section in q(doc, "//section.scene"):
        src = q(section, ".//div.strip//img")[0].get("src").split(",", 1)[1]
        greys.append(np.median(np.asarray(Image.open(io.BytesIO(base64.b64decode(src))).convert("L"))))
    assert min(abs(a - b) for a, b in itertools.pairwise(greys)) > 20


def test_interval_bars_and_curves_match_the_data(annotation: Annotation, report: Path) -> None:
    doc = lxml.html.parse(str(report)).getroot()
    for section, result in zip(q(doc, "//section.scene"), annotation.scenes):
        svg = q(section, ".//svg.intervals")[0]
        bars = q(svg, ".//rect.interval-bar")
        expected = [(label, iv) for label in result.picked_effects for iv in result.intervals.get(label, ())]
        assert len(bars) == len(expected)
        for bar, (label, iv) in zip(bars, expected):
            assert bar.get("data-label") == label
            assert float(bar.get("x")) == pytest.approx(_x(svg, iv.start), abs=0.01)
            assert float(bar.get("x")) + float(bar.get("width")) == pytest.approx(_x(svg, iv.end), abs=0.02)
        placements = [p for p in annotation.placements if p.scene_index == result.scene.index]
        if not placements:
            assert not q(section, ".//svg.curves")
            assert "nothing placed" in section.text_content()
            continue
        curves = q(section, ".//svg.curves")[0]
        assert _scale(curves) == _scale(svg)  # the two plots share one time axis
        for cls, attr in (("pan", "pan"), ("gain", "gain_db")):
            panel = q(curves, f".//g.{cls}-panel")[0]
            lo, hi, y0, y1 = (float(panel.get(k)) for k in ("data-lo", "data-hi", "data-y0", "data-y1"))
            lines = q(panel, f".//polyline.{cls}-curve")
            assert [ln.get("data-label") for ln in lines] == [p.label for p in placements]
            for line, p in zip(lines, placements):
                points = [tuple(map(float, xy.split(","))) for xy in line.get("points").split()]
                for t, v in getattr(p, attr):
                    want = (_x(curves, p.start + t), y0 + (v - lo) / (hi - lo) * (y1 - y0))
                    assert any(abs(x - want[0]) < 0.01 and abs(y - want[1]) < 0.01 for x, y in points), (p.label, t)
                xs = [x for x, _ in points]
                assert xs == sorted(xs)
                assert xs[0] == pytest.approx(_x(curves, p.start), abs=0.01)
                assert xs[-1] == pytest.approx(_x(curves, p.end), abs=0.01)


def test_audio_embedded_or_linked(
    annotation: Annotation, report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = lxml.html.parse(str(report)).getroot()
    src = doc.get_element_by_id("preview-audio").get("src")
    assert src.startswith("data:audio/wav;base64,")
    data, rate = soundfile.read(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert rate == 24000
    assert data.shape == (24000, 2)
    # an embedded preview names no file: the one it was read from is scratch, gone after the run
    assert "preview.wav" not in doc.xpath("string(//div[@class='player'])")

    import soundify_otio.report.html as report_module

    monkeypatch.setattr(report_module, "MAX_EMBED_BYTES", 1000)
    out = tmp_path / "linked.html"
    write_report(annotation, out, title="t", preview_wav=report.parent / "preview.wav", thumbnails_per_scene=0)
    doc = lxml.html.parse(str(out)).getroot()
    assert doc.get_element_by_id("preview-audio").get("src") == os.path.relpath(report.parent / "preview.wav", tmp_path)
    assert "too large to embed" in q(doc, "//div.player//p.warning")[0].text_content()
    assert not q(doc, "//div.strip//img")


def test_missing_media_unranked_pick_and_missing_audio(tmp_path: Path) -> None:
    gone = SceneResult(
        scene=Scene(0, "gone", 0, 0.0, 1.0, tmp_path / "gone.mp4", 0.0),
        effects=(),
        ambients=(),
        picked_effects=("chosen by hand",),
        picked_ambient=None,
    )
    bare = Annotation(
        scenes=(gone,), placements=(), skipped_shots=(), model="RN50", weights="openai", pipeline_check=False
    )
    out = tmp_path / "r.html"
    write_report(bare, out, title="t")
    doc = lxml.html.parse(str(out)).getroot()
    assert "media file not found" in q(doc, "//p.no-thumbs")[0].text_content()
    assert not doc.xpath("//*[@id='pipeline-check']")
    assert not doc.xpath("//audio")
    chosen = q(doc, "//table.effects//tr.chosen")  # a pick from a choices file that the model did not rank
    assert [r.get("data-label") for r in chosen] == ["chosen by hand"]
    assert "not ranked" in chosen[0].text_content()
    with pytest.raises(MediaError, match="preview audio not found"):
        write_report(bare, tmp_path / "r2.html", title="t", preview_wav=tmp_path / "none.wav")
    assert not (tmp_path / "r2.html").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.browser
@needs_chromium
def test_browser_screenshot(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    run = _chromium(
        f"--screenshot={png}", "--window-size=1200,2000", "--hide-scrollbars", report.as_uri(), tmp=tmp_path
    )
    assert png.is_file(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.std() > 10  # not a blank page
    assert len(np.unique(pixels.reshape(-1, 3)[::7], axis=0)) > 50  # thumbnails, colours, text


@pytest.mark.browser
@needs_chromium
def test_browser_dom(annotation: Annotation, report: Path, tmp_path: Path) -> None:
    run = _chromium("--dump-dom", "--virtual-time-budget=2000", report.as_uri(), tmp=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    doc = lxml.html.fromstring(run.stdout)
    ids = [s.get("data-scene-id") for s in q(doc, "//section.scene[@data-scene-id]")]
    assert ids == [r.scene.id for r in annotation.scenes]
    assert len(q(doc, "//section.scene//svg.curves//polyline.pan-curve")) == len(annotation.placements)
    assert len(q(doc, "//section.scene//svg.curves//polyline.gain-curve")) == len(annotation.placements)
    assert doc.xpath("//audio[@id='preview-audio']")


@counts_threads
def test_thumbnails_leave_no_decoder_running(project) -> None:
    """A scene's thumbnails are decoded and their reader closed: none of FFmpeg's decoder threads is left
    behind (a decord reader alive at exit once crashed `review` as the process ended)."""
    from soundify_otio.report.html import _Thumbnails

    thumbnails = _Thumbnails()
    before = native_threads()
    frames = thumbnails.scene(project.video, 1.0, 2.0, 4)
    assert len(frames) == 4
    assert all(uri.startswith("data:image/jpeg;base64,") for _, uri in frames)
    assert native_threads() == before
    assert len(thumbnails.scene(project.video, 4.0, 1.0, 2)) == 2  # the file's probe is kept, not a reader
    assert native_threads() == before
