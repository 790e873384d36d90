"""Benchmark of start-up: imports, light commands, and annotate's time until the model is ready.

Run: ``nice python bench/bench_startup.py [--repeat 3] [--out results.json]`` (about 2 minutes on 2 cores).
Prints one JSON object (see bench/README.md). Every measurement is a fresh process, timed from just
before it is spawned; the figure kept is the fastest of `--repeat`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from json_report import emit  # bench/ is on sys.path when a benchmark runs as a script

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "soundify-otio" / "bench"
HEAVY = ("torch", "torchvision", "open_clip", "timm", "openvino", "onnxruntime", "av", "scipy", "opentimelineio")
IMPORTS = ("soundify_otio", "soundify_otio.cli", "torch", "open_clip", "openvino")
LIGHT_COMMANDS = ("--help", "library --help", "render --help", "install resolve --help", "library stats {library}")


# ---- children --------------------------------------------------------------------------------------------


def child_command(spec: dict) -> dict:
    """Run the CLI in this process as `soundify-otio ARGS` would; which heavy modules it imported."""
    sys.argv = ["soundify-otio", *spec["args"]]
    from soundify_otio.cli import main

    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return {"exit": code, "heavy_modules": sorted(m for m in HEAVY if m in sys.modules)}


def child_annotate(spec: dict) -> dict:
    """`soundify-otio annotate` in this process, with the start-up steps timed from the spawn: the CLI's
    model loading (torch and open_clip imports, the model build, the rest) and the image tower's runtime
    (reading its cached conversion and compiling it, paid at the first encode)."""
    import gc

    marks: dict[str, float] = {"cli_started": time.time() - spec["spawned"]}
    steps: dict[str, float] = {}
    collections = {"full_collections": 0, "seconds": 0.0}
    collecting: list[float] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collecting[:] = [time.perf_counter()]
        elif "done" not in marks:
            collections["seconds"] += time.perf_counter() - collecting[0]
            collections["full_collections"] += info["generation"] == 2

    gc.callbacks.append(count)

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                steps[name] = steps.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    import soundify_otio.cli.annotate as annotate_command

    cli_load_model = annotate_command.load_model

    from soundify_otio.cli import app

    # the imports timed here are the CLI's model load's own, so they run as it runs them
    paused = getattr(app, "without_collection", lambda ctx: contextlib.nullcontext())

    def load_model(*args: Any, **kwargs: Any) -> Any:
        marks["model_load_started"] = time.time() - spec["spawned"]
        with paused(args[0]):
            started = time.perf_counter()
            import torch  # noqa: F401

            steps["import_torch"] = time.perf_counter() - started
            started = time.perf_counter()
            import open_clip  # noqa: F401

            steps["import_open_clip"] = time.perf_counter() - started
            started = time.perf_counter()
            import soundify_otio.vision.model as vision_model
            from soundify_otio.vision.runtime import ImageRuntime

            steps["import_vision"] = time.perf_counter() - started
        vision_model._create = timed("build_model", vision_model._create)
        ImageRuntime.load = timed("runtime_load", ImageRuntime.load)  # type: ignore[method-assign]
        model = cli_load_model(*args, **kwargs)
        marks["model_ready"] = time.time() - spec["spawned"]
        return model

    annotate_command.load_model = load_model
    result = child_command(spec)
    marks["done"] = time.time() - spec["spawned"]
    known = ("import_torch", "import_open_clip", "import_vision", "build_model")
    steps["load_model_rest"] = marks["model_ready"] - marks["model_load_started"] - sum(steps[k] for k in known)
    return {
        "exit": result["exit"],
        "marks_s": {k: round(v, 3) for k, v in marks.items()},
        "steps_s": {k: round(v, 3) for k, v in steps.items()},
        "garbage_collection": {k: round(v, 3) for k, v in collections.items()},
        "model_ready_s": round(marks["model_ready"], 3),
        "model_and_runtime_ready_s": round(marks["model_ready"] + steps.get("runtime_load", 0.0), 3),
    }


def child_checkpoint(spec: dict) -> dict:
    """Save a random-weight model's state dict as a checkpoint file (the stand-in for real weights)."""
    import open_clip
    import torch

    model = open_clip.create_model(spec["model"], pretrained=None)
    torch.save(model.state_dict(), spec["path"])
    return {"bytes": Path(spec["path"]).stat().st_size}


CHILDREN = {"command": child_command, "annotate": child_annotate, "checkpoint": child_checkpoint}


# ---- parent ----------------------------------------------------------------------------------------------


def run_child(task: str, spec: dict, timeout: float = 600) -> dict:
    spec = {**spec, "spawned": time.time()}
    done = subprocess.run(
        [sys.executable, __file__, "--child", task, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{task} child failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["wall_s"] = round(time.time() - spec["spawned"], 3)
    if "marks_s" in result:
        result["exit_s"] = round(result["wall_s"] - result["marks_s"]["done"], 3)  # the interpreter's teardown
    return result


def fastest(task: str, spec: dict, repeat: int, key: str = "wall_s") -> dict:
    runs = [run_child(task, spec) for _ in range(repeat)]
    best = min(runs, key=lambda r: r[key])
    best["runs_s"] = [r[key] for r in runs]
    return best


def import_times(modules: tuple[str, ...], repeat: int) -> dict[str, float]:
    """Seconds `python -X importtime -c 'import M'` reports as M's cumulative import time (best of `repeat`)."""
    times: dict[str, float] = {}
    for module in modules:
        best = None
        for _ in range(repeat):
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT
            )
            pattern = rf"^import time:\s+\d+ \|\s+(\d+) \| +{re.escape(module)}$"  # nested when another imports it
            found = [int(seconds) / 1e6 for seconds in re.findall(pattern, done.stderr, re.M)]
            if found:
                best = max(found) if best is None else min(best, max(found))
        if best is not None:
            times[module] = round(best, 3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest is kept (3)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1min": os.getloadavg()[0]},
        "imports_s": import_times(IMPORTS, args.repeat),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_child("command", {"args": ["--quiet", "sample-project", str(work / "sample")]})
        library = work / "sample" / "library"
        results["commands"] = {
            command.split(" {")[0]: fastest("command", {"args": command.format(library=library).split()}, args.repeat)
            for command in LIGHT_COMMANDS
        }
        checkpoint = CACHE / "startup" / "RN50-random.pt"
        if not checkpoint.is_file():
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            run_child("checkpoint", {"model": "RN50", "path": str(checkpoint)})
        results["annotate"] = {}
        for name, pretrained in (("pretrained_none", "none"), ("checkpoint_file", str(checkpoint))):
            command = [
                "--quiet",
                "annotate",
                str(work / "sample" / "street.otio"),
                "--library",
                str(library),
                "--pretrained",
                pretrained,
                "--no-cache",
                "-o",
                str(work / "out.otio"),
                "--force",
            ]
            run_child("annotate", {"args": command})  # the runtime's conversion, once: then it is cached
            results["annotate"][name] = fastest("annotate", {"args": command}, args.repeat, "model_and_runtime_ready_s")
        shutil.rmtree(work / "sample", ignore_errors=True)
    emit(results, args.out)


if __name__ == "__main__":
    main()
