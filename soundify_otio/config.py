"""One table of defaults and bounds, shared by the CLI and the library API.

The reference values are the Soundify authors' (DESIGN.md) unless the note says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A tunable: its default, its bounds and what it does."""

    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""


SETTINGS: dict[str, Setting] = {
    "model": Setting("RN50", help="open_clip model name (RN50 gives Grad-CAM on layer4)."),
    "pretrained": Setting("openai", help="Weights tag, a local checkpoint file, or 'none' (random: pipeline check)."),
    "sample_fps": Setting(2.0, 0.25, 30.0, "Frames per second encoded with CLIP (classification and sync)."),
    "analysis_size": Setting(224, 64, 1024, "Frames are decoded straight to this square size (whole frame, no crop)."),
    "scene_threshold": Setting(
        0.24, 0.01, 2.0, "Grey-histogram L1 distance between neighbouring frames that makes a cut."
    ),
    "scene_bins": Setting(16, 4, 256, "Grey-histogram bins for scene splitting."),
    "min_scene_seconds": Setting(0.5, 0.0, 60.0, "Shorter histogram scenes merge into their neighbour."),
    "top_k": Setting(5, 1, 50, "Candidates listed per scene and kind."),
    "effects_per_scene": Setting(1, 0, 10, "Effects picked by default per scene."),
    "sync_on": Setting(0.5, 0.0, 1.0, "Presence probability that opens an interval (hysteresis high)."),
    "sync_off": Setting(0.3, 0.0, 1.0, "Presence probability that closes an interval (hysteresis low)."),
    "sync_min_contrast": Setting(
        1.0, 0.0, 100.0, "Logit range within a scene below which a source counts as visible throughout."
    ),
    "min_interval_seconds": Setting(0.5, 0.0, 60.0, "Shorter intervals are dropped."),
    "merge_gap_seconds": Setting(0.5, 0.0, 60.0, "Gaps shorter than this between intervals are bridged."),
    "chunk_seconds": Setting(1.0, 0.1, 10.0, "Mix chunk length: one Grad-CAM pan/gain key per chunk."),
    "cam_area_threshold": Setting(0.5, 0.0, 1.0, "Share of the map's peak above which a cell counts towards area."),
    "crossfade_seconds": Setting(0.5, 0.0, 5.0, "Crossfade between repeats of a sound, and its head/tail fades."),
    "ambient_gain_db": Setting(-5.0, -60.0, 12.0, "Level of the ambient bed."),
    "gain_max_db": Setting(10.0, -60.0, 30.0, "Ceiling of an effect's gain."),
    "seed": Setting(0, 0, 2**31 - 1, "Seed for the choice among files sharing a label."),
    "batch_size": Setting(32, 1, 1024, "Frames per CLIP batch."),
}


@dataclass(frozen=True)
class Config:
    """A full set of settings; build with `Config.from_overrides(...)` to get bounds checked."""

    model: str = SETTINGS["model"].default
    pretrained: str = SETTINGS["pretrained"].default
    sample_fps: float = SETTINGS["sample_fps"].default
    analysis_size: int = SETTINGS["analysis_size"].default
    scene_threshold: float = SETTINGS["scene_threshold"].default
    scene_bins: int = SETTINGS["scene_bins"].default
    min_scene_seconds: float = SETTINGS["min_scene_seconds"].default
    top_k: int = SETTINGS["top_k"].default
    effects_per_scene: int = SETTINGS["effects_per_scene"].default
    sync_on: float = SETTINGS["sync_on"].default
    sync_off: float = SETTINGS["sync_off"].default
    sync_min_contrast: float = SETTINGS["sync_min_contrast"].default
    min_interval_seconds: float = SETTINGS["min_interval_seconds"].default
    merge_gap_seconds: float = SETTINGS["merge_gap_seconds"].default
    chunk_seconds: float = SETTINGS["chunk_seconds"].default
    cam_area_threshold: float = SETTINGS["cam_area_threshold"].default
    crossfade_seconds: float = SETTINGS["crossfade_seconds"].default
    ambient_gain_db: float = SETTINGS["ambient_gain_db"].default
    gain_max_db: float = SETTINGS["gain_max_db"].default
    seed: int = SETTINGS["seed"].default
    batch_size: int = SETTINGS["batch_size"].default

    @classmethod
    def from_overrides(cls, **overrides: Any) -> "Config":
        """Defaults with the given non-None overrides, each checked against its bounds."""
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}; valid: {', '.join(sorted(known))}")
        config = replace(cls(), **{k: v for k, v in overrides.items() if v is not None})
        for name, setting in SETTINGS.items():
            value = getattr(config, name)
            if setting.low is not None and not (setting.low <= value <= setting.high):
                raise ValueError(f"{name}={value} is outside {setting.low}..{setting.high}")
        if config.sync_off > config.sync_on:
            raise ValueError(f"sync_off={config.sync_off} must not exceed sync_on={config.sync_on}")
        return config
