"""Batch throughput: jobs per hour and video-seconds per wall-second for 1 and 2 local workers and
for a Ray cluster, on 4 short timelines cut from the sample project; Ray's start-up apart.

    nice python bench/bench_batch.py [--out results.json]     # about 4 minutes on 2 cores

Each run is the `soundify-otio batch` command in its own process (RN50, random weights, no frame
cache, so every job decodes and encodes its shots), timed by the batch itself (`wall_seconds`:
workers started, model loaded, every job run and written). The Ray cluster is a head and a second
node on 127.0.0.1, one CPU each (two actors), started by this script: `cluster_start_s` is that;
`startup` splits the run's own connect and actors-ready (model loaded in each actor) seconds, and
`steady` rates leave all of it out. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from json_report import emit  # bench/ is on sys.path when a benchmark runs as a script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the batch test timelines

RAY_QUIET = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_enable_metrics_collection": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}
CLI = [sys.executable, "-c", "from soundify_otio.cli import main; main()"]


def timelines(root: Path) -> tuple[object, Path]:
    """The sample project and a folder of 4 timelines made from its edit (different cuts of it)."""
    import opentimelineio as otio

    from soundify_otio.sample.project import build_sample_project

    from helpers.batch_jobs import sample_edit

    project = build_sample_project(root / "sample")
    jobs = root / "jobs"
    jobs.mkdir(exist_ok=True)
    for name, keep in {"r1": [0, 1, 2, 3, 4], "r2": [4, 3, 2, 1, 0], "r3": [1, 3, 0, 2], "r4": [2, 0, 4, 1]}.items():
        otio.adapters.write_to_file(sample_edit(project, keep), str(jobs / f"{name}.otio"))
    return project, jobs


def batch(project, jobs: Path, out: Path, *extra: str) -> dict:
    command = [
        *CLI, "--quiet", "batch", str(jobs), "--out-dir", str(out), "--library", str(project.library),
        "--pretrained", "none", "--no-cache", "--conform-media", "none", "--json", *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env={**os.environ, **RAY_QUIET})
    if done.returncode != 0:
        raise SystemExit(f"batch failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {
        "jobs": summary["jobs"],
        "video_s": summary["video_seconds"],
        "wall_s": summary["wall_seconds"],
        "process_s": round(time.perf_counter() - started, 3),
        "jobs_per_hour": summary["jobs_per_hour"],
        "video_s_per_wall_s": summary["video_seconds_per_wall_second"],
        "workers": summary["workers"],
        "startup": summary["startup"],
    }


def with_steady(figures: dict) -> dict:
    """Rates without the run's start-up (Ray: connect + actors ready)."""
    startup = sum(figures["startup"].values())
    busy = max(figures["wall_s"] - startup, 1e-9)
    figures["steady"] = {
        "wall_s": round(busy, 3),
        "jobs_per_hour": round(figures["jobs"] * 3600 / busy, 2),
        "video_s_per_wall_s": round(figures["video_s"] / busy, 4),
    }
    return figures


def ray_run(project, jobs: Path, out: Path) -> dict:
    os.environ.update(RAY_QUIET)
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 100 << 20, "node_ip_address": "127.0.0.1"}
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes(timeout=120)
        cluster_start = time.perf_counter() - started
        figures = with_steady(batch(project, jobs, out, "--ray", cluster.address, "--workers", "2"))
    finally:
        cluster.shutdown()
    figures["cluster_start_s"] = round(cluster_start, 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Also write the JSON here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soundify-bench-batch-") as folder:
        root = Path(folder)
        project, jobs = timelines(root)
        results = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_1min_before": round(os.getloadavg()[0], 2),
            },
            "timelines": 4,
            "local_1_worker": with_steady(batch(project, jobs, root / "out1", "--workers", "1")),
            "local_2_workers": with_steady(batch(project, jobs, root / "out2", "--workers", "2")),
            "ray_2_nodes_2_actors": ray_run(project, jobs, root / "out3"),
        }
        results["machine"]["load_1min_after"] = round(os.getloadavg()[0], 2)
    emit(results, args.out)


if __name__ == "__main__":
    main()
