"""One-shot or texture, and where the hit peaks: decided at index time from the audio and the library's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from soundify_otio.errors import LibraryError
from soundify_otio.library.sounds import open_library
from soundify_otio.library.transients import analyse
from soundify_otio.library.ucs import lookup, one_shot_words
from soundify_otio.sample.soundgen import generate

from helpers.impacts import hit_sound

SR = 48000


def test_one_hit_is_dominant_and_its_peak_is_the_transient():
    facts = analyse(hit_sound(1.0, 0.237, SR), SR)
    assert facts.dominant
    assert facts.attacks == 1
    assert facts.transient == pytest.approx(0.237, abs=1e-4)


def test_two_equal_hits_a_steady_noise_and_a_swell_are_not_one_shots():
    two = hit_sound(1.2, 0.1, SR) + hit_sound(1.2, 0.7, SR, seed=1)
    steady = np.random.default_rng(0).uniform(-0.3, 0.3, SR * 2).astype(np.float32)
    swell = (np.sin(np.linspace(0, np.pi, SR * 3)) * np.random.default_rng(1).uniform(-0.3, 0.3, SR * 3)).astype(
        np.float32
    )
    assert not analyse(two, SR).dominant
    assert not analyse(steady, SR).dominant
    assert not analyse(swell, SR).dominant


def test_words_say_hit_or_texture():
    assert one_shot_words("front door slam") is True
    assert one_shot_words("footsteps concrete") is True
    assert one_shot_words("footsteps loop") is False
    assert one_shot_words("bicycle bell") is None
    assert lookup("FEETHmn").is_one_shot
    assert lookup("METLImpt").is_one_shot
    assert lookup("DOORKnck").is_one_shot
    assert not lookup("DOORWood").is_one_shot
    assert not lookup("AMBTraf").is_one_shot


def _write(path: Path, data: np.ndarray, sr: int = 44100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, sr)


def test_library_marks_one_shots_and_stores_their_transient(tmp_path):
    root = tmp_path / "lib"
    _write(root / "door slam.wav", generate("door slam", sample_rate=44100))  # 2 s, the slam at ~0.32 s
    _write(root / "footsteps.wav", generate("footsteps", sample_rate=44100))  # 4 s of steps: a sequence
    _write(root / "FEETHmn_Step Concrete_ABC_XYZ.wav", generate("footsteps", 0.6, 44100))  # one step, UCS FEET
    _write(root / "thing.wav", hit_sound(3.0, 0.5, 44100))  # one hit, no words, 3 s: not assumed a one-shot
    _write(root / "ping.wav", hit_sound(1.0, 0.05, 44100))  # one short hit, no words: a one-shot
    _write(root / "hit loop.wav", hit_sound(1.0, 0.05, 44100))  # a texture word wins over the audio
    by_name = {e.path.name: e for e in open_library(root).entries}
    assert by_name["door slam.wav"].one_shot
    assert by_name["door slam.wav"].transient == pytest.approx(0.32, abs=0.02)
    assert by_name["FEETHmn_Step Concrete_ABC_XYZ.wav"].one_shot
    assert by_name["ping.wav"].one_shot
    assert by_name["ping.wav"].transient == pytest.approx(0.05, abs=1e-4)
    assert not by_name["footsteps.wav"].one_shot
    assert not by_name["thing.wav"].one_shot
    assert not by_name["hit loop.wav"].one_shot
    again = {e.path.name: e for e in open_library(root).entries}  # from the index, nothing re-read
    assert again == by_name


def test_sidecar_column_overrides_the_verdict(tmp_path):
    root = tmp_path / "lib"
    _write(root / "door slam.wav", generate("door slam", sample_rate=44100))
    _write(root / "thing.wav", hit_sound(3.0, 0.5, 44100))
    (root / "soundify.csv").write_text("file,label,kind,one_shot\ndoor slam.wav,,,no\nthing.wav,,,yes\n")
    by_name = {e.path.name: e for e in open_library(root).entries}
    assert not by_name["door slam.wav"].one_shot
    assert by_name["thing.wav"].one_shot
    assert by_name["thing.wav"].transient == pytest.approx(0.5, abs=1e-4)
    (root / "soundify.csv").write_text("file,one_shot\nthing.wav,maybe\n")
    with pytest.raises(LibraryError, match="line 2: one_shot 'maybe'"):
        open_library(root)
