"""A self-contained HTML report of an annotation: thumbnails, rankings, sync intervals, pan/gain curves, preview."""

from __future__ import annotations

import base64
import io
import math
import os
from html import escape
from pathlib import Path

import numpy as np

from soundify_otio.atomic import atomic_write_text
from soundify_otio.errors import MediaError, OutputError
from soundify_otio.timeline.reading import timecode
from soundify_otio.types import Annotation, Curve, Placement, SceneResult, Suggestion
from soundify_otio.vision.decode import VideoInfo, probe_video

THUMB_WIDTH = 160
MAX_EMBED_BYTES = 50 * 1024 * 1024
"""A preview WAV larger than this is linked, not embedded (browsers choke on huge data URIs)."""
PALETTE = ("#2f6fde", "#e0692b", "#1f9d6b", "#c2378c", "#8a5cd6", "#b08a12", "#1b9fb8", "#d63c3c")
AMBIENT_COLOUR = "#6b7785"

# Plot geometry (SVG user units); the interval chart and the curves share the x scale so they line up.
WIDTH = 1000.0
X0 = 170.0
X1 = 985.0
ROW_H = 26.0
PANEL_H = 110.0


# --- small helpers -----------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else "0"


def _tick_step(span: float, target: int = 8) -> float:
    """A round step giving about `target` ticks over `span` seconds."""
    for step in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span / step <= target:
            return step
    return 1800.0


class _Scale:
    """Timeline seconds -> x in the plot area."""

    def __init__(self, t0: float, t1: float) -> None:
        self.t0, self.t1 = t0, max(t1, t0 + 1e-6)

    def x(self, t: float) -> float:
        return X0 + (t - self.t0) / (self.t1 - self.t0) * (X1 - X0)

    def attrs(self) -> str:
        """Data attributes that let a reader map x back to time."""
        return f'data-t0="{self.t0:.6f}" data-t1="{self.t1:.6f}" data-x0="{X0:g}" data-x1="{X1:g}"'

    def axis(self, y: float, label_seconds_from: float) -> list[str]:
        """Ticks at round seconds from `label_seconds_from`, labelled +N s, drawn at height y."""
        step = _tick_step(self.t1 - self.t0)
        out = [f'<line class="axis" x1="{X0}" y1="{y}" x2="{X1}" y2="{y}"/>']
        k = math.ceil((self.t0 - label_seconds_from) / step - 1e-9)
        while (t := label_seconds_from + k * step) <= self.t1 + 1e-9:
            x = self.x(t)
            out.append(
                f'<line class="tick" x1="{x:.2f}" y1="{y}" x2="{x:.2f}" y2="{y + 4}"/>'
                f'<text class="tick-label" x="{x:.2f}" y="{y + 16}" text-anchor="middle">'
                f"{_num(k * step)} s</text>"
            )
            k += 1
        return out


def _colours(annotation: Annotation) -> dict[str, str]:
    """One colour per effect label across the report (so a label looks the same in every scene), grey for ambients."""
    labels = dict.fromkeys(
        [
            *(label for r in annotation.scenes for label in r.picked_effects),
            *(p.label for p in annotation.placements if p.kind == "effect"),
        ]
    )
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def _curve_points(curve: Curve, placement: Placement) -> list[tuple[float, float]]:
    """The curve in timeline seconds over the placement, first/last value held to its ends."""
    keys = [(placement.start + t, v) for t, v in curve]
    if not keys:
        return []
    if keys[0][0] > placement.start:
        keys.insert(0, (placement.start, keys[0][1]))
    if keys[-1][0] < placement.end:
        keys.append((placement.end, keys[-1][1]))
    return keys


# --- thumbnails --------------------------------------------------------------------------------


