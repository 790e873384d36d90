"""The pixel pass over many shots: each media file read by one decoder in frame order, the sampled
frames of all shots gathered into shared CLIP batches.

A shot costs its frames, not a reader, a probe and a CLIP call of its own: forty one-frame clips of
one file are one reader walking forward and two batches, not forty of each. What a shot keeps of
its frames (scene distances, motion thumbnails, embeddings, Grad-CAM activations) is gathered in a
`ShotJob` and written to the frame cache as soon as its last sampled frame is encoded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundify_otio.config import Config
from soundify_otio.errors import MediaError
from soundify_otio.pipeline.frame_cache import ActivationStore, FrameCache, RunSegment, ShotFrames
from soundify_otio.progress import Stopwatch
from soundify_otio.stages.scenes import HistogramDetector
from soundify_otio.types import Shot
from soundify_otio.vision.decode import FileReader, VideoInfo, keyframe_indices
from soundify_otio.vision.model import ClipModel

log = logging.getLogger(__name__)

CUDA_ENCODE_BATCH = 256
"""Frames per CLIP batch on a GPU (unmeasured here: no GPU on the machines this was built on)."""
CALIBRATION_FRAMES = 64
"""Frames an int8 runtime is calibrated on: spread over the run's shots, keyframes where there are any
(a keyframe decodes without decoding its neighbours)."""


def sampled_offsets(frame_count: int, fps: float, sample_fps: float) -> list[int]:
    """Offsets (from a shot's first frame) of the frames CLIP encodes: one every 1/sample_fps seconds."""
    times = np.arange(0.0, frame_count / fps, 1.0 / sample_fps)
    return sorted({int(i) for i in np.round(times * fps).astype(int) if i < frame_count})


@dataclass
class ShotJob:
    """One shot's frame range and everything its pass has gathered so far."""

    shot: Shot
    info: VideoInfo
    first: int
    stop: int
    key: str
    wanted: set[int]
    store: ActivationStore | RunSegment
    detector: HistogramDetector
    thumbnails: list[np.ndarray] = field(default_factory=list)
    sample_offsets: list[int] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    queued: int = 0
    """Sampled frames waiting in the shared batch."""
    decoded: bool = False
    result: ShotFrames | MediaError | None = None


class FramePass:
    """Decodes and encodes the frames of many shots (see the module's docstring)."""

    def __init__(
        self,
        model: ClipModel,
        cache: FrameCache,
        config: Config,
        stopwatch: Stopwatch,
        report: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.model = model
        self.cache = cache
        self.config = config
        self.stopwatch = stopwatch
        self.report = report
        self.encode_batch = (
            config.batch_size if model.device.type != "cuda" else max(config.batch_size, CUDA_ENCODE_BATCH)
        )
        self._queue: list[tuple[ShotJob, np.ndarray]] = []
        """Sampled frames waiting for CLIP, in order (a batch is encoded as soon as it is full)."""
        self._seconds = 0.0

    def job(self, shot: Shot, info: VideoInfo, first: int, stop: int, key: str) -> ShotJob:
        """A shot's pass, ready to run (its activations go to a temporary file in the cache folder)."""
        wanted = set(sampled_offsets(stop - first, info.fps, self.config.sample_fps))
        return ShotJob(
            shot=shot,
            info=info,
            first=first,
            stop=stop,
            key=key,
            wanted=wanted,
            store=self.cache.activation_store(key, len(wanted)),
            detector=HistogramDetector(self.config.scene_threshold, self.config.scene_bins, 1),
        )

    def run(self, jobs: list[ShotJob]) -> None:
        """Fill each job's `result`: its ShotFrames, or the MediaError that stopped it. An int8 runtime
        is first calibrated on these shots' frames."""
        runtime = self.model.runtime
        by_media: dict[Path, list[ShotJob]] = {}
        for job in jobs:
            by_media.setdefault(job.shot.media_path, []).append(job)
        try:
            if jobs and runtime is not None and runtime.needs_calibration:
                with self.stopwatch.time("calibrate"):
                    agreement = runtime.calibrate(self.model.pixels_for_calibration(self.calibration_frames(jobs)))
                log.info("int8 image tower calibrated; agreement with fp32: %s", agreement)
            for path, media_jobs in by_media.items():
                self._run_media(path, sorted(media_jobs, key=lambda j: (j.first, j.stop)))
            self._encode()
        finally:
            for job in jobs:
                if not isinstance(job.result, ShotFrames):
                    job.store.discard()

    def calibration_frames(self, jobs: list[ShotJob], count: int = CALIBRATION_FRAMES) -> np.ndarray:
        """Up to `count` of the shots' frames, evenly spread: keyframes where the shots hold enough of them
        (each decodes on its own), else keyframes and sampled frames."""
        keyframes: set[tuple[Path, int]] = set()
        sampled: set[tuple[Path, int]] = set()
        known: dict[Path, np.ndarray] = {}
        for job in jobs:
            path = job.shot.media_path
            try:
                if path not in known:
                    known[path] = keyframe_indices(path)
            except MediaError:
                continue
            stop = min(job.stop, job.info.frame_count)
            keyframes |= {(path, int(k)) for k in known[path] if job.first <= k < stop}
            sampled |= {(path, job.first + o) for o in job.wanted if job.first + o < stop}
        candidates = sorted(keyframes if len(keyframes) >= count else keyframes | sampled)
        picks = np.linspace(0, len(candidates) - 1, min(count, len(candidates))).round().astype(int)
        chosen = sorted({candidates[i] for i in picks})
        frames = []
        for path in dict.fromkeys(p for p, _ in chosen):
            try:
                with FileReader(path, self.config.analysis_size) as reader:
                    frames.append(reader.rgb([i for p, i in chosen if p == path]))
            except MediaError as exc:
                log.debug("not calibrating on %s: %s", path, exc)
        if not frames:
            raise MediaError("no frame to calibrate int8 on", jobs[0].shot.media_path)
        return np.concatenate(frames)

    def _run_media(self, path: Path, jobs: list[ShotJob]) -> None:
        try:
            reader = FileReader(
                path,
                self.config.analysis_size,
                self.config.scene_bins,
                timed=lambda: self.stopwatch.time("decode"),
                info=jobs[0].info,
            )
        except MediaError as exc:
            for job in jobs:
                self._fail(job, exc)
            return
        with reader:
            for job in jobs:
                try:
                    self._decode(reader, job)
                except MediaError as exc:
                    self._fail(job, exc)

    def _decode(self, reader: FileReader, job: ShotJob) -> None:
        """Read the shot's frames: histograms and thumbnails of every frame, RGB of the sampled ones (queued
        for CLIP)."""
        config, fps = self.config, job.info.fps
        sampled = {job.first + offset for offset in job.wanted}
        for start in range(job.first, min(job.stop, len(reader)), config.batch_size):
            frames = range(start, min(start + config.batch_size, job.stop, len(reader)))
            batch = reader.read(frames, sampled)
            self.report(self._seconds + (start + len(batch) - job.first) / fps)
            with self.stopwatch.time("scenes"):
                job.detector.push(batch.histograms)
            job.thumbnails.append(batch.thumbnails)
            for index, pixels in zip(batch.rgb_indices, batch.rgb, strict=True):
                self._queue.append((job, pixels))
                job.queued += 1
                job.sample_offsets.append(index - job.first)
            self._encode(full_only=True)
            if len(batch) < len(frames):
                break  # the file ends before the frames its header counts
        self._seconds += job.shot.duration
        job.decoded = True
        self._finish(job)

    def _encode(self, full_only: bool = False) -> None:
        """CLIP over the queued frames (from any shots) in batches of `encode_batch`, each shot handed its
        rows in order; with `full_only` a last partial batch waits in the queue (it costs more a frame)."""
        while len(self._queue) >= (self.encode_batch if full_only else 1):
            batch, self._queue = self._queue[: self.encode_batch], self._queue[self.encode_batch :]
            with self.stopwatch.time("encode"):
                embeddings, activations = self.model.encode_frames(np.stack([pixels for _, pixels in batch]))
            row = 0
            while row < len(batch):
                job = batch[row][0]
                end = row
                while end < len(batch) and batch[end][0] is job:
                    end += 1
                job.embeddings.append(embeddings[row:end])
                job.store.append(activations[row:end])
                job.queued -= end - row
                self._finish(job)
                row = end

    def _finish(self, job: ShotJob) -> None:
        """Write a shot whose frames are all decoded and encoded to the cache."""
        if not job.decoded or job.queued or job.result is not None:
            return
        if not job.embeddings:
            self._fail(job, MediaError("no frames could be decoded in the clip's range", job.shot.media_path))
            return
        job.result = self.cache.save(
            job.key,
            job.info.fps,
            job.detector.distances,
            np.array(job.sample_offsets) / job.info.fps,
            np.concatenate(job.embeddings),
            job.store,
            thumbnails=np.concatenate(job.thumbnails),
        )

    def _fail(self, job: ShotJob, error: MediaError) -> None:
        job.result = error
        job.decoded = True
        self._queue = [(j, pixels) for j, pixels in self._queue if j is not job]
        job.queued = 0
        job.store.discard()
