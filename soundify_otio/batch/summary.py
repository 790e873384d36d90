"""The end of a batch as data (--json) and as lines for a person (stdout)."""

from __future__ import annotations

from soundify_otio.batch.run import BatchRun
from soundify_otio.wording import plural


def summary(run: BatchRun) -> dict:
    """Counts, throughput and one record per job, in job order."""
    done = [o for o in run.outcomes if o.status == "done"]
    processed = sum(o.video_seconds for o in run.outcomes if o.status != "current")
    wall = max(run.wall_seconds, 1e-9)
    return {
        "runner": run.runner,
        "workers": run.workers,
        "jobs": len(run.outcomes),
        "done": len(done),
        "current": sum(1 for o in run.outcomes if o.status == "current"),
        "failed": sum(1 for o in run.outcomes if o.status == "failed"),
        "wall_seconds": round(run.wall_seconds, 3),
        "video_seconds": round(processed, 3),
        "jobs_per_hour": round(len(done) * 3600 / wall, 2),
        "video_seconds_per_wall_second": round(processed / wall, 4),
        "startup": run.startup,
        "resources": run.resources,
        "results": [
            {
                "number": o.job.number,
                "input": str(o.job.input),
                "output": str(o.job.output),
                "status": o.status,
                "reason": o.reason,
                "exit_code": o.exit_code,
                "video_seconds": round(o.video_seconds, 3),
                "seconds": round(o.seconds, 3),
                "scenes": o.scenes,
                "placements": o.placements,
                "skipped_shots": o.skipped_shots,
                "pipeline_check": o.pipeline_check,
                "timings": o.timings,
            }
            for o in run.outcomes
        ],
    }


def summary_lines(data: dict) -> list[str]:
    """One line per job, then the totals."""
    lines = []
    for r in data["results"]:
        if r["status"] == "done":
            skipped = f", {plural(len(r['skipped_shots']), 'shot')} skipped" if r["skipped_shots"] else ""
            check = " [PIPELINE CHECK: random weights]" if r["pipeline_check"] else ""
            lines.append(f"done     {r['input']} -> {r['output']} ({plural(r['scenes'], 'scene')}{skipped}){check}")
        elif r["status"] == "current":
            lines.append(f"current  {r['input']} -> {r['output']} (unchanged: skipped)")
        else:
            lines.append(f"FAILED   {r['input']}: {r['reason']}")
    lines.append(
        f"{plural(data['jobs'], 'job')}: {data['done']} done, {data['current']} skipped as current, "
        f"{data['failed']} failed; {data['video_seconds']:.0f} video-s in {data['wall_seconds']:.1f} s on "
        f"{plural(data['workers'], data['runner'] + ' worker')} "
        f"({data['video_seconds_per_wall_second']:.2f} video-s/s, "
        f"{data['jobs_per_hour']:.0f} jobs/h)"
    )
    return lines


def exit_code(data: dict) -> int:
    """0 when no job failed, else the exit code of the first failed job (in job order)."""
    return next((r["exit_code"] or 1 for r in data["results"] if r["status"] == "failed"), 0)
