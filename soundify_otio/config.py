"""Every tunable in one table: the `Config` fields, each with its default, bounds and meaning.

The CLI's options and their ranges come from here (`SETTINGS`), and so do the library API's
checks (`Config.from_overrides`). Values are the Soundify authors' unless the help says otherwise;
docs/method.md lists the authors' reference values and where we depart from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class Setting:
    """A tunable: its default, its bounds (inclusive) and what it does."""

    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""
    choices: tuple[str, ...] = ()
    """The values a text setting may take (empty: any)."""
    option: bool = False
    """An option of every command that analyses a timeline (annotate, suggest, review, batch)."""


def _setting(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    help: str = "",
    *,
    choices: tuple[str, ...] = (),
    option: bool = False,
) -> Any:
    """A Config field that carries its Setting (bounds, help, choices, CLI option) as field metadata."""
    return field(default=default, metadata={"setting": Setting(default, low, high, help, choices, option)})


FINE_SYNC_MODES = ("auto", "off")
DUCK_MODES = ("auto", "off")


@dataclass(frozen=True)
class Config:
    """A full set of settings; build with `Config.from_overrides(...)` to get bounds checked."""

    # the model
    model: str = _setting("RN50", help="open_clip model name (RN50 gives Grad-CAM on layer4).")
    pretrained: str = _setting(
        "openai", help="Weights tag, a local checkpoint file, or 'none' (random: pipeline check)."
    )
    batch_size: int = _setting(32, 1, 1024, "Frames per CLIP batch.")
    # stage 1: scenes
    sample_fps: float = _setting(
        2.0, 0.25, 30.0, "Frames per second encoded with CLIP (classification and sync).", option=True
    )
    analysis_size: int = _setting(
        224, 64, 1024, "Frames are decoded straight to this square size (whole frame, no crop)."
    )
    scene_threshold: float = _setting(
        0.24, 0.01, 2.0, "Grey-histogram L1 distance between neighbouring frames that makes a cut.", option=True
    )
    scene_bins: int = _setting(16, 4, 256, "Grey-histogram bins for scene splitting.")
    min_scene_seconds: float = _setting(0.5, 0.0, 60.0, "Shorter histogram scenes merge into their neighbour.")
    # stage 2: classification
    top_k: int = _setting(5, 1, 50, "Candidates listed per scene and kind.")
    effects_per_scene: int = _setting(1, 0, 10, "Effects picked by default per scene.", option=True)
    # stage 3: sync
    sync_on: float = _setting(
        0.5, 0.0, 1.0, "Presence that opens an interval (hysteresis high; ours, see docs/method.md)."
    )
    sync_off: float = _setting(0.3, 0.0, 1.0, "Presence that closes an interval (hysteresis low; ours).")
    sync_min_contrast: float = _setting(
        1.0, 0.0, 100.0, "Logit range within a scene below which a source counts as visible throughout (ours)."
    )
    min_interval_seconds: float = _setting(0.5, 0.0, 60.0, "Shorter intervals are dropped.")
    merge_gap_seconds: float = _setting(0.5, 0.0, 60.0, "Gaps shorter than this between intervals are bridged.")
    # stage 4: mix
    chunk_seconds: float = _setting(1.0, 0.1, 10.0, "Mix chunk length: one Grad-CAM pan/gain key per chunk.")
    cam_area_threshold: float = _setting(
        0.5, 0.0, 1.0, "Share of the map's peak above which a cell counts towards the lit area."
    )
    gain_floor_db: float = _setting(-10.0, -60.0, 30.0, "Effect gain with no lit area (the authors' area*40 - 10 dB).")
    gain_slope_db: float = _setting(40.0, 0.0, 200.0, "Effect gain added per unit of lit area (the authors' 40 dB).")
    gain_max_db: float = _setting(10.0, -60.0, 30.0, "Ceiling of an effect's gain (the authors' +10 dB).")
    ambient_gain_db: float = _setting(-5.0, -60.0, 12.0, "Level of the ambient bed (ours).")
    reference_lufs: float = _setting(
        -23.0, -70.0, 0.0, "Integrated loudness each sound is brought to before its gain keys (EBU R128; ours)."
    )
    crossfade_seconds: float = _setting(0.5, 0.0, 5.0, "Crossfade between repeats of a sound.")
    fade_seconds: float = _setting(
        0.25, 0.0, 5.0, "Head and tail fade of each placed sound (at most a quarter of its length)."
    )
    # the choice among files sharing a label (ours)
    seed: int = _setting(0, 0, 2**31 - 1, "Seed for the choice among files sharing a label.", option=True)
    fit_longer_weight: float = _setting(
        0.5,
        0.0,
        10.0,
        "Cost per log-ratio of an effect file longer than its interval (trimmed); shorter costs 1 (repeats).",
    )
    fit_unmeasured_cost: float = _setting(1.0, 0.0, 10.0, "Extra cost of a file whose loudness could not be measured.")
    fit_quiet_lufs: float = _setting(-50.0, -100.0, 0.0, "Files quieter than this (LUFS) count as near-silent.")
    fit_quiet_cost: float = _setting(0.5, 0.0, 10.0, "Extra cost of a near-silent file.")
    fit_tolerance: float = _setting(
        math.log(2.0),
        0.0,
        10.0,
        "Files whose cost is within this of the best take turns (log 2: a factor of 2 in length).",
    )
    # fine sync (ours: one-shot effects on the frames of impact)
    fine_sync: str = _setting(
        "auto",
        help="auto: one-shot effects (a slam, a step, a knock) become one clip per visual impact, their hit on "
        "its frame; off: every effect spans the intervals its source is visible.",
        choices=FINE_SYNC_MODES,
        option=True,
    )

    # the dialogue (ours: the timeline's own sound, Silero VAD, ducking written as gain keys)
    duck: str = _setting(
        "auto",
        help="auto: where the timeline's own sound holds speech, our beds and effects dip under it (gain keys); "
        "off: no ducking, no dialogue analysis.",
        choices=DUCK_MODES,
        option=True,
    )
    duck_ambient_db: float = _setting(
        -12.0, -60.0, 0.0, "Gain dip of ambience beds while someone speaks (dB).", option=True
    )
    duck_effect_db: float = _setting(-6.0, -60.0, 0.0, "Gain dip of effects while someone speaks (dB).", option=True)
    duck_attack_seconds: float = _setting(0.25, 0.0, 5.0, "The dip starts this long before each line.", option=True)
    duck_release_seconds: float = _setting(0.5, 0.0, 10.0, "The dip ends this long after each line.", option=True)
    duck_hold_seconds: float = _setting(
        0.8, 0.0, 10.0, "Pauses between lines shorter than this stay ducked (no pumping between words).", option=True
    )
    bed_below_dialogue_lu: float = _setting(
        5.0,
        0.0,
        40.0,
        "Where a scene has dialogue, its bed's loudness sits this far under the dialogue's (BS.1770) instead "
        "of at reference_lufs + ambient_gain_db (5: dialogue at -23 LUFS gives today's bed).",
        option=True,
    )
    loudness: float = _setting(
        -23.0,
        -60.0,
        -5.0,
        "render: integrated loudness the preview programme is brought to (LUFS; -23 EBU R128, -24 ATSC A/85).",
    )
    true_peak: float = _setting(
        -1.0, -20.0, 0.0, "render: true-peak ceiling (dBTP); where the loudness gain would pass it, less gain."
    )
    speech_threshold: float = _setting(
        0.5, 0.05, 0.95, "Silero VAD probability that opens a speech region (it closes 0.15 lower).", option=True
    )
    speech_sound_share: float = _setting(
        0.2,
        0.0,
        1.0,
        "A library sound with speech in at least this share of it is not put under dialogue while its label "
        "has another file (library stats lists such sounds).",
    )
    speech_min_seconds: float = _setting(0.25, 0.0, 10.0, "Shorter speech regions are dropped.")
    speech_min_silence_seconds: float = _setting(
        0.1, 0.0, 10.0, "Silence shorter than this does not end a speech region."
    )

    @classmethod
    def from_overrides(cls, **overrides: Any) -> Config:
        """Defaults with the given non-None overrides, each checked against its bounds."""
        unknown = set(overrides) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}; valid: {', '.join(sorted(SETTINGS))}")
        config = replace(cls(), **{k: v for k, v in overrides.items() if v is not None})
        for name, setting in SETTINGS.items():
            value = getattr(config, name)
            if setting.low is not None and setting.high is not None and not (setting.low <= value <= setting.high):
                raise ValueError(f"{name}={value} is outside {setting.low}..{setting.high}")
            if setting.choices and value not in setting.choices:
                raise ValueError(f"{name}={value!r} is not one of {', '.join(setting.choices)}")
        if config.sync_off > config.sync_on:
            raise ValueError(f"sync_off={config.sync_off} must not exceed sync_on={config.sync_on}")
        return config


SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in fields(Config)}
"""The table, by setting name, in the order of the `Config` fields."""
RUN_OPTIONS = tuple(name for name, setting in SETTINGS.items() if setting.option)
"""The settings every analysing command takes as options (besides the model's), in the table's order."""