class _Thumbnails:
    """Small frames of each media file, decoded by decord at thumbnail size; errors become reasons."""

    def __init__(self) -> None:
        self._readers: dict[Path, tuple[VideoInfo, object] | MediaError] = {}

    def _reader(self, path: Path) -> tuple[VideoInfo, object]:
        if path not in self._readers:
            import decord

            try:
                info = probe_video(path)
                height = max(2, round(THUMB_WIDTH * info.height / max(info.width, 1) / 2) * 2)
                self._readers[path] = (
                    info,
                    decord.VideoReader(str(path), ctx=decord.cpu(0), width=THUMB_WIDTH, height=height),
                )
            except MediaError as exc:
                self._readers[path] = exc
            except (decord.DECORDError, RuntimeError, OSError) as exc:
                self._readers[path] = MediaError(f"cannot decode video ({exc})", path)
        entry = self._readers[path]
        if isinstance(entry, MediaError):
            raise entry
        return entry

    def scene(self, path: Path, media_start: float, duration: float, count: int) -> list[tuple[float, str]]:
        """(seconds from the scene's start, data URI) for `count` frames spread evenly over the scene."""
        if count <= 0:
            return []
        from PIL import Image

        info, reader = self._reader(path)
        offsets = [(k + 0.5) / count * duration for k in range(count)]
        indices = [min(info.frame_count - 1, max(0, int((media_start + o) * info.fps))) for o in offsets]
        try:
            frames = reader.get_batch(indices).asnumpy()
        except Exception as exc:  # decord raises its own error types for broken packets
            raise MediaError(f"cannot decode frames {indices} for thumbnails ({exc})", path) from exc
        uris = []
        for frame in frames:
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(frame)).save(buf, "JPEG", quality=82)
            uris.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
        return list(zip(offsets, uris))


# --- page parts --------------------------------------------------------------------------------


