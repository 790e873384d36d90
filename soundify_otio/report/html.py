"""A self-contained HTML report of an annotation: thumbnails, rankings, sync intervals, pan/gain curves, preview."""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path

import numpy as np

from soundify_otio.atomic import atomic_write_text
from soundify_otio.config import SETTINGS
from soundify_otio.errors import MediaError, OutputError
from soundify_otio.timeline.timecode import timecode
from soundify_otio.types import Annotation, Curve, Kind, Placement, SceneResult, SpeechRegion
from soundify_otio.vision.decode import FileReader, VideoInfo, probe_video

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
    """Small frames of each media file, decoded by PyAV at thumbnail size; errors become reasons.

    No reader stays open between scenes: each scene's frames are read by a reader closed once they are
    (its decoder threads and buffers go with it)."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[VideoInfo, int] | MediaError] = {}
        """Per file: its probe and the thumbnails' height, or why it cannot give thumbnails."""

    def _file(self, path: Path) -> tuple[VideoInfo, int]:
        """The file's probe and the thumbnails' height (MediaError, remembered, if it has no frames)."""
        if path not in self._files:
            try:
                info = probe_video(path)
                self._files[path] = (info, max(2, round(THUMB_WIDTH * info.height / max(info.width, 1) / 2) * 2))
            except MediaError as exc:
                self._files[path] = exc
        entry = self._files[path]
        if isinstance(entry, MediaError):
            raise entry
        return entry

    def scene(self, path: Path, media_start: float, duration: float, count: int) -> list[tuple[float, str]]:
        """(seconds from the scene's start, data URI) for `count` frames spread evenly over the scene."""
        if count <= 0:
            return []
        from PIL import Image

        info, height = self._file(path)
        offsets = [(k + 0.5) / count * duration for k in range(count)]
        indices = [min(info.frame_count - 1, max(0, int((media_start + o) * info.fps))) for o in offsets]
        try:
            with FileReader(path, (THUMB_WIDTH, height), info=info) as reader:
                frames = reader.rgb(indices)
        except MediaError as exc:
            raise MediaError(f"cannot decode frames {indices} for thumbnails ({exc.reason})", path) from exc
        uris = []
        for frame in frames:
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(frame)).save(buf, "JPEG", quality=82)
            uris.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
        return list(zip(offsets, uris, strict=True))


# --- page parts --------------------------------------------------------------------------------


def _ranking(
    title: str,
    result: SceneResult,
    kind: Kind,
    colours: dict[str, str],
    audition: Callable[[Kind, str], str | None],
) -> str:
    """Top-5 table with score bars (relative to the best), chosen rows marked; each row a pick
    (effects: checkboxes, the ambient: one radio of the scene, or none) and a listen button."""
    suggestions = result.effects if kind == "effect" else result.ambients
    ambient = {result.picked_ambient} if result.picked_ambient else set()
    chosen: set[str] = set(result.picked_effects) if kind == "effect" else ambient
    best = max((s.score for s in suggestions), default=0.0) or 1.0
    group = f"ambient-{result.scene.index}"
    rows = []
    rank_labels = {s.label for s in suggestions}
    entries: list[tuple[int | None, str, float | None]] = [(i + 1, s.label, s.score) for i, s in enumerate(suggestions)]
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
        control = 'type="checkbox"' if kind == "effect" else f'type="radio" name="{group}"'
        pick = (
            f'<input {control} class="pick" data-kind="{kind}" value="{escape(label)}" '
            f'aria-label="pick {escape(label)}"{" checked" if is_chosen else ""}>'
        )
        src = audition(kind, label)
        listen = (
            f'<button type="button" class="audition" data-src="{escape(src)}" title="listen">▶</button>' if src else ""
        )
        rows.append(
            f'<tr class="suggestion{" chosen" if is_chosen else ""}" data-label="{escape(label)}" '
            f'data-score="{"" if score is None else f"{score:.6f}"}">'
            f'<td class="pick">{pick}</td><td class="rank">{rank or "—"}</td>'
            f'<td class="label">{escape(label)} {tag}</td><td class="listen">{listen}</td>'
            f'<td class="score-bar">{bar}</td>'
            f'<td class="score">{"not ranked" if score is None else f"{score:.3f}"}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="6" class="empty">no candidates</td></tr>'
    none = (
        f'<label class="no-ambient"><input type="radio" class="pick" data-kind="ambient" name="{group}" value=""'
        f"{'' if chosen else ' checked'}> no ambient</label>"
        if kind == "ambient"
        else ""
    )
    return (
        f'<div class="ranking {kind}s"><h3>{title}</h3><table class="top5 {kind}s">'
        f"<thead><tr><th>pick</th><th>#</th><th>label</th><th></th><th></th><th>score</th></tr></thead>"
        f"<tbody>{body}</tbody></table>{none}</div>"
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
                if p.onset is not None:  # a fine-synced hit: a tick on the frame of the impact
                    xh = scale.x(p.onset)
                    out.append(
                        f'<line class="hit" data-label="{escape(label)}" data-onset="{p.onset:.6f}" '
                        f'x1="{xh:.2f}" y1="{y + 1:g}" x2="{xh:.2f}" y2="{y + ROW_H - 3:g}" stroke="{colour}">'
                        f"<title>{escape(label)} hit at {p.onset:.2f} s ({escape(p.sound.path.name)})</title></line>"
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
    speech: tuple[SpeechRegion, ...] = (),
) -> list[str]:
    """One value-over-time panel: grid, labelled ticks, the speech regions shaded behind, and one
    polyline per placement."""

    def py(v: float) -> float:
        return y + PANEL_H - (min(max(v, lo), hi) - lo) / (hi - lo) * PANEL_H

    out = [
        f'<g class="panel {cls}-panel" data-lo="{lo:g}" data-hi="{hi:g}" data-y0="{y + PANEL_H:g}" '
        f'data-y1="{y:g}"><text class="panel-title" x="10" y="{y + 14:g}">{title}</text>'
        f'<rect class="plot-bg" x="{X0}" y="{y}" width="{X1 - X0}" height="{PANEL_H}"/>'
    ]
    for region in speech:
        x0, x1 = scale.x(region.start), scale.x(region.end)
        out.append(
            f'<rect class="speech" x="{x0:.2f}" y="{y}" width="{max(x1 - x0, 0.5):.2f}" height="{PANEL_H}" '
            f'data-start="{region.start:.3f}" data-end="{region.end:.3f}"><title>speech '
            f"{region.start - scale.t0:.2f}-{region.end - scale.t0:.2f} s (confidence "
            f"{region.confidence:.2f})</title></rect>"
        )
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
    return [*out, "</g>"]


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
    out += _panel(
        top + PANEL_H + 20, "gain", float(lo), float(hi), gain_ticks, gains, "gain", scale, colours, result.speech
    )
    out += scale.axis(top + 2 * PANEL_H + 20, result.scene.start)
    out.append(_playhead(height))
    out.append("</svg>")
    return "".join(out)


def _dialogue_note(result: SceneResult, interactive: bool) -> str:
    """What the scene's dialogue did to our sounds (nothing without speech); on the review page, its
    switch and a depth field per kind."""
    if not result.speech:
        return ""
    names = {"ambient": "beds", "effect": "effects"}
    depths = ", ".join(_depth_input(kind, names[kind], depth) for kind, depth in sorted(result.duck_depths.items()))
    switch = (
        f'<label class="duck-switch"><input type="checkbox" class="duck"{" checked" if result.duck else ""}> '
        "duck under the dialogue</label> " + (f'<span class="duck-depths">by {depths}</span> · ' if depths else "")
        if interactive
        else ""
    )
    loudness = f", {result.dialogue_lufs:.1f} LUFS" if result.dialogue_lufs is not None else ""
    ducked = ", ".join(f"{names[kind]} {depth:+g} dB" for kind, depth in sorted(result.ducking.items()))
    lines = "line" if len(result.speech) == 1 else "lines"
    return (
        f'<p class="dialogue">{switch}Dialogue: {len(result.speech)} {lines} (shaded){loudness}; '
        f"{'ducked under it: ' + ducked if ducked else 'not ducked'}</p>"
    )


def _depth_input(kind: str, name: str, depth: float) -> str:
    """The review page's field for one kind's dip under the dialogue (dB, in its setting's range)."""
    setting_name = f"duck_{kind}_db"
    setting = SETTINGS[setting_name]
    return (
        f'<label class="duck-depth">{escape(name)} <input type="number" class="duck-depth" '
        f'data-setting="{escape(setting_name)}" min="{setting.low:g}" max="{setting.high:g}" step="any" '
        f'value="{depth:g}" aria-label="{escape(name)} dip under the dialogue (dB)"> dB</label>'
    )


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


@dataclass
class PageContext:
    """What the scene sections of one page share: colours, timecode, thumbnails, and how the page
    reaches sound and media files (relative paths in the static report, the server's URLs in review)."""

    colours: dict[str, str]
    origin: float = 0.0
    rate: float = 24.0
    thumbnails_per_scene: int = 4
    playable: bool = False
    """The page has the whole-timeline preview player (the static report)."""
    sound_href: Callable[[Path], str | None] = lambda path: None
    auditions: Mapping[tuple[str, str], Path] = field(default_factory=dict)
    """(kind, label) -> the file a listen button plays, for candidates nothing placed."""
    media_href: Callable[[Path], str | None] | None = None
    """Set on the review server's page: the scene's picture plays with its mix."""
    thumbs: _Thumbnails = field(default_factory=_Thumbnails)
    strips: dict[str, str] = field(default_factory=dict)
    """Thumbnail strips by scene id, made once (a re-placed scene is not decoded again)."""

    def audition(self, placements: list[Placement]) -> Callable[[Kind, str], str | None]:
        """The listen link of a label: the file placed in this scene, else the audition file."""
        placed = {(p.kind, p.label): p.sound.path for p in placements}

        def href(kind: Kind, label: str) -> str | None:
            path = placed.get((kind, label)) or self.auditions.get((kind, label))
            return self.sound_href(path) if path is not None else None

        return href

    def strip(self, result: SceneResult) -> str:
        scene = result.scene
        if scene.id not in self.strips:
            duration = scene.end - scene.start
            try:
                frames = self.thumbs.scene(scene.media_path, scene.media_start, duration, self.thumbnails_per_scene)
                self.strips[scene.id] = "".join(
                    f'<figure class="thumb"><img src="{uri}" alt="frame at {self.tc(scene.start + o)}">'
                    f"<figcaption>{self.tc(scene.start + o)}</figcaption></figure>"
                    for o, uri in frames
                )
            except MediaError as exc:
                self.strips[scene.id] = f'<p class="no-thumbs">no thumbnails: {escape(str(exc))}</p>'
        return self.strips[scene.id]

    def tc(self, seconds: float) -> str:
        return timecode(self.origin + seconds, self.rate)


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element (no '</script>', no '<!--')."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _mix_data(placements: list[Placement], page: PageContext) -> list[dict]:
    """What the review page's player needs to mix a scene: each sound, where, and its curves."""
    return [
        {
            "label": p.label,
            "kind": p.kind,
            "src": page.sound_href(p.sound.path),
            "start": p.start,
            "end": p.end,
            "pan": [list(k) for k in p.pan],
            "gain_db": [list(k) for k in p.gain_db],
            "fade_in": p.fade_in,
            "fade_out": p.fade_out,
        }
        for p in placements
    ]


def _scene_player(result: SceneResult, placements: list[Placement], page: PageContext) -> str:
    """The review page's picture of the scene, played with its current mix (Web Audio in the page)."""
    if page.media_href is None:
        return ""
    src = page.media_href(result.scene.media_path)
    if src is None:
        return ""
    return (
        f'<div class="scene-player"><video class="scene-video" muted preload="metadata" playsinline '
        f'src="{escape(src)}#t={result.scene.media_start:.3f}" data-media-start="{result.scene.media_start:.6f}">'
        f"</video>"
        f'<button type="button" class="play-mix">▶ play scene with its mix</button></div>'
        f'<script type="application/json" class="scene-mix">{_script_json(_mix_data(placements, page))}</script>'
    )


def _search_box() -> str:
    return (
        '<form class="search" role="search"><input type="search" name="q" placeholder="search the library '
        '(any sound, not only the top 5)" aria-label="search the library"><button type="submit">search</button>'
        '</form><ul class="search-results"></ul>'
    )


def scene_section(result: SceneResult, placements: list[Placement], page: PageContext) -> str:
    """One scene's section: thumbnails, picks with listen buttons, sync bars, pan/gain curves."""
    scene = result.scene
    duration = scene.end - scene.start
    t0 = min([scene.start, *(p.start for p in placements)])
    t1 = max([scene.end, *(p.end for p in placements)])
    scale = _Scale(t0, t1)
    colours = page.colours
    interactive = page.media_href is not None
    automation = (
        _chart(_curves_svg(result, placements, scale, colours))
        + _legend(placements, colours)
        + _dialogue_note(result, interactive)
        if placements
        else '<p class="empty">nothing placed in this scene</p>'
    )
    play = (
        f'<button class="play-scene" type="button" data-start="{scene.start:.3f}">▶ play scene</button>'
        if page.playable
        else ""
    )
    audition = page.audition(placements)
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in result.notes) + _loop_toggles(result, placements)
    return (
        f'<section class="scene" id="scene-{scene.index}" data-scene-id="{escape(scene.id)}" '
        f'data-index="{scene.index}" data-start="{scene.start:.6f}" data-end="{scene.end:.6f}">'
        f'<header><h2>Scene {scene.index + 1}</h2><span class="tc">{page.tc(scene.start)} – '
        f'{page.tc(scene.end)}</span><span class="muted">{duration:.2f} s · '
        f"{escape(scene.media_path.name)} @ {scene.media_start:.2f} s</span>{play}</header>"
        f"{notes}"
        f'<div class="strip">{page.strip(result)}</div>{_scene_player(result, placements, page)}'
        f'<div class="rankings">'
        f"{_ranking('Effects (top 5)', result, 'effect', colours, audition)}"
        f"{_ranking('Ambients (top 5, re-ranked by the chosen effects)', result, 'ambient', colours, audition)}"
        f"</div>{_search_box() if interactive else ''}"
        f"<h3>Sync: where each source is visible</h3>{_chart(_intervals_svg(result, placements, scale, colours))}"
        f"<h3>Automation</h3>{automation}</section>"
    )


def _loop_toggles(result: SceneResult, placements: list[Placement]) -> str:
    """A checkbox per one-shot placed once (no impact found) or looped on request: checked, it loops."""
    labels = sorted({p.label for p in placements if p.once} | result.loops)
    return "".join(
        f'<label class="loop"><input type="checkbox" class="loop" value="{escape(label)}"'
        f"{' checked' if label in result.loops else ''}> loop {escape(label)} over its interval instead</label>"
        for label in labels
    )


def _audio(preview_wav: Path | None, report_path: Path, mix: str) -> tuple[str, bool]:
    """The player (embedded, or a link when too large) with what its mix holds (`mix`, in words), and
    whether it can be driven from the page."""
    if preview_wav is None:
        return "", False
    said = f'<p class="preview-mix muted">The preview holds {escape(mix)}.</p>' if mix else ""
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
            f"{said}</div>"
        ), True
    try:
        data = base64.b64encode(preview_wav.read_bytes()).decode("ascii")
    except OSError as exc:
        raise MediaError(f"cannot read preview audio: {exc.strerror}", preview_wav) from exc
    return (
        f'<div class="player"><audio id="preview-audio" controls preload="metadata" '
        f'src="data:audio/wav;base64,{data}"></audio><span class="muted">preview mix (embedded in this file)'
        f"</span>{said}</div>"
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
    return _chart(
        f'<svg class="overview" viewBox="0 0 {WIDTH:g} 28" width="100%" preserveAspectRatio="none">'
        f"{''.join(blocks)}</svg>"
    )


def _chart(svg: str) -> str:
    """A chart in its own box, which scrolls sideways where the window is too narrow to draw it with labels
    of at least 10 px (report.css gives the charts their smallest width), so the page itself never does."""
    return f'<div class="chart">{svg}</div>'


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


def _asset(name: str) -> str:
    """A stylesheet or script shipped beside this module (package data)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _relative_href(report_path: Path) -> Callable[[Path], str | None]:
    """Links from the report's folder to a file (a file URI where no relative path exists)."""
    folder = report_path.resolve().parent

    def href(path: Path) -> str | None:
        try:
            return Path(os.path.relpath(Path(path).resolve(), folder)).as_posix()
        except ValueError:  # another drive on Windows
            return Path(path).resolve().as_uri()

    return href


@dataclass(frozen=True)
class ReviewTarget:
    """What the review server's page writes (names shown beside its Write button)."""

    out_name: str
    choices_name: str


def _toolbar(review: ReviewTarget | None) -> str:
    if review is None:
        return (
            '<div class="toolbar"><button type="button" id="download-choices">Download choices.toml</button>'
            '<span class="muted">Pick effects and an ambient per scene, then run <code>soundify-otio annotate ... '
            "--choices choices.toml</code> with the downloaded file.</span></div>"
        )
    return (
        f'<div class="toolbar"><button type="button" id="write-timeline">Write timeline</button>'
        f'<span class="muted">writes {escape(review.out_name)} and {escape(review.choices_name)}</span>'
        f'<span id="status" role="status"></span></div>'
    )


def render_html(
    annotation: Annotation,
    *,
    title: str,
    report_path: Path,
    timecode_origin: float = 0.0,
    frame_rate: float = 24.0,
    preview_wav: Path | None = None,
    preview_mix: str = "",
    thumbnails_per_scene: int = 4,
    auditions: Mapping[tuple[str, str], Path] | None = None,
    page: PageContext | None = None,
    review: ReviewTarget | None = None,
) -> str:
    """The page as one string (images, audio, CSS and script inline): the static report, or with
    `page` and `review` the review server's page (its links and picture player come from `page`).
    `preview_mix` says what the preview holds (e.g. RenderStats.mix), shown beside its player."""
    audio, playable = _audio(preview_wav, report_path, preview_mix)
    if page is None:
        page = PageContext(
            colours=_colours(annotation),
            origin=timecode_origin,
            rate=frame_rate,
            thumbnails_per_scene=thumbnails_per_scene,
            playable=playable,
            sound_href=_relative_href(report_path),
            auditions=auditions or {},
        )
    by_scene: dict[int, list[Placement]] = {}
    for p in annotation.placements:
        by_scene.setdefault(p.scene_index, []).append(p)
    sections = "".join(scene_section(r, by_scene.get(r.scene.index, []), page) for r in annotation.scenes)
    n_effects = sum(1 for p in annotation.placements if p.kind == "effect")
    n_ambient = len(annotation.placements) - n_effects
    banner = (
        '<div class="banner" id="pipeline-check">Pipeline check: this run used random CLIP weights. '
        "The suggestions and picks below mean nothing; they only show that the pipeline runs.</div>"
        if annotation.pipeline_check
        else ""
    )
    timings = ", ".join(f"{escape(k)} {v:.1f} s" for k, v in annotation.timings.items())
    mode = "review" if review else "report"
    scripts = _asset("report.js") + (_asset("review.js") if review else "")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="soundify-otio">'
        f"<title>{escape(title)}</title><style>{_asset('report.css')}</style></head>"
        f'<body data-mode="{mode}" data-timeline="{escape(title)}" data-model="{escape(annotation.model)}"><main>'
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta muted">{len(annotation.scenes)} scenes · {n_effects} effect placements · '
        f"{n_ambient} ambient beds · {len(annotation.skipped_shots)} skipped shots · model "
        f"{escape(annotation.model)} ({escape(annotation.weights)}) · {frame_rate:g} fps</p>"
        f"{banner}{audio}{_toolbar(review)}{_overview(annotation)}{sections}{_skipped(annotation)}"
        f"<footer>{'Timings: ' + timings if timings else ''}</footer>"
        f"<script>{scripts}</script></main></body></html>"
    )


def write_report(
    annotation: Annotation,
    path: Path,
    *,
    title: str,
    timecode_origin: float = 0.0,
    frame_rate: float = 24.0,
    preview_wav: Path | None = None,
    preview_mix: str = "",
    thumbnails_per_scene: int = 4,
    auditions: Mapping[tuple[str, str], Path] | None = None,
) -> None:
    """Write the report to `path` atomically (a temp file next to it, renamed over it).
    `auditions` names the file each candidate's listen button plays (placed sounds play their own);
    `preview_mix` says what the preview holds."""
    path = Path(path)
    page = render_html(
        annotation,
        title=title,
        report_path=path,
        timecode_origin=timecode_origin,
        frame_rate=frame_rate,
        preview_wav=preview_wav,
        preview_mix=preview_mix,
        thumbnails_per_scene=thumbnails_per_scene,
        auditions=auditions,
    )
    try:
        atomic_write_text(path, page)
    except OSError as exc:
        raise OutputError(f"cannot write the report: {exc.strerror}", path) from exc
