"""Benchmark of the dialogue analysis (issue 22): what hearing the timeline's own sound adds to annotate,
and the speech detector's speed.

Run: ``nice python bench/bench_dialogue.py [--minutes 2] [--out results.json]``. Prints one JSON object.
A `--minutes` 1080p25 synthetic timeline (bench_annotate's, cached) gets a dialogue track as long
(espeak-ng lines every few seconds over street noise); annotate runs on it twice, each in its own child
process with no frame cache: `--duck off` (no dialogue analysis) and `--duck auto`. Figures:

* `annotate.*.wall_s`: analyse + place + write; `dialogue_s`: the auto run's dialogue stage (read the
  timeline's sound, decode and mix it, run the VAD, measure loudness per scene);
  `dialogue_share`: dialogue_s / the auto run's wall_s (goal: under 0.05).
* `vad`: the detector alone on the mixed 16 kHz signal: seconds of audio per second (best of 3), and
  `decode_mix_s`: reading and mixing the timeline's sound to it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_annotate import CACHE, synthetic_timeline  # bench/ is on sys.path when a benchmark runs as a script
from json_report import emit


def dialogue_timeline(minutes: float) -> tuple[Path, Path]:
    """The synthetic timeline with a dialogue track of its length, and a two-sound library (cached)."""
    import opentimelineio as otio
    import soundfile

    from helpers import dialogue

    folder = CACHE / f"dialogue-{minutes:g}min"
    path = folder / "timeline.otio"
    if path.is_file():
        return path, folder / "library"
    folder.mkdir(parents=True, exist_ok=True)
    timeline = otio.adapters.read_from_file(str(synthetic_timeline(minutes)))
    seconds = minutes * 60
    signal = dialogue.street_noise(seconds) * 0.5
    start = 1.0
    for k in range(10**6):
        spoken = dialogue.espeak(dialogue.LINES[k % len(dialogue.LINES)], folder)
        if start + len(spoken) / dialogue.RATE > seconds - 1:
            break
        at = round(start * dialogue.RATE)
        signal[at : at + len(spoken)] += spoken * 0.5
        start += len(spoken) / dialogue.RATE + 2.0 + (k % 3)
    soundfile.write(folder / "dialogue.wav", signal, dialogue.RATE)
    track = otio.schema.Track(name="Dialogue", kind=otio.schema.TrackKind.Audio)
    track.append(dialogue.clip("dialogue", folder / "dialogue.wav", 0.0, seconds, seconds, rate=25))
    timeline.tracks.append(track)
    dialogue.library(folder)
    otio.adapters.write_to_file(timeline, str(path))
    return path, folder / "library"


def child_annotate(spec: dict) -> dict:
    from soundify_otio.app.api import Session, write_timeline
    from soundify_otio.config import Config
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.vision.decode import limit_malloc_arenas
    from soundify_otio.vision.model import load_model

    limit_malloc_arenas()
    path = Path(spec["timeline"])
    timeline = read_timeline(path)
    model = load_model("RN50", "none", None, "auto", "auto", CACHE / "runtimes")
    if model.runtime is not None:
        model.load_runtime()
    session = Session.open(
        Path(spec["library"]), Config.from_overrides(pretrained="none", duck=spec["duck"]), model=model
    )
    started = time.perf_counter()
    analysed = session.analyse(timeline, base_dir=path.resolve().parent)
    result, annotation = analysed.annotate()
    write_timeline(result, Path(spec["out"]), force=True, media_base=path.resolve().parent)
    wall = time.perf_counter() - started
    speech = [r for s in annotation.scenes for r in s.speech]
    return {
        "wall_s": round(wall, 3),
        "dialogue_s": round(annotation.timings.get("dialogue", 0.0), 3),
        "stages": {k: round(v, 3) for k, v in annotation.timings.items()},
        "scenes": len(annotation.scenes),
        "speech_regions": len(speech),
        "ducked_scenes": sum(1 for s in annotation.scenes if s.ducking),
    }


def child_vad(spec: dict) -> dict:
    from soundify_otio.audio import speech
    from soundify_otio.audio.decode import mix
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.timeline.shots import find_shots
    from soundify_otio.timeline.sound import timeline_sound

    path = Path(spec["timeline"])
    timeline = read_timeline(path)
    shots, _ = find_shots(timeline, path.parent)
    started = time.perf_counter()
    signal, _ = mix(timeline_sound(timeline, shots, path.parent), speech.RATE)
    decode = time.perf_counter() - started
    speech.probabilities(signal[: speech.RATE])  # the session's load
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        speech.probabilities(signal)
        best = min(best, time.perf_counter() - started)
    seconds = len(signal) / speech.RATE
    return {
        "audio_s": round(seconds, 1),
        "decode_mix_s": round(decode, 3),
        "vad_s": round(best, 3),
        "audio_s_per_s": round(seconds / best, 1),
    }


CHILDREN = {"annotate": child_annotate, "vad": child_vad}


def run_child(task: str, spec: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", task, json.dumps(spec)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return
    timeline, library = dialogue_timeline(args.minutes)
    results: dict = {"minutes": args.minutes, "vad": run_child("vad", {"timeline": str(timeline)}), "annotate": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for duck in ("off", "auto"):
            spec = {"timeline": str(timeline), "library": str(library), "duck": duck, "out": f"{tmp}/{duck}.otio"}
            results["annotate"][duck] = run_child("annotate", spec)
    auto, off = results["annotate"]["auto"], results["annotate"]["off"]
    results["dialogue_share"] = round(auto["dialogue_s"] / auto["wall_s"], 4)
    results["wall_added_share"] = round(auto["wall_s"] / off["wall_s"] - 1, 4)
    emit(results, args.out)


if __name__ == "__main__":
    main()
