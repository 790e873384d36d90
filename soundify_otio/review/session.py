"""A review session: the editor's picks over one analysed timeline. A pick re-places its scene from
the cached analysis (no decoding, no encoding); the session renders the page and writes OUT."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import opentimelineio as otio

from soundify_otio.app.api import write_timeline
from soundify_otio.atomic import staged_outputs
from soundify_otio.errors import ChoicesError, OutputError
from soundify_otio.library.sounds import SoundLibrary
from soundify_otio.pipeline.analysis import Analysis
from soundify_otio.pipeline.choices import DUCK_DEPTHS, duck_depth_problem, render_choices
from soundify_otio.pipeline.soundify import Soundify
from soundify_otio.report.auditions import audition_files
from soundify_otio.report.html import PALETTE, PageContext, ReviewTarget, render_html, scene_section
from soundify_otio.timeline.timecode import timeline_rate
from soundify_otio.timeline.writeback import annotated_copy
from soundify_otio.types import Annotation, Choice, Placement, SceneResult, SoundEntry


class PickError(ChoicesError):
    """A pick the session cannot apply (unknown scene or label); the page shows the message."""


def choices_path_for(out: Path) -> Path:
    """The choices file written beside OUT: `cut.soundify.otio` -> `cut.soundify.choices.toml`."""
    return out.with_name(f"{out.stem}.choices.toml")


class ServedFiles:
    """The only files the review server hands out, each under an opaque number (never a path)."""

    def __init__(self) -> None:
        self._paths: list[Path] = []
        self._ids: dict[Path, int] = {}

    def add(self, path: Path) -> int:
        path = Path(path).resolve()
        if path not in self._ids:
            self._ids[path] = len(self._paths)
            self._paths.append(path)
        return self._ids[path]

    def path(self, number: int) -> Path | None:
        return self._paths[number] if 0 <= number < len(self._paths) else None

    def number(self, path: Path) -> int | None:
        return self._ids.get(Path(path).resolve())


class ReviewSession:
    """Picks per scene, the current placements, the page, and the outputs (thread-safe)."""

    def __init__(
        self,
        timeline: otio.schema.Timeline,
        timeline_in: Path,
        soundify: Soundify,
        analysis: Analysis,
        out: Path,
        targets: Sequence[str],
        choices: Mapping[str, Choice] | None = None,
        conform: str | None = None,
        force: bool = False,
    ) -> None:
        """`choices`: the picks to start from (checked ones, e.g. AnalysedTimeline.check_choices), else the
        defaults; `conform`: how Write timeline conforms the sounds (as `annotate --conform-media`);
        `force`: Write timeline may replace an OUT or choices file this session did not write."""
        self.timeline, self.timeline_in, self.soundify, self.analysis = timeline, timeline_in, soundify, analysis
        self.library = cast(SoundLibrary, soundify.library)
        self.out, self.targets, self.conform = out, tuple(targets), conform
        self.choices_path = choices_path_for(out)
        self.force = force
        self._written: dict[Path, tuple[int, ...] | None] = {}
        """What this session's last write left at OUT and the choices file (so the next may replace it)."""
        self.origin = timeline.global_start_time.to_seconds() if timeline.global_start_time else 0.0
        self.rate = timeline_rate(timeline)
        self._lock = threading.Lock()
        self._scenes = {s.scene.id: s for s in analysis.scenes}
        self._base = soundify.place(analysis, choices)
        self._results: dict[str, SceneResult] = {r.scene.id: r for r in self._base.scenes}
        self._placements: dict[str, list[Placement]] = {scene_id: [] for scene_id in self._results}
        for placement in self._base.placements:
            self._placements[placement.scene_id].append(placement)
        self.choices = {
            r.scene.id: replace(
                (choices or {}).get(r.scene.id) or Choice((), None),
                effects=r.picked_effects,
                ambient=r.picked_ambient,
                loops=r.loops,
            )
            for r in self._base.scenes
        }
        self._labels = {kind: set(soundify.labels(kind)[0]) for kind in ("effect", "ambient")}
        self.sounds, self.media = ServedFiles(), ServedFiles()
        for entry in self.library.entries:
            self.sounds.add(entry.path)
        for analysed in analysis.scenes:
            self.media.add(analysed.scene.media_path)
        self.page = PageContext(
            colours={},
            origin=self.origin,
            rate=self.rate,
            sound_href=self._href("sound", self.sounds),
            auditions=audition_files(self.library, self._base, soundify.config),
            media_href=self._href("media", self.media),
        )
        self._colour([p.label for p in self._base.placements if p.kind == "effect"])

    @staticmethod
    def _href(route: str, files: ServedFiles):
        def href(path: Path) -> str | None:
            number = files.number(path)
            return None if number is None else f"{route}/{number}"

        return href

    def _colour(self, labels: Sequence[str]) -> None:
        """A colour per effect label, kept for the session (a new pick does not recolour other scenes)."""
        for label in labels:
            self.page.colours.setdefault(label, PALETTE[len(self.page.colours) % len(PALETTE)])

    def annotation(self) -> Annotation:
        """The run as it stands: every scene with its current picks and placements."""
        order = [s.scene.id for s in self.analysis.scenes]
        return replace(
            self._base,
            scenes=tuple(self._results[i] for i in order),
            placements=tuple(p for i in order for p in self._placements[i]),
        )

    def pick(
        self,
        scene_id: str,
        effects: Sequence[str],
        ambient: str | None,
        duck: bool | None = None,
        loops: Sequence[str] = (),
        depths: Mapping[str, object] | None = None,
    ) -> float:
        """Re-place one scene with new picks (its ducking switched on or off where `duck` says, its depths
        set where `depths` names them: duck_ambient_db, duck_effect_db; `loops`: one-shots to loop where
        no impact is found); the seconds it took. PickError, and nothing changed, for a bad pick."""
        started = time.perf_counter()
        analysed = self._scenes.get(scene_id)
        if analysed is None:
            raise PickError(f"no scene '{scene_id}' in this timeline")
        for label in effects:
            if label not in self._labels["effect"]:
                raise PickError(f"'{label}' is not an effect of the library")
        if ambient and ambient not in self._labels["ambient"]:
            raise PickError(f"'{ambient}' is not an ambience of the library")
        decibels: dict[str, float] = {}
        for name, value in (depths or {}).items():
            problem = duck_depth_problem(name, value) if name in DUCK_DEPTHS else f"'{name}' is not a ducking depth"
            if problem is not None:
                raise PickError(problem)
            decibels[name] = float(cast(float, value))
        with self._lock:  # the scene's ducking (from the choices file or the page) stays as it was
            before = self.choices[scene_id]
            choice = replace(
                before,
                effects=tuple(dict.fromkeys(effects)),
                ambient=ambient or None,
                loops=frozenset(loops) & set(effects),
                duck=before.duck if duck is None else duck,
                duck_ambient_db=decibels.get("duck_ambient_db", before.duck_ambient_db),
                duck_effect_db=decibels.get("duck_effect_db", before.duck_effect_db),
            )
            result, placements = self.soundify.place_scene(analysed, choice)
            self.choices[scene_id] = choice
            self._results[scene_id], self._placements[scene_id] = result, placements
            self._colour(choice.effects)
        return time.perf_counter() - started

    def scene_html(self, scene_id: str) -> str:
        with self._lock:
            return scene_section(self._results[scene_id], self._placements[scene_id], self.page)

    def page_html(self) -> str:
        with self._lock:
            return render_html(
                self.annotation(),
                title=self.timeline_in.name,
                report_path=self.out,
                timecode_origin=self.origin,
                frame_rate=self.rate,
                page=self.page,
                review=ReviewTarget(self.out.name, self.choices_path.name),
            )

    def search(self, text: str, limit: int = 12) -> list[tuple[SoundEntry, float]]:
        """The library's text search (CLIP text similarity over every sound)."""
        with self._lock:
            return self.library.search(self.soundify.model, text, limit)

    def _may_replace(self) -> bool:
        """Whether Write timeline may replace OUT and the choices file: with --force, or when each is
        missing or still the very file this session wrote last (not one made by anything else since)."""
        return self.force or all(
            _file_identity(path) in (None, self._written.get(path)) for path in (self.out, self.choices_path)
        )

    def write(self) -> tuple[Path, Path]:
        """Write OUT (as `annotate` does: write_timeline) and the choices file beside it: both or neither.
        Without --force neither replaces a file this session did not write, checked at the moment of
        writing (the file may have appeared after start-up: another program, a second review server)."""
        with self._lock:
            replace = self._may_replace()
            if not replace and _file_identity(self.choices_path) is not None:
                raise OutputError(
                    "exists (made after the review started); pass --force to overwrite it", self.choices_path
                )
            result = annotated_copy(self.timeline, self.annotation())
            text = render_choices(
                self.soundify,
                self.analysis,
                self.timeline_in.name,
                self.choices_path.name,
                self.origin,
                self.rate,
                self.choices,
            )
            with staged_outputs(replace=replace) as staged:  # as annotate writes OUT and its report
                staged.temp_for(self.choices_path).write_text(text, encoding="utf-8")
                staged.verify()
                media_base = self.timeline_in.resolve().parent
                write_timeline(
                    result, self.out, targets=self.targets, force=replace, media_base=media_base, conform=self.conform
                )
            self._written = {path: _file_identity(path) for path in (self.out, self.choices_path)}
        return self.out, self.choices_path


def _file_identity(path: Path) -> tuple[int, ...] | None:
    """What tells one file at `path` from another put there later (None when there is none)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns
