"""Which file a candidate's listen button plays: the one a placement uses, else the library's choice."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from soundify_otio.config import Config
from soundify_otio.errors import LibraryError
from soundify_otio.types import Annotation, Kind, SoundEntry


class _Chooser(Protocol):
    def choose(
        self, label: str, kind: Kind, duration: float, seed: int, occasion: int, config: Config
    ) -> SoundEntry: ...


def audition_files(library: _Chooser, annotation: Annotation, config: Config) -> dict[tuple[str, str], Path]:
    """(kind, label) -> a file for every candidate of every scene: a placed sound where one is
    placed, else the file the library would choose for the scene's length (the run's seed and
    fit weights, first use)."""
    files: dict[tuple[str, str], Path] = {(p.kind, p.label): p.sound.path for p in annotation.placements}
    for result in annotation.scenes:
        duration = result.scene.end - result.scene.start
        for suggestion in (*result.effects, *result.ambients):
            key = (suggestion.kind, suggestion.label)
            if key not in files:
                try:
                    files[key] = library.choose(
                        suggestion.label, suggestion.kind, duration, config.seed, 0, config
                    ).path
                except LibraryError:  # a label the library no longer holds: no listen button
                    continue
    return files
