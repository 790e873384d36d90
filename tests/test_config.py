"""The settings table: one definition that the Config, the CLI's ranges and the stages all obey."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from soundify_otio.cli import cli
from soundify_otio.config import SETTINGS, Config
from soundify_otio.library.sounds import fit_cost
from soundify_otio.stages.mix import pan_and_gain
from soundify_otio.types import SoundEntry


def test_every_setting_is_a_config_field_with_a_default_inside_its_bounds() -> None:
    assert list(SETTINGS) == [f.name for f in dataclasses.fields(Config)]
    for name, setting in SETTINGS.items():
        assert getattr(Config(), name) == setting.default, name
        assert setting.help, name
        if setting.low is not None:
            assert setting.low <= setting.default <= setting.high, name


@pytest.mark.parametrize(("name", "bad"), [("sample_fps", 31.0), ("seed", -1), ("gain_slope_db", -1.0)])
def test_out_of_range_overrides_are_refused_naming_the_setting(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=f"{name}={bad} is outside"):
        Config.from_overrides(**{name: bad})


def test_unknown_and_contradictory_overrides_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown setting.*sample_rate"):
        Config.from_overrides(sample_rate=2.0)
    with pytest.raises(ValueError, match=r"sync_off=0\.6 must not exceed sync_on=0\.5"):
        Config.from_overrides(sync_off=0.6)


@pytest.mark.parametrize(
    ("flag", "value", "shown"), [("--sample-fps", "0.1", "0.25<=x<=30.0"), ("--seed", "-3", "0<=x")]
)
def test_cli_error_names_the_flag_and_the_range(flag: str, value: str, shown: str) -> None:
    result = CliRunner().invoke(cli, ["annotate", "in.otio", "-o", "out.otio", "--library", "lib", flag, value])
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}'" in result.output
    assert shown in result.output


def test_cli_help_shows_each_settings_range() -> None:
    text = " ".join(CliRunner().invoke(cli, ["annotate", "--help"], terminal_width=200).output.split())
    for name in ("sample_fps", "scene_threshold", "effects_per_scene", "seed"):
        setting = SETTINGS[name]
        low, high = (
            (setting.low, setting.high) if isinstance(setting.default, float) else (int(setting.low), int(setting.high))
        )
        assert f"--{name.replace('_', '-')}" in text, name
        assert f"{low}<=x<={high}" in text, name


def test_gain_floor_and_slope_set_the_authors_mapping() -> None:
    half_lit = np.zeros((7, 7))
    half_lit[:, :3] = 1.0  # 3/7 of the cells lit, all on the left
    pan, gain = pan_and_gain(half_lit, 0.5, 10.0, -10.0, 40.0)
    assert pan < -0.5
    assert gain == pytest.approx(3 / 7 * 40 - 10)
    _, gentler = pan_and_gain(half_lit, 0.5, 10.0, -20.0, 20.0)
    assert gentler == pytest.approx(3 / 7 * 20 - 20)
    assert pan_and_gain(np.zeros((7, 7)), 0.5, 10.0, -12.0, 40.0) == (0.0, -12.0)
    assert pan_and_gain(np.ones((7, 7)), 0.5, 10.0, -10.0, 40.0)[1] == 10.0  # capped at gain_max_db


def _entry(duration: float, lufs: float | None) -> SoundEntry:
    return SoundEntry(Path("x.wav"), "x", "effect", "x", 48000, 1, duration, lufs)


def test_choice_cost_weights_come_from_the_config() -> None:
    config = Config()
    assert fit_cost(_entry(4.0, -20.0), 2.0, "effect") == pytest.approx(0.5 * math.log(2))
    assert fit_cost(_entry(1.0, -20.0), 2.0, "effect") == pytest.approx(math.log(2))  # shorter repeats: weight 1
    heavier = dataclasses.replace(config, fit_longer_weight=2.0, fit_unmeasured_cost=3.0)
    assert fit_cost(_entry(4.0, None), 2.0, "effect", heavier) == pytest.approx(2.0 * math.log(2) + 3.0)
    assert fit_cost(_entry(2.0, -60.0), 2.0, "effect") == pytest.approx(config.fit_quiet_cost)
    assert fit_cost(_entry(2.0, -60.0), 2.0, "effect", dataclasses.replace(config, fit_quiet_lufs=-70.0)) == 0.0
