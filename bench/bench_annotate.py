"""Benchmark of `annotate` against its irreducible work, with a scene-splitting comparison.

Run: ``nice python bench/bench_annotate.py [--sample-only] [--minutes 10] [--quick] [--device cuda]
[--out results.json]``. Prints one JSON object (see bench/README.md). Every measurement runs in its
own child process, so each peak RSS (VmHWM) belongs to that run alone.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import opentimelineio as otio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # synthetic footage helpers
from json_report import emit  # bench/ is on sys.path when a benchmark runs as a script

from soundify_otio.config import Config
from soundify_otio.progress import PrintProgress

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "soundify-otio" / "bench"
FPS, SIZE = 25, (1920, 1080)


# ---- children: each prints one JSON line --------------------------------------------------------


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: now; VmHWM: its peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM; getrusage off Linux)."""
    if Path("/proc/self/status").is_file():
        return _status_mb("VmHWM")
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_mb() -> float:
    """This process's resident set size now (VmRSS)."""
    return _status_mb("VmRSS")


def _shots(timeline_path: str):
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.timeline.shots import find_shots

    path = Path(timeline_path)
    return find_shots(read_timeline(path), path.resolve().parent)


def _shot_range(fps: float, frame_count: int, media_start: float, duration: float) -> tuple[int, int]:
    """The frames the pipeline decodes for a shot (as Soundify._shot_frames computes them)."""
    first = round(media_start * fps)
    return first, min(frame_count, first + max(1, round(duration * fps)))


def child_annotate(spec: dict) -> dict:
    """The annotate path of the CLI through the public API, no frame cache: setup (read the
    timeline, open the library, load the model), then analyse, place and write, timed."""
    from soundify_otio.app.api import Session, write_timeline
    from soundify_otio.timeline.reading import read_timeline
    from soundify_otio.vision.decode import limit_malloc_arenas
    from soundify_otio.vision.model import load_model

    limit_malloc_arenas()  # as the CLI's main() does
    path = Path(spec["timeline"])
    shots, _ = _shots(spec["timeline"])
    rss = {"imports": _rss_mb()}
    started = time.perf_counter()
    timeline = read_timeline(path)
    model = load_model("RN50", "none", spec["device"], spec["runtime"], spec["precision"], CACHE / "runtimes")
    rss["model"] = _rss_mb()
    if model.runtime is not None:
        model.load_runtime()  # conversion (first run on a machine) or reading it: setup, reported in image_tower
    rss["runtime"] = _rss_mb()
    session = Session.open(Path(spec["library"]), Config(pretrained="none"), model=model)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    analysed = session.analyse(timeline, base_dir=path.resolve().parent)
    result, annotation = analysed.annotate()
    write_started = time.perf_counter()
    write_timeline(result, Path(spec["out"]), force=True, media_base=path.resolve().parent)
    annotation.timings["write"] = time.perf_counter() - write_started
    wall = time.perf_counter() - started
    rss["end"] = _rss_mb()
    per_shot = {id(s.frames): len(s.frames.sample_times) for s in analysed.analysis.scenes}
    stages = {k: round(v, 3) for k, v in annotation.timings.items()}
    stages["untimed"] = round(wall - sum(annotation.timings.values()), 3)
    return {
        "stages": stages,
        "wall_s": round(wall, 3),
        "setup_s": round(setup, 3),
        "video_seconds": round(sum(s.duration for s in shots), 3),
        "scenes": len(annotation.scenes),
        "sampled_per_shot": list(per_shot.values()),
        "image_tower": annotation.image_tower,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_mb": rss,
    }


