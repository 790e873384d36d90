"""`batch --ray` on a real two-node Ray cluster on this machine (127.0.0.1 only; no dashboard, no usage
stats, no metrics): results identical to `annotate` alone, a worker process killed mid-run, and a
re-run that does no work. Each wait is bounded; the cluster is always shut down."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from helpers.batch_jobs import result_of, write_jobs
from helpers.cli import analysis_args, run

pytestmark = pytest.mark.slow
QUIET = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_enable_metrics_collection": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # every address stays 127.0.0.1, never the host's own
}
os.environ.update(QUIET)  # before Ray is imported: it reads them once, at import
ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

NODE = {"num_cpus": 1, "object_store_memory": 100 << 20, "node_ip_address": "127.0.0.1"}
KILL_WITHIN_SECONDS = 120.0


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node, one CPU each, on 127.0.0.1, with Ray's phoning home switched off."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        nodes.add_node(**NODE)
        nodes.wait_for_nodes(timeout=60)
        yield nodes
    finally:
        if ray.is_initialized():
            ray.shutdown()
        nodes.shutdown()


class Killer(threading.Thread):
    """SIGKILLs the first Ray worker process seen running a shot task (bounded wait)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.killed: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + KILL_WITHIN_SECONDS
        while not self.stop.is_set() and time.monotonic() < deadline:
            for process in psutil.process_iter(["pid", "name"]):
                if (process.info["name"] or "").startswith("ray::BatchWorker.analyse_shot"):
                    os.kill(process.info["pid"], signal.SIGKILL)
                    self.killed = process.info["pid"]
                    return
            time.sleep(0.05)


def test_ray_batch_survives_a_killed_worker_matches_annotate_and_reruns_without_work(
    capsys, project, cluster, tmp_path
):
    jobs = write_jobs(project, tmp_path / "jobs")
    common = [*analysis_args(project), "--conform-media", "none"]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each one-CPU actor runs: float sums then come out bit for bit the same
    try:
        for name, timeline in jobs.items():
            alone = tmp_path / "alone" / f"{name}.soundify.otio"
            alone.parent.mkdir(exist_ok=True)
            code, _, err = run(capsys, "annotate", timeline, "-o", alone, *common, "--cache-dir", tmp_path / "c0")
            assert code == 0, err
    finally:
        torch.set_num_threads(threads)

    killer = Killer()
    killer.start()
    try:
        code, out, err = run(
            capsys, "batch", tmp_path / "jobs", "--out-dir", tmp_path / "out", *common,
            "--cache-dir", tmp_path / "shared-cache", "--ray", cluster.address, "--workers", "2", "--json",
        )  # fmt: skip
    finally:
        killer.stop.set()
        killer.join(5)
    assert code == 0, err
    assert out.startswith("{"), (out[:800], err[-800:])
    summary = json.loads(out)
    assert killer.killed is not None, "no shot task was seen running"
    assert not psutil.pid_exists(killer.killed) or psutil.Process(killer.killed).status() == psutil.STATUS_ZOMBIE
    assert summary["runner"] == "ray"
    assert summary["workers"] == 2
    assert summary["resources"] == {"gpus_per_worker": 0.0}  # no GPU on this cluster: CPU actors
    assert [r["status"] for r in summary["results"]] == ["done", "done", "done"]
    assert [len(r["skipped_shots"]) for r in summary["results"]] == [0, 0, 1]  # c's offline clip, as annotate
    assert summary["startup"]["workers_ready_seconds"] > 0
    for result in summary["results"]:  # assembled from the shots' results: nothing decoded or encoded again
        assert result["timings"].get("decode", 0) == 0, result
        assert result["timings"].get("encode", 0) == 0, result
    for name in jobs:
        produced = result_of(tmp_path / "out" / f"{name}.soundify.otio")
        assert produced == result_of(tmp_path / "alone" / f"{name}.soundify.otio"), name

    started = time.perf_counter()
    code, out, err = run(
        capsys, "batch", tmp_path / "jobs", "--out-dir", tmp_path / "out", *common,
        "--cache-dir", tmp_path / "shared-cache", "--ray", cluster.address, "--json",
    )  # fmt: skip
    assert code == 0, err
    again = json.loads(out)
    assert [r["status"] for r in again["results"]] == ["current"] * 3
    assert again["startup"] == {}
    assert not ray.is_initialized()  # nothing to do: Ray not even joined
    assert time.perf_counter() - started < 30
    assert Path(tmp_path / "out" / ".a.soundify.otio.soundify-batch.json").is_file()
