"""Benchmark of library indexing: a generated 20,000-file library, cold index and 1% re-index.

Run: ``nice python bench/bench_library.py [--files N] [--keep DIR]``. Prints JSON: files per
second for a cold index, for a re-index after 1% of the files changed and for an unchanged
re-open, and peak RSS (this process and the probe workers, from resource.getrusage).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from soundify_otio.library.sounds import open_library

NAMES = [
    "Door Slam",
    "Footsteps Gravel",
    "Bicycle Bell",
    "Dog Bark",
    "Glass Break",
    "Car Pass By",
    "Bird Chirp",
    "Keyboard Typing",
    "Thunder Clap",
    "Water Drip",
]
UCS = [
    ("DOORWood", "Front Door Slam"),
    ("AMBUrbn", "City Street Day"),
    ("VEHCar", "Sedan Pass By"),
    ("ANMLDog", "Dog Bark Small"),
    ("AMBForst", "Forest Morning Birds"),
    ("GLASBrk", "Bottle Smash"),
]
FORMATS = [(".wav", 0.6), (".flac", 0.25), (".aiff", 0.1), (".ogg", 0.05)]


def _ixml(description: str, keywords: str) -> bytes:
    xml = (
        f"<BWFXML><USER><DESCRIPTION>{description}</DESCRIPTION><KEYWORDS>{keywords}</KEYWORDS></USER></BWFXML>"
    ).encode()
    bext = description.encode()[:256].ljust(602, b"\0")
    chunks = b"bext" + struct.pack("<I", len(bext)) + bext
    return chunks + b"iXML" + struct.pack("<I", len(xml)) + xml + (b"\0" if len(xml) % 2 else b"")


def write_sound(path: Path, rng: random.Random, tagged: bool) -> None:
    rate = rng.choice([22050, 44100])
    n = int(rate * rng.uniform(0.2, 1.0))
    channels = rng.choice([1, 2])
    t = np.arange(n) / rate
    mono = rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * rng.uniform(100, 2000) * t)
    soundfile.write(path, np.repeat(mono[:, None], channels, axis=1), rate)
    if tagged and path.suffix == ".wav":
        raw = path.read_bytes()
        extra = _ixml("Recorded close, dry, a single hit", "hit, close, dry")
        body = raw[8:] + extra
        path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def generate(root: Path, count: int, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    exts, weights = zip(*FORMATS)
    for i in range(count):
        folder = root / ("ambience" if i % 10 == 0 else "sfx") / f"pack{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        ext = rng.choices(exts, weights)[0]
        if i % 3 == 0:
            cat, fx = rng.choice(UCS)
            name = f"{cat}_{fx} {i % 7:02d}_BENCH_{i:05d}{ext}"
        else:
            name = f"{rng.choice(NAMES)} {i:05d}{ext}"
        path = folder / name
        write_sound(path, rng, tagged=i % 2 == 0)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--keep", type=Path, help="generate here and keep the library")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "library"
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = generate(root, args.files)
        generated = time.perf_counter() - t0

        t0 = time.perf_counter()
        library = open_library(root)
        cold = time.perf_counter() - t0
        cold_stats = library.stats()

        rng = random.Random(2)
        changed = rng.sample(paths, max(1, len(paths) // 100))
        for path in changed:
            write_sound(path, rng, tagged=False)
        t0 = time.perf_counter()
        library = open_library(root)
        reindex = time.perf_counter() - t0
        re_stats = library.stats()

        t0 = time.perf_counter()
        open_library(root)
        unchanged = time.perf_counter() - t0

        self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(
            json.dumps(
                {
                    "files": args.files,
                    "usable": cold_stats["files"],
                    "skipped": cold_stats["skipped"],
                    "formats": cold_stats["formats"],
                    "generate_s": round(generated, 2),
                    "cold_index_s": round(cold, 2),
                    "cold_files_per_s": round(args.files / cold, 1),
                    "changed_files": len(changed),
                    "reindex_read": re_stats["indexed"]["read"],
                    "reindex_s": round(reindex, 2),
                    "reindex_files_per_s": round(args.files / reindex, 1),
                    "unchanged_reopen_s": round(unchanged, 2),
                    "peak_rss_mib": round(self_rss / 1024, 1),
                    "peak_worker_rss_mib": round(child_rss / 1024, 1),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