def child_decode(spec: dict) -> dict:
    """Bare PyAV: every frame of every shot decoded and nothing else (no pixel read or conversion), with the
    reader's FFmpeg threading."""
    import av

    started = time.perf_counter()
    frames = 0
    for shot in _shots(spec["timeline"])[0]:
        with av.open(str(shot.media_path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps, origin, time_base = float(stream.average_rate), stream.start_time or 0, stream.time_base
            first, stop = _shot_range(fps, stream.frames, shot.media_start, shot.duration)
            if first:
                container.seek(int(origin + first / fps / time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                index = round(float((frame.pts - origin) * time_base) * fps)
                if index >= stop:
                    break
                frames += index >= first
    return {"seconds": round(time.perf_counter() - started, 3), "frames": frames, "peak_rss_mb": _peak_rss_mb()}


def child_encode(spec: dict) -> dict:
    """CLIP-encode (embeddings and Grad-CAM activations) as many frames per shot as the run sampled,
    in batches of the pipeline's size, from frames already in memory."""
    from soundify_otio.vision.model import load_model

    config = Config()
    model = load_model("RN50", "none", spec["device"], runtime="torch")  # the eager floor
    frames = np.random.default_rng(0).integers(
        0, 256, (config.batch_size, config.analysis_size, config.analysis_size, 3), dtype=np.uint8
    )
    started = time.perf_counter()
    for count in spec["sampled_per_shot"]:
        for start in range(0, count, config.batch_size):
            model.encode_frames(frames[: min(config.batch_size, count - start)])
    if spec["device"].startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "frames": sum(spec["sampled_per_shot"]),
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_runtimes(spec: dict) -> dict:
    """Each runtime on the same decoded frames of the sample footage: one-off conversion (into an empty
    cache), seconds per frame at the pipeline's batch size (best of 3), agreement with eager torch."""
    from soundify_otio.vision.decode import FileReader
    from soundify_otio.vision.model import load_model
    from soundify_otio.vision.runtime import agreement

    config = Config()
    with FileReader(Path(spec["media"]), config.analysis_size) as reader:
        step = max(1, len(reader) // spec["frames"])
        frames = reader.rgb(range(0, len(reader), step))[: spec["frames"]]
    batches = [frames[i : i + config.batch_size] for i in range(0, len(frames), config.batch_size)]
    eager = load_model("RN50", "none", "cpu", runtime="torch")
    with_eager = [eager.encode_frames(b) for b in batches]
    reference = (np.concatenate([e for e, _ in with_eager]), np.concatenate([a for _, a in with_eager]))

    def per_frame(model) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for batch in batches:
                model.encode_frames(batch)
            best = min(best, time.perf_counter() - started)
        return round(best / len(frames), 4)

    results: dict[str, Any] = {"frames": len(frames), "batch": config.batch_size, "torch_fp32": {}}
    results["torch_fp32"]["s_per_frame"] = per_frame(eager)
    with tempfile.TemporaryDirectory() as tmp:
        for runtime, precision in spec["runs"]:
            model = load_model("RN50", "none", "cpu", runtime, precision, Path(tmp) / runtime)
            started = time.perf_counter()
            if precision == "int8":
                model.runtime.calibrate(model.pixels_for_calibration(frames))
            model.encode_frames(batches[0])
            first_use = time.perf_counter() - started
            outputs = [model.encode_frames(b) for b in batches]
            got = (np.concatenate([e for e, _ in outputs]), np.concatenate([a for _, a in outputs]))
            match = agreement(reference, got)
            results[f"{runtime}_{precision}"] = {
                "first_use_s": round(first_use, 3),
                "conversion": model.runtime_info(),
                "s_per_frame": per_frame(model),
                "agreement_with_eager": match,
            }
    base = results["torch_fp32"]["s_per_frame"]
    for entry in results.values():
        if isinstance(entry, dict) and "s_per_frame" in entry:
            entry["speedup_vs_eager"] = round(base / entry["s_per_frame"], 2)
    return results


def child_scenes_ours(spec: dict) -> dict:
    """Our detector over whole files, decode included, with the pipeline's settings."""
    from soundify_otio.stages.scenes import HistogramDetector
    from soundify_otio.vision.decode import FileReader, probe_video

    config = Config()
    started = time.perf_counter()
    cuts = {}
    for media in spec["media"]:
        info = probe_video(Path(media))
        detector = HistogramDetector(
            config.scene_threshold, config.scene_bins, max(1, round(config.min_scene_seconds * info.fps))
        )
        with FileReader(Path(media), config.analysis_size, config.scene_bins, info=info) as reader:
            for start in range(0, len(reader), config.batch_size):
                detector.push(reader.read(range(start, min(start + config.batch_size, len(reader)))).histograms)
        cuts[media] = detector.cuts()
    return {"seconds": round(time.perf_counter() - started, 3), "cuts": cuts}


def child_scenes_pyscenedetect(spec: dict) -> dict:
    """PySceneDetect's detector (its defaults, its OpenCV decoding) over whole files."""
    import scenedetect

    detector = getattr(scenedetect, spec["detector"])
    started = time.perf_counter()
    cuts = {
        media: [start.frame_num for start, _ in scenedetect.detect(media, detector())[1:]] for media in spec["media"]
    }
    return {"seconds": round(time.perf_counter() - started, 3), "cuts": cuts, "version": scenedetect.__version__}


def child_machine(spec: dict) -> dict:
    """What ran the benchmark."""
    import av
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "av": av.__version__,
        "ffmpeg": str(av.ffmpeg_version_info),
        "python": platform.python_version(),
        "device": spec["device"],
    }
    if spec["device"].startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


CHILDREN: dict[str, Callable[[dict], dict]] = {
    "annotate": child_annotate,
    "decode": child_decode,
    "encode": child_encode,
    "runtimes": child_runtimes,
    "scenes_ours": child_scenes_ours,
    "scenes_pyscenedetect": child_scenes_pyscenedetect,
    "machine": child_machine,
}


def run_child(task: str, spec: dict) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON."""
    done = subprocess.run([sys.executable, __file__, "--child", task, json.dumps(spec)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- workloads -----------------------------------------------------------------------------------


PROGRESS = PrintProgress(step=100)
"""The bench reports its steps as any run does (stderr: a line as each starts and ends)."""


def synthetic_timeline(minutes: float) -> Path:
    """A cached `minutes`-long 1080p25 synthetic timeline (generated once)."""
    from helpers.synthetic import long_timeline

    folder = CACHE / f"synthetic-{minutes:g}min-{SIZE[1]}p{FPS}"
    path = folder / "timeline.otio"
    if not path.is_file():
        stage = f"generate {folder} (once)"
        PROGRESS(stage, 0, 1)
        timeline = long_timeline(folder, minutes, FPS, SIZE)
        otio.adapters.write_to_file(timeline, str(path))
        PROGRESS(stage, 1, 1)
    return path


def first_minutes(source: Path, minutes: float) -> Path:
    """A timeline of the first `minutes` of `source`'s clips (same media files, trimmed)."""
    timeline = otio.adapters.read_from_file(str(source))
    short = otio.schema.Timeline(name=f"{timeline.name}, first {minutes:g} min")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    short.tracks.append(track)
    left = otio.opentime.RationalTime(round(minutes * 60 * FPS), FPS)
    for clip in timeline.find_clips():
        if left.value <= 0:
            break
        span = clip.source_range
        duration = min(span.duration, left)
        track.append(
            otio.schema.Clip(
                name=clip.name,
                media_reference=clip.media_reference.clone(),
                source_range=otio.opentime.TimeRange(span.start_time, duration),
                metadata=dict(clip.metadata),
            )
        )
        left -= duration
    path = source.with_name(f"timeline-first-{minutes:g}min.otio")
    otio.adapters.write_to_file(short, str(path))
    return path


def _true_cuts(timeline_path: Path) -> dict[str, list[int]] | None:
    """Known cuts per media file: the synthetic clips' metadata, or the sample footage's table."""
    from soundify_otio.sample import project as sample
    from soundify_otio.timeline.media import locate_media

    timeline = otio.adapters.read_from_file(str(timeline_path))
    truth = {}
    for clip in timeline.find_clips():
        media = str(locate_media(clip.media_reference.target_url, timeline_path.resolve().parent))
        if "synthetic" in clip.metadata:
            truth[media] = list(clip.metadata["synthetic"]["cut_frames"])
        elif Path(media).name == sample.FOOTAGE_NAME:
            truth[media] = list(sample.FOOTAGE_CUTS)
    return truth or None


def _matched(found: dict[str, list[int]], truth: dict[str, list[int]]) -> int:
    """How many true cuts a detector found within one frame."""
    return sum(any(abs(f - t) <= 1 for f in found.get(media, [])) for media, cuts in truth.items() for t in cuts)


def _only_in(a: dict[str, list[int]], b: dict[str, list[int]]) -> list[str]:
    """Cuts of `a` with no cut of `b` within one frame, as 'file@frame' (at most 20)."""
    return [
        f"{Path(m).name}@{c}" for m, cuts in a.items() for c in cuts if not any(abs(c - o) <= 1 for o in b.get(m, []))
    ][:20]


def scene_split(timeline_path: Path, with_content: bool) -> dict[str, Any]:
    """Ours against PySceneDetect's HistogramDetector (and ContentDetector) on the timeline's media files."""
    media = sorted({str(s.media_path) for s in _shots(str(timeline_path))[0]})
    ours = run_child("scenes_ours", {"media": media})
    hist = run_child("scenes_pyscenedetect", {"media": media, "detector": "HistogramDetector"})
    result: dict[str, Any] = {
        "media_files": len(media),
        "pyscenedetect_version": hist["version"],
        "ours_s": ours["seconds"],
        "pyscenedetect_s": hist["seconds"],
        "ours_cuts": sum(map(len, ours["cuts"].values())),
        "pyscenedetect_cuts": sum(map(len, hist["cuts"].values())),
        "only_ours": _only_in(ours["cuts"], hist["cuts"]),
        "only_pyscenedetect": _only_in(hist["cuts"], ours["cuts"]),
    }
    truth = _true_cuts(timeline_path)
    if truth:
        result.update(
            true_cuts=sum(map(len, truth.values())),
            ours_found_true=_matched(ours["cuts"], truth),
            pyscenedetect_found_true=_matched(hist["cuts"], truth),
        )
    if with_content:
        content = run_child("scenes_pyscenedetect", {"media": media, "detector": "ContentDetector"})
        result.update(
            content_detector_s=content["seconds"], content_detector_cuts=sum(map(len, content["cuts"].values()))
        )
    if len(media) == 1:
        result.update(ours_cut_frames=ours["cuts"][media[0]], pyscenedetect_cut_frames=hist["cuts"][media[0]])
    return result


def _annotate(timeline_path: Path, library: Path, run: dict[str, str], out_dir: Path) -> dict[str, Any]:
    spec = {"timeline": str(timeline_path), "library": str(library), **run}
    return run_child("annotate", {**spec, "out": str(out_dir / f"{timeline_path.stem}.annotated.otio")})


def workload(
    timeline_path: Path, library: Path, run: dict[str, str], out_dir: Path, scenes: str | None
) -> dict[str, Any]:
    """Annotate, its baseline (bare decode + eager encoding of the sampled frames) and, unless `scenes`
    is None, the scene-split comparison ("content": with PySceneDetect's ContentDetector too)."""
    steps = f"{timeline_path.name}: annotate, bare decode, encode sampled frames, scene splitting"
    PROGRESS(steps, 0, 4)
    annotated = _annotate(timeline_path, library, run, out_dir)
    PROGRESS(steps, 1, 4)
    decode = run_child("decode", {"timeline": str(timeline_path)})
    PROGRESS(steps, 2, 4)
    encode = run_child("encode", {"sampled_per_shot": annotated["sampled_per_shot"], "device": run["device"]})
    PROGRESS(steps, 3, 4)
    baseline = round(decode["seconds"] + encode["seconds"], 3)
    result: dict[str, Any] = {
        "timeline": str(timeline_path),
        "image_tower": annotated["image_tower"],
        "stages": annotated["stages"],
        "wall_s": annotated["wall_s"],
        "setup_s": annotated["setup_s"],
        "video_seconds": annotated["video_seconds"],
        "video_s_per_wall_s": round(annotated["video_seconds"] / annotated["wall_s"], 2),
        "scenes": annotated["scenes"],
        "frames_decoded": decode["frames"],
        "frames_encoded": encode["frames"],
        "peak_rss_mb": annotated["peak_rss_mb"],
        "rss_mb": annotated["rss_mb"],
        "baseline": {
            "bare_decode_s": decode["seconds"],
            "encode_sampled_eager_s": encode["seconds"],
            "sum_s": baseline,
            "bare_decode_peak_rss_mb": decode["peak_rss_mb"],
            "encode_peak_rss_mb": encode["peak_rss_mb"],
        },
        "ratio_vs_baseline": round(annotated["wall_s"] / baseline, 3),
        "gradcam_share": round(annotated["stages"].get("gradcam", 0.0) / annotated["wall_s"], 4),
    }
    if scenes is not None:
        result["scene_split"] = scene_split(timeline_path, with_content=scenes == "content")
    PROGRESS(steps, 4, 4)
    return result


TINY_LAYOUTS = {
    "one clip": "frames in one clip",
    "through edits": "one-frame clips, each going on from the last (through edits: one shot)",
    "cuts": "one-frame clips in reverse frame order (each a shot of its own)",
}


def tiny_clips_timeline(source: Path, clips: int, layout: str) -> Path:
    """`clips` frames of `source`'s first media file laid out as TINY_LAYOUTS says."""
    timeline = otio.adapters.read_from_file(str(source))
    first = next(iter(timeline.find_clips()))
    start = first.source_range.start_time + otio.opentime.RationalTime(100, FPS)
    tiny = otio.schema.Timeline(name=f"{clips} {TINY_LAYOUTS[layout]}")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tiny.tracks.append(track)
    spans = [(0, clips)] if layout == "one clip" else [(i, 1) for i in range(clips)]
    if layout == "cuts":
        spans.reverse()  # each clip shows the frame before the last one's: the same frames, no through edit
    for offset, length in spans:
        track.append(
            otio.schema.Clip(
                name=f"tiny {offset}",
                media_reference=first.media_reference.clone(),
                source_range=otio.opentime.TimeRange(
                    start + otio.opentime.RationalTime(offset, FPS), otio.opentime.RationalTime(length, FPS)
                ),
            )
        )
    path = source.with_name(f"timeline-{clips}-{layout.replace(' ', '-')}.otio")
    otio.adapters.write_to_file(tiny, str(path))
    return path


def tiny_clips(source: Path, clips: int, library: Path, run: dict[str, str], out_dir: Path) -> dict[str, Any]:
    """`clips` one-frame clips against one clip of the same frames: the per-shot tax, for clips that are
    through edits (one shot) and for clips each a shot of its own."""
    stage = f"{clips} one-frame clips against one {clips}-frame clip"
    results = {}
    for done, layout in enumerate(TINY_LAYOUTS):
        PROGRESS(stage, done, len(TINY_LAYOUTS))
        results[layout] = _annotate(tiny_clips_timeline(source, clips, layout), library, run, out_dir)
    PROGRESS(stage, len(TINY_LAYOUTS), len(TINY_LAYOUTS))
    one = results["one clip"]

    def against_one(r: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: r[k] for k in ("wall_s", "setup_s", "stages", "scenes", "peak_rss_mb")},
            "ratio_wall": round(r["wall_s"] / one["wall_s"], 2),
            "ratio_with_setup": round((r["wall_s"] + r["setup_s"]) / (one["wall_s"] + one["setup_s"]), 2),
        }

    return {"clips": clips, **{layout: against_one(r) for layout, r in results.items()}}


def many_clips(source: Path, counts: list[int], library: Path, run: dict[str, str], out_dir: Path) -> dict[str, Any]:
    """Timelines of `counts` one-frame clips each: wall time, peak RSS and what a clip costs beside the
    image tower (wall minus encode), which must stay flat as the count grows (no per-shot tax)."""
    runs = []
    for done, clips in enumerate(counts):
        PROGRESS(f"one-frame clips: {', '.join(map(str, counts))}", done, len(counts))
        result = _annotate(tiny_clips_timeline(source, clips, "cuts"), library, run, out_dir)
        beside_encode = result["wall_s"] - result["stages"].get("encode", 0.0)
        runs.append(
            {
                "clips": clips,
                "wall_s": result["wall_s"],
                "setup_s": result["setup_s"],
                "stages": result["stages"],
                "scenes": result["scenes"],
                "peak_rss_mb": result["peak_rss_mb"],
                "wall_ms_per_clip": round(1000 * result["wall_s"] / clips, 2),
                "encode_ms_per_clip": round(1000 * result["stages"].get("encode", 0.0) / clips, 2),
                "beside_encode_ms_per_clip": round(1000 * beside_encode / clips, 2),
            }
        )
    PROGRESS(f"one-frame clips: {', '.join(map(str, counts))}", len(counts), len(counts))
    return {"runs": runs}


PARTS = ("runtimes", "sample", "synthetic", "short", "tiny", "many")
"""runtimes: each runtime on the same frames; sample: the sample project; synthetic: the N-minute 1080p25
timeline; short: its first N/5 minutes; tiny: one-frame clips against one clip of the same frames; many:
timelines of --many-clips one-frame clips (not in the default set: 5,000 clips take minutes)."""
DEFAULT_PARTS = ("runtimes", "sample", "synthetic", "short", "tiny")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts", default=",".join(DEFAULT_PARTS), help=f"comma-separated, of {', '.join(PARTS)} (all but many)"
    )
    parser.add_argument("--sample-only", action="store_true", help="only the sample project (--parts sample)")
    parser.add_argument("--minutes", type=float, default=10.0, help="synthetic timeline length (default 10)")
    parser.add_argument("--quick", action="store_true", help="a 5-minute synthetic timeline (and its first minute)")
    parser.add_argument("--no-scene-split", action="store_true", help="skip the scene-split comparison")
    parser.add_argument("--tiny-clips", type=int, default=40, help="one-frame clips in the tiny case (default 40)")
    parser.add_argument(
        "--many-clips",
        default="5000",
        help="one-frame clip counts of the many case, comma-separated (default 5000; --parts many)",
    )
    parser.add_argument("--device", default="cpu", help="torch device for CLIP (cpu, cuda)")
    parser.add_argument(
        "--runtime", default="auto", help="image tower runtime for annotate (auto, torch, onnx, openvino)"
    )
    parser.add_argument(
        "--precision", default="auto", help="image tower precision for annotate (auto, fp32, fp16, int8)"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return
    from soundify_otio.sample.project import build_sample_project

    parts = {"sample"} if args.sample_only else {p.strip() for p in args.parts.split(",") if p.strip()}
    minutes = 5.0 if args.quick else args.minutes
    run = {"device": args.device, "runtime": args.runtime, "precision": args.precision}
    sample = build_sample_project(CACHE / "sample")
    results: dict[str, Any] = {"machine": run_child("machine", {"device": args.device}), "run": run, "workloads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        if "runtimes" in parts and args.device == "cpu":
            PROGRESS("runtimes on the same frames", 0, 1)
            runs = [["onnx", "fp32"], ["openvino", "fp32"], ["onnx", "int8"], ["openvino", "int8"]]
            results["runtimes"] = run_child("runtimes", {"media": str(sample.video), "frames": 64, "runs": runs})
            PROGRESS("runtimes on the same frames", 1, 1)
        if "sample" in parts:
            scenes = None if args.no_scene_split else "content"
            results["workloads"]["sample"] = workload(sample.timeline_otio, sample.library, run, out_dir, scenes)
        long_path = synthetic_timeline(minutes) if parts & {"synthetic", "short", "tiny", "many"} else None
        name = f"synthetic_{minutes:g}min_1080p25"
        if "synthetic" in parts and long_path is not None:
            scenes = None if args.no_scene_split else "histogram"
            results["workloads"][name] = workload(long_path, sample.library, run, out_dir, scenes)
        short_minutes = minutes / 5
        short_name = f"synthetic_first_{short_minutes:g}min_1080p25"
        if "short" in parts and long_path is not None:
            short_path = first_minutes(long_path, short_minutes)
            results["workloads"][short_name] = workload(short_path, sample.library, run, out_dir, None)
        if {name, short_name} <= set(results["workloads"]):
            results["memory"] = {
                "minutes": [short_minutes, minutes],
                "peak_rss_mb": [results["workloads"][n]["peak_rss_mb"] for n in (short_name, name)],
                "rss_before_frames_mb": [results["workloads"][n]["rss_mb"]["runtime"] for n in (short_name, name)],
                "wall_s": [results["workloads"][n]["wall_s"] for n in (short_name, name)],
            }
        if "tiny" in parts and long_path is not None:
            results["tiny_clips"] = tiny_clips(long_path, args.tiny_clips, sample.library, run, out_dir)
        if "many" in parts and long_path is not None:
            counts = [int(c) for c in args.many_clips.split(",") if c.strip()]
            results["many_clips"] = many_clips(long_path, counts, sample.library, run, out_dir)
    emit(results, args.out)


if __name__ == "__main__":
    main()
