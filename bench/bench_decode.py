"""Benchmark of decoding less: what the decoder's frame skipping would save on the footage we analyse.

Run: ``nice python bench/bench_decode.py [FILE ...] [--out results.json]`` (default: the sample footage and
the first file of the synthetic bench timeline, when bench_annotate.py has built them). Prints one JSON
object: per file, its picture types, and PyAV decoding every frame, skipping non-reference frames
(`skip_frame="NONREF"`, what a decode-less scene pass would read between cuts) and keyframes only, each
as frames decoded and seconds (best of `--repeat`).
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time
from pathlib import Path
from typing import Any, Literal

from json_report import emit  # bench/ is on sys.path when a benchmark runs as a script

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "soundify-otio" / "bench"
SkipMode = Literal["DEFAULT", "NONREF", "NONKEY"]
MODES: dict[str, SkipMode] = {"all_frames": "DEFAULT", "reference_frames": "NONREF", "keyframes": "NONKEY"}
PICTURE_TYPES = {"1": "I", "2": "P", "3": "B"}


def decode(path: Path, skip: SkipMode) -> tuple[int, float, dict[str, int]]:
    """Frames decoded, seconds, and their picture types, with the decoder skipping `skip`."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = skip
        stream.thread_type = "AUTO"
        started, types = time.perf_counter(), collections.Counter[str]()
        for frame in container.decode(stream):
            types[PICTURE_TYPES.get(str(int(frame.pict_type)), str(frame.pict_type))] += 1
        return sum(types.values()), time.perf_counter() - started, dict(types)


def measure(path: Path, repeat: int) -> dict[str, Any]:
    result: dict[str, Any] = {"file": str(path)}
    for name, skip in MODES.items():
        runs = [decode(path, skip) for _ in range(repeat)]
        frames, _, types = runs[0]
        result[name] = {"frames": frames, "seconds": round(min(s for _, s, _ in runs), 3)}
        if name == "all_frames":
            result["picture_types"] = types
    full = result["all_frames"]
    for name in ("reference_frames", "keyframes"):
        result[name]["share_of_frames"] = round(result[name]["frames"] / max(1, full["frames"]), 3)
        result[name]["share_of_time"] = round(result[name]["seconds"] / max(1e-9, full["seconds"]), 3)
    return result


def default_files() -> list[Path]:
    candidates = [CACHE / "sample" / "media" / "bikes.mp4", *sorted(CACHE.glob("synthetic-*min-1080p25/*.mp4"))[:1]]
    return [path for path in candidates if path.is_file()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="video files (default: the bench footage)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per mode; the fastest is kept (default 2)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    files = args.files or default_files()
    if not files:
        parser.error("no footage: pass files, or run bench/bench_annotate.py once to build the bench footage")
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
        "files": [measure(path, args.repeat) for path in files],
    }
    emit(report, args.out)


if __name__ == "__main__":
    main()