def _ranking(
    title: str, suggestions: tuple[Suggestion, ...], chosen: set[str], colours: dict[str, str], kind: str
) -> str:
    """Top-5 table with score bars (relative to the best), chosen rows marked."""
    best = max((s.score for s in suggestions), default=0.0) or 1.0
    rows = []
    rank_labels = {s.label for s in suggestions}
    entries = [(i + 1, s.label, s.score) for i, s in enumerate(suggestions)]
    entries += [(None, label, None) for label in sorted(chosen - rank_labels)]
    for rank, label, score in entries:
        is_chosen = label in chosen
        colour = colours.get(label, AMBIENT_COLOUR) if is_chosen else "#b9c0c8"
        bar = (
            f'<span class="bar" style="width:{100 * max(score, 0) / best:.1f}%;background:{colour}"></span>'
            if score is not None
            else ""
        )
        tag = '<span class="tag">placed</span>' if is_chosen else ""
        rows.append(
            f'<tr class="suggestion{" chosen" if is_chosen else ""}" data-label="{escape(label)}" '
            f'data-score="{"" if score is None else f"{score:.6f}"}">'
            f'<td class="rank">{rank or "—"}</td><td class="label">{escape(label)} {tag}</td>'
            f'<td class="score-bar">{bar}</td>'
            f'<td class="score">{"not ranked" if score is None else f"{score:.3f}"}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="4" class="empty">no candidates</td></tr>'
    return (
        f'<div class="ranking {kind}"><h3>{title}</h3><table class="top5 {kind}">'
        f"<thead><tr><th>#</th><th>label</th><th></th><th>score</th></tr></thead><tbody>{body}</tbody>"
        f"</table></div>"
    )


def _intervals_svg(result: SceneResult, placements: list[Placement], scale: _Scale, colours: dict[str, str]) -> str:
    """One row per chosen effect: where its source is visible (bars) and where its sound sits (strip)."""
    effect_labels = list(dict.fromkeys([*result.picked_effects, *(p.label for p in placements if p.kind == "effect")]))
    ambient = [p for p in placements if p.kind == "ambient"]
    rows = [(label, "effect") for label in effect_labels] + [(p.label, "ambient") for p in ambient[:1]]
    height = 24 + ROW_H * max(len(rows), 1) + 26
    out = [
        f'<svg class="intervals" viewBox="0 0 {WIDTH:g} {height:g}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" {scale.attrs()} role="img" aria-label="sync intervals">'
    ]
    sx0, sx1 = scale.x(result.scene.start), scale.x(result.scene.end)
    out.append(
        f'<rect class="scene-span" x="{sx0:.2f}" y="8" width="{sx1 - sx0:.2f}" '
        f'height="{ROW_H * max(len(rows), 1) + 8:g}"/>'
    )
    if not rows:
        out.append(f'<text class="empty" x="{X0 + 8}" y="{24 + ROW_H / 2}">no sound placed</text>')
    for i, (label, kind) in enumerate(rows):
        y = 12 + i * ROW_H
        colour = colours.get(label, AMBIENT_COLOUR)
        out.append(
            f'<text class="row-label" x="{X0 - 10}" y="{y + ROW_H / 2 + 4:g}" text-anchor="end">{escape(label)}</text>'
        )
        if kind == "effect":
            for iv in result.intervals.get(label, ()):
                x0, x1 = scale.x(iv.start), scale.x(iv.end)
                out.append(
                    f'<rect class="interval-bar" data-label="{escape(label)}" data-start="{iv.start:.6f}" '
                    f'data-end="{iv.end:.6f}" x="{x0:.2f}" y="{y + 3:g}" width="{max(x1 - x0, 1):.2f}" '
                    f'height="{ROW_H - 12:g}" rx="3" fill="{colour}">'
                    f"<title>{escape(label)} visible {iv.start:.2f}–{iv.end:.2f} s</title></rect>"
                )
        for p in placements:
            if p.label == label and p.kind == kind:
                x0, x1 = scale.x(p.start), scale.x(p.end)
                out.append(
                    f'<rect class="placement-bar {kind}" data-label="{escape(label)}" '
                    f'data-start="{p.start:.6f}" data-end="{p.end:.6f}" x="{x0:.2f}" y="{y + ROW_H - 7:g}" '
                    f'width="{max(x1 - x0, 1):.2f}" height="4" fill="{colour}">'
                    f"<title>{escape(p.sound.path.name)} placed {p.start:.2f}–{p.end:.2f} s</title></rect>"
                )
    out += scale.axis(16 + ROW_H * max(len(rows), 1) + 4, result.scene.start)
    out.append(_playhead(height))
    out.append("</svg>")
    return "".join(out)


def _panel(
    y: float,
    title: str,
    lo: float,
    hi: float,
    ticks: list[tuple[float, str]],
    lines: list[tuple[Placement, list[tuple[float, float]]]],
    cls: str,
    scale: _Scale,
    colours: dict[str, str],
) -> list[str]:
    """One value-over-time panel: grid, labelled ticks and one polyline per placement."""

    def py(v: float) -> float:
        return y + PANEL_H - (min(max(v, lo), hi) - lo) / (hi - lo) * PANEL_H

    out = [
        f'<g class="panel {cls}-panel" data-lo="{lo:g}" data-hi="{hi:g}" data-y0="{y + PANEL_H:g}" '
        f'data-y1="{y:g}"><text class="panel-title" x="10" y="{y + 14:g}">{title}</text>'
        f'<rect class="plot-bg" x="{X0}" y="{y}" width="{X1 - X0}" height="{PANEL_H}"/>'
    ]
    for value, text in ticks:
        gy = py(value)
        out.append(
            f'<line class="grid{" zero" if value == 0 else ""}" x1="{X0}" y1="{gy:.2f}" x2="{X1}" '
            f'y2="{gy:.2f}"/><text class="tick-label" x="{X0 - 6}" y="{gy + 4:.2f}" '
            f'text-anchor="end">{text}</text>'
        )
    for placement, points in lines:
        colour = colours.get(placement.label, AMBIENT_COLOUR)
        coords = " ".join(f"{scale.x(t):.2f},{py(v):.2f}" for t, v in points)
        dash = ' stroke-dasharray="6 4"' if placement.kind == "ambient" else ""
        out.append(
            f'<polyline class="{cls}-curve" data-label="{escape(placement.label)}" '
            f'data-kind="{placement.kind}" points="{coords}" stroke="{colour}"{dash}>'
            f"<title>{escape(placement.label)} ({escape(placement.sound.path.name)})</title></polyline>"
        )
    return out + ["</g>"]


def _curves_svg(result: SceneResult, placements: list[Placement], scale: _Scale, colours: dict[str, str]) -> str:
    """Pan (-1..1) and gain (dB) of each placement of the scene, on the scene's time axis."""
    pans = [(p, _curve_points(p.pan, p)) for p in placements]
    gains = [(p, _curve_points(p.gain_db, p)) for p in placements]
    values = [v for _, pts in gains for _, v in pts]
    lo = 6 * math.floor((min([*values, -12.0]) - 2) / 6)  # keep curves off the panel's edges
    hi = 6 * math.ceil((max([*values, 0.0]) + 2) / 6)
    step = 6 if hi - lo <= 36 else 12
    gain_ticks = [(float(v), f"{v:+d} dB" if v else "0 dB") for v in range(int(hi), int(lo) - 1, -step)]
    pan_ticks = [(1.0, "R"), (0.5, ""), (0.0, "C"), (-0.5, ""), (-1.0, "L")]
    top = 8.0
    height = top + 2 * PANEL_H + 20 + 30
    out = [
        f'<svg class="curves" viewBox="0 0 {WIDTH:g} {height:g}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'{scale.attrs()} role="img" aria-label="pan and gain curves">'
    ]
    out += _panel(top, "pan", -1.0, 1.0, pan_ticks, pans, "pan", scale, colours)
    out += _panel(top + PANEL_H + 20, "gain", float(lo), float(hi), gain_ticks, gains, "gain", scale, colours)
    out += scale.axis(top + 2 * PANEL_H + 20, result.scene.start)
    out.append(_playhead(height))
    out.append("</svg>")
    return "".join(out)


def _playhead(height: float) -> str:
    return f'<line class="playhead" x1="-10" y1="0" x2="-10" y2="{height:g}"/>'


def _legend(placements: list[Placement], colours: dict[str, str]) -> str:
    items = [
        f'<li><span class="swatch{" dashed" if p.kind == "ambient" else ""}" '
        f'style="border-color:{colours.get(p.label, AMBIENT_COLOUR)}"></span>{escape(p.label)} '
        f'<span class="muted">{escape(p.sound.path.name)} · {p.start:.2f}–{p.end:.2f} s</span></li>'
        for p in placements
    ]
    return f'<ul class="legend">{"".join(items)}</ul>' if items else ""


def _scene_section(
    result: SceneResult,
    placements: list[Placement],
    colours: dict[str, str],
    thumbs: _Thumbnails,
    count: int,
    origin: float,
    rate: float,
    playable: bool,
) -> str:
    scene = result.scene
    duration = scene.end - scene.start
    t0 = min([scene.start, *(p.start for p in placements)])
    t1 = max([scene.end, *(p.end for p in placements)])
    scale = _Scale(t0, t1)
    try:
        strip = "".join(
            f'<figure class="thumb"><img src="{uri}" alt="frame at {timecode(origin + scene.start + o, rate)}">'
            f"<figcaption>{timecode(origin + scene.start + o, rate)}</figcaption></figure>"
            for o, uri in thumbs.scene(scene.media_path, scene.media_start, duration, count)
        )
    except MediaError as exc:
        strip = f'<p class="no-thumbs">no thumbnails: {escape(str(exc))}</p>'
    automation = (
        _curves_svg(result, placements, scale, colours) + _legend(placements, colours)
        if placements
        else '<p class="empty">nothing placed in this scene</p>'
    )
    play = (
        f'<button class="play-scene" type="button" data-start="{scene.start:.3f}">▶ play scene</button>'
        if playable
        else ""
    )
    return (
        f'<section class="scene" id="scene-{scene.index}" data-scene-id="{escape(scene.id)}" '
        f'data-index="{scene.index}" data-start="{scene.start:.6f}" data-end="{scene.end:.6f}">'
        f'<header><h2>Scene {scene.index + 1}</h2><span class="tc">{timecode(origin + scene.start, rate)} – '
        f'{timecode(origin + scene.end, rate)}</span><span class="muted">{duration:.2f} s · '
        f"{escape(scene.media_path.name)} @ {scene.media_start:.2f} s</span>{play}</header>"
        f'<div class="strip">{strip}</div>'
        f'<div class="rankings">'
        f"{_ranking('Effects (top 5)', result.effects, set(result.picked_effects), colours, 'effects')}"
        f"{_ranking('Ambients (top 5, re-ranked by the chosen effects)', result.ambients, {result.picked_ambient} - {None}, colours, 'ambients')}"
        f"</div><h3>Sync: where each source is visible</h3>{_intervals_svg(result, placements, scale, colours)}"
        f"<h3>Automation</h3>{automation}</section>"
    )


def _audio(preview_wav: Path | None, report_path: Path) -> tuple[str, bool]:
    """The player (embedded, or a link when too large) and whether it can be driven from the page."""
    if preview_wav is None:
        return "", False
    preview_wav = Path(preview_wav)
    if not preview_wav.is_file():
        raise MediaError("preview audio not found", preview_wav)
    size = preview_wav.stat().st_size
    if size > MAX_EMBED_BYTES:
        try:
            href = os.path.relpath(preview_wav.resolve(), report_path.resolve().parent)
        except ValueError:  # another drive on Windows
            href = preview_wav.resolve().as_uri()
        href = Path(href).as_posix()
        return (
            f'<div class="player"><audio id="preview-audio" controls preload="metadata" src="{escape(href)}">'
            f'</audio><p class="warning">The preview is {size / 2**20:.0f} MB, too large to embed: it is linked '
            f'(<a href="{escape(href)}">{escape(preview_wav.name)}</a>) and plays only next to this file.</p>'
            f"</div>"
        ), True
    try:
        data = base64.b64encode(preview_wav.read_bytes()).decode("ascii")
    except OSError as exc:
        raise MediaError(f"cannot read preview audio: {exc.strerror}", preview_wav) from exc
    return (
        f'<div class="player"><audio id="preview-audio" controls preload="metadata" '
        f'src="data:audio/wav;base64,{data}"></audio><span class="muted">preview mix ({escape(preview_wav.name)})'
        f"</span></div>"
    ), True


def _overview(annotation: Annotation) -> str:
    """A bar of the whole timeline, one block per scene, each a link to its section."""
    if not annotation.scenes:
        return ""
    t0 = min(r.scene.start for r in annotation.scenes)
    t1 = max(r.scene.end for r in annotation.scenes)
    span = max(t1 - t0, 1e-6)
    blocks = []
    for r in annotation.scenes:
        x = (r.scene.start - t0) / span * WIDTH
        w = max((r.scene.end - r.scene.start) / span * WIDTH - 1, 1)
        picks = ", ".join([*r.picked_effects, *([r.picked_ambient] if r.picked_ambient else [])]) or "nothing"
        blocks.append(
            f'<a href="#scene-{r.scene.index}"><rect class="overview-scene" x="{x:.2f}" y="0" '
            f'width="{w:.2f}" height="28"><title>Scene {r.scene.index + 1}: {escape(picks)}</title></rect>'
            f'<text x="{x + 4:.2f}" y="19">{r.scene.index + 1}</text></a>'
        )
    return (
        f'<svg class="overview" viewBox="0 0 {WIDTH:g} 28" width="100%" preserveAspectRatio="none">'
        f"{''.join(blocks)}</svg>"
    )


def _skipped(annotation: Annotation) -> str:
    if not annotation.skipped_shots:
        return ""
    rows = "".join(
        f"<tr><td>{escape(s.clip_name)}</td><td>{escape(s.media or 'no media')}</td><td>{escape(s.reason)}</td></tr>"
        for s in annotation.skipped_shots
    )
    return (
        f'<section id="skipped"><h2>Skipped shots ({len(annotation.skipped_shots)})</h2>'
        f'<table class="skipped"><thead><tr><th>clip</th><th>media</th><th>reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


CSS = """
:root { --ink: #1d2430; --muted: #667085; --line: #d8dde4; --bg: #f4f6f8; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: var(--bg); }
main { max-width: 1120px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 17px; margin: 0; }
h3 { font-size: 13px; margin: 14px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.muted { color: var(--muted); }
.meta { margin: 0 0 12px; }
.banner { background: #fff3cd; border: 1px solid #e0b84c; color: #6b4d00; padding: 10px 14px;
          border-radius: 6px; margin: 12px 0; font-weight: 600; }
.player { position: sticky; top: 0; z-index: 5; background: var(--bg); padding: 8px 0;
          display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.player audio { width: 520px; max-width: 100%; }
.warning { color: #8a4b00; margin: 0; }
svg.overview { display: block; height: 28px; margin: 6px 0 16px; border-radius: 4px; background: var(--line); }
.overview-scene { fill: #9fb3cc; stroke: var(--bg); stroke-width: 1; }
.overview-scene:hover { fill: #2f6fde; }
svg.overview text { font-size: 12px; fill: #1d2430; pointer-events: none; }
section.scene, #skipped { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
                          padding: 14px 18px 10px; margin: 16px 0; }
section.scene > header { display: flex; gap: 14px; align-items: baseline; flex-wrap: wrap; }
.tc { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 13px; }
.play-scene { margin-left: auto; border: 1px solid var(--line); background: #eef3fb; border-radius: 4px;
              padding: 3px 10px; cursor: pointer; font: inherit; }
.strip { display: flex; gap: 8px; margin: 10px 0 4px; overflow-x: auto; }
.thumb { margin: 0; }
.thumb img { display: block; width: 160px; height: auto; border-radius: 3px; border: 1px solid var(--line); }
.thumb figcaption { font: 11px ui-monospace, Menlo, monospace; color: var(--muted); text-align: center; }
.rankings { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
table { border-collapse: collapse; width: 100%; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 1px solid var(--line); }
td { padding: 3px 6px 3px 0; border-bottom: 1px solid #eef0f3; vertical-align: middle; }
td.rank { width: 22px; color: var(--muted); }
td.score { width: 70px; text-align: right; font-variant-numeric: tabular-nums; }
td.score-bar { width: 38%; }
.bar { display: block; height: 10px; border-radius: 2px; min-width: 1px; }
tr.chosen td.label { font-weight: 600; }
.tag { font-size: 10px; font-weight: 600; text-transform: uppercase; background: #1d2430; color: #fff;
       border-radius: 3px; padding: 0 5px; margin-left: 4px; vertical-align: 1px; }
svg.intervals, svg.curves { display: block; }
svg text { font-size: 12px; fill: var(--ink); }
.row-label { font-size: 12px; }
.tick-label { font-size: 11px; fill: var(--muted); }
.panel-title { font-weight: 600; fill: var(--muted); text-transform: uppercase; font-size: 11px; }
.axis, .tick { stroke: #98a2b3; }
.grid { stroke: #e6e9ee; }
.grid.zero { stroke: #b8c0cc; }
.plot-bg { fill: #fafbfc; stroke: var(--line); }
.scene-span { fill: #f1f4f8; }
.interval-bar { opacity: .45; }
polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
.playhead { stroke: #d92d20; stroke-width: 1.5; }
ul.legend { list-style: none; padding: 0; margin: 2px 0 6px; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.swatch { display: inline-block; width: 18px; border-top: 3px solid; vertical-align: middle; margin-right: 6px; }
.swatch.dashed { border-top-style: dashed; }
.empty, .no-thumbs { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
@media (max-width: 760px) { .rankings { grid-template-columns: 1fr; } }
"""

SCRIPT = """
(() => {
  const audio = document.getElementById('preview-audio');
  if (!audio) return;
  document.querySelectorAll('button.play-scene').forEach(b => b.addEventListener('click', () => {
    audio.currentTime = parseFloat(b.dataset.start); audio.play();
  }));
  audio.addEventListener('timeupdate', () => {
    const t = audio.currentTime;
    document.querySelectorAll('section.scene svg[data-t0]').forEach(svg => {
      const t0 = +svg.dataset.t0, t1 = +svg.dataset.t1, x0 = +svg.dataset.x0, x1 = +svg.dataset.x1;
      const x = t >= t0 && t <= t1 ? x0 + (t - t0) / (t1 - t0) * (x1 - x0) : -10;
      const line = svg.querySelector('.playhead');
      line.setAttribute('x1', x); line.setAttribute('x2', x);
    });
  });
})();
"""


def render_html(
    annotation: Annotation,
    *,
    title: str,
    report_path: Path,
    timecode_origin: float = 0.0,
    frame_rate: float = 24.0,
    preview_wav: Path | None = None,
    thumbnails_per_scene: int = 4,
) -> str:
    """The report page as one string (images, audio, CSS and script inline)."""
    audio, playable = _audio(preview_wav, report_path)
    thumbs = _Thumbnails()
    by_scene: dict[int, list[Placement]] = {}
    for p in annotation.placements:
        by_scene.setdefault(p.scene_index, []).append(p)
    colours = _colours(annotation)
    sections = "".join(
        _scene_section(
            r,
            by_scene.get(r.scene.index, []),
            colours,
            thumbs,
            thumbnails_per_scene,
            timecode_origin,
            frame_rate,
            playable,
        )
        for r in annotation.scenes
    )
    n_effects = sum(1 for p in annotation.placements if p.kind == "effect")
    n_ambient = len(annotation.placements) - n_effects
    banner = (
        '<div class="banner" id="pipeline-check">Pipeline check: this run used random CLIP weights. '
        "The suggestions and picks below mean nothing; they only show that the pipeline runs.</div>"
        if annotation.pipeline_check
        else ""
    )
    timings = ", ".join(f"{escape(k)} {v:.1f} s" for k, v in annotation.timings.items())
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="soundify-otio">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta muted">{len(annotation.scenes)} scenes · {n_effects} effect placements · '
        f"{n_ambient} ambient beds · {len(annotation.skipped_shots)} skipped shots · model "
        f"{escape(annotation.model)} ({escape(annotation.weights)}) · {frame_rate:g} fps</p>"
        f"{banner}{audio}{_overview(annotation)}{sections}{_skipped(annotation)}"
        f"<footer>{'Timings: ' + timings if timings else ''}</footer>"
        f"<script>{SCRIPT}</script></main></body></html>"
    )


def write_report(
    annotation: Annotation,
    path: Path,
    *,
    title: str,
    timecode_origin: float = 0.0,
    frame_rate: float = 24.0,
    preview_wav: Path | None = None,
    thumbnails_per_scene: int = 4,
) -> None:
    """Write the report to `path` atomically (a temp file next to it, renamed over it)."""
    path = Path(path)
    page = render_html(
        annotation,
        title=title,
        report_path=path,
        timecode_origin=timecode_origin,
        frame_rate=frame_rate,
        preview_wav=preview_wav,
        thumbnails_per_scene=thumbnails_per_scene,
    )
    try:
        atomic_write_text(path, page)
    except OSError as exc:
        raise OutputError(f"cannot write the report: {exc.strerror}", path) from exc
