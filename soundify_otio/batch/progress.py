"""Progress of a whole batch: jobs and video-seconds done, the rate, and the time left.

One line per finished job on stderr (farm logs keep them; nothing is redrawn), none with --quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class BatchProgress:
    """Counts what is done; `line()` says it with the rate since work began and the ETA."""

    def __init__(self, jobs: int, video_seconds: float, emit: Callable[[str], None] | None) -> None:
        self.jobs, self.video_seconds = jobs, video_seconds
        self.jobs_done = 0
        self._per_job: dict[int, float] = {}
        self._emit = emit
        self._started = time.perf_counter()

    @property
    def video_done(self) -> float:
        return sum(self._per_job.values())

    def advance(self, job: int, seconds_done: float) -> None:
        """Job `job` has `seconds_done` of its video analysed (never goes back)."""
        self._per_job[job] = max(self._per_job.get(job, 0.0), seconds_done)

    def add(self, job: int, seconds: float) -> None:
        self._per_job[job] = self._per_job.get(job, 0.0) + seconds

    def finished(self, job: int, job_seconds: float, what: str) -> None:
        """A job is over (done or failed): all its video counts as processed."""
        self.jobs_done += 1
        self._per_job[job] = job_seconds
        if self._emit is not None:
            self._emit(f"[{self.jobs_done}/{self.jobs}] {what} | {self.line()}")

    def line(self) -> str:
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        done = self.video_done
        rate = done / elapsed
        left = max(0.0, self.video_seconds - done)
        eta = _clock(left / rate) if rate > 0 else "?"
        return (
            f"{done:.0f}/{self.video_seconds:.0f} video-s, {rate:.2f} video-s/s, "
            f"{self.jobs_done * 3600 / elapsed:.0f} jobs/h, ETA {eta if left else _clock(0)}"
        )
