"""Inference runtimes for the image tower: eager torch, ONNX Runtime or OpenVINO; fp32, or int8 on request.

The tower (trunk to the Grad-CAM layer, then the head) is exported from the loaded torch model to
ONNX on first use and kept on disk, keyed by model, weights, image size and the torch and runtime
versions, so a machine pays the conversion once. OpenVINO reads that same ONNX file (its own
converter is not used: it reports usage over the network). fp32 runs agree with eager torch to
~1e-7 (tests/test_runtime.py); OpenVINO is pinned to f32 because on CPUs with bf16 units it would
otherwise compute in bfloat16. int8 is a QDQ model quantised statically by ONNX Runtime's
calibrator on frames the caller supplies (the run's own), and its agreement with fp32 is measured
on those frames. Grad-CAM stays in torch: it needs gradients, and runs on the activations these
runtimes return.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from soundify_otio.user_cache import user_cache_dir

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx", "openvino")
PRECISIONS = ("auto", "fp32", "fp16", "int8")
CPU_RUNTIME_PREFERENCE = ("openvino", "onnx")
"""What `auto` runs the tower on, on the CPU: the first of these installed (each is import-guarded: a platform
without its wheel runs the next, then eager torch). OpenVINO was the fastest measured here (bench/bench_annotate.py,
docs/performance.md); ONNX Runtime next."""
EXPORT_FORMAT = 1
"""Bumped when what is exported changes, so older cached conversions are not reused."""
OPSET = 17
CALIBRATION_BATCH = 8
OPENVINO_BATCH = 8
"""Frames per OpenVINO inference (a longer batch is run in pieces): measured here at 54.4 ms a frame
against 54.5 at 32, with 198 MB of buffers against 485."""


class TowerRunner(Protocol):
    """Pixels [N, 3, S, S] float32 -> (unnormalised embeddings [N, D], Grad-CAM activations) float32."""

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def default_cache_root() -> Path:
    """Where converted image towers are kept when the run names no folder."""
    return user_cache_dir() / "runtimes"


def runtime_version(runtime: str) -> str:
    """The installed version of a runtime (part of its cache key)."""
    if runtime == "onnx":
        import onnxruntime

        return str(onnxruntime.__version__)
    if runtime == "openvino":
        import openvino

        return str(openvino.get_version())
    import torch

    return str(torch.__version__)


def concrete_runtime(runtime: str, precision: str, device_type: str) -> tuple[str, str]:
    """'auto' made concrete for a device; ValueError for a combination that cannot run."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime '{runtime}'; valid: {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; valid: {', '.join(PRECISIONS)}")
    if device_type == "cuda":
        if runtime not in ("auto", "torch"):
            raise ValueError(f"--runtime {runtime} runs on the CPU only; on CUDA the tower runs in torch")
        if precision == "int8":
            raise ValueError("--precision int8 is a CPU runtime's (onnx, openvino); CUDA runs fp16 or fp32")
        return "torch", "fp16" if precision == "auto" else precision
    if device_type == "mps":
        if runtime not in ("auto", "torch"):
            raise ValueError(f"--runtime {runtime} runs on the CPU only; on MPS the tower runs in torch")
        if precision not in ("auto", "fp32"):
            raise ValueError(f"--precision {precision} is not run on MPS; it runs fp32")
        return "torch", "fp32"
    if precision == "fp16":
        raise ValueError("--precision fp16 is for CUDA; on the CPU choose fp32 or int8")
    if runtime == "auto":
        runtime = next((r for r in CPU_RUNTIME_PREFERENCE if _installed(r)), "torch")
    precision = "fp32" if precision == "auto" else precision
    if precision == "int8" and runtime == "torch":
        raise ValueError("--precision int8 needs --runtime onnx or openvino")
    return runtime, precision


def _installed(runtime: str) -> bool:
    """Whether the runtime's package imports here (a wheel missing for the platform, or one that fails to
    load its native library, both count as not installed)."""
    try:
        runtime_version(runtime)
    except Exception:  # ImportError, or whatever a broken native library raises as it loads
        return False
    return True


def tower_module(trunk: Callable, head: Callable, owner: torch.nn.Module | None) -> torch.nn.Module:
    """The split as one module, pixels -> (embedding, activations), its parameters registered for export."""
    import torch

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.owner = owner if owner is not None else torch.nn.Module()

        def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            activations = trunk(pixels)
            return head(activations), activations

    return Tower().eval()


def export_onnx(module: torch.nn.Module, image_size: int, path: Path) -> None:
    """Write the tower as ONNX with a dynamic batch axis (atomically: a temporary file renamed)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 3, image_size, image_size)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        temp = Path(tmp) / path.name
        with torch.no_grad():
            torch.onnx.export(
                module,
                (example,),
                str(temp),
                dynamo=False,
                input_names=["pixels"],
                output_names=["embeddings", "activations"],
                dynamic_axes={"pixels": {0: "batch"}, "embeddings": {0: "batch"}, "activations": {0: "batch"}},
                opset_version=OPSET,
            )
        os.replace(temp, path)


class OnnxRunner:
    """ONNX Runtime on the CPU."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry("session.set_denormal_as_zero", "1")  # in its own threads only
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        embeddings, activations = self.session.run(None, {"pixels": pixels})
        return embeddings, activations


class OpenVinoRunner:
    """OpenVINO on the CPU, computing in f32 (not the bf16 it would pick on CPUs with bf16 units), denormals
    flushed in its own threads. With `compiled_cache`, OpenVINO keeps the compiled model there (its CACHE_DIR)
    and a later run loads it without reading the ONNX file again."""

    def __init__(self, path: Path, compiled_cache: Path | None = None) -> None:
        import openvino

        core = openvino.Core()
        if compiled_cache is not None:
            core.set_property({"CACHE_DIR": str(compiled_cache)})
        self.compiled = core.compile_model(
            str(path),
            "CPU",
            {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "CPU_DENORMALS_OPTIMIZATION": "YES"},
        )
        self.request = self.compiled.create_infer_request()

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pieces = []
        for start in range(0, len(pixels), OPENVINO_BATCH):
            out = self.request.infer([pixels[start : start + OPENVINO_BATCH]])
            pieces.append((np.array(out[0]), np.array(out[1])))
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate([e for e, _ in pieces]), np.concatenate([a for _, a in pieces])


RUNNERS: dict[str, Callable[[Path], TowerRunner]] = {"onnx": OnnxRunner, "openvino": OpenVinoRunner}


def quantize_int8(fp32_path: Path, calibration: np.ndarray, int8_path: Path) -> None:
    """A QDQ int8 model (per-channel weights, MinMax activation ranges) calibrated on `calibration` pixels."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(
                [calibration[i : i + CALIBRATION_BATCH] for i in range(0, len(calibration), CALIBRATION_BATCH)]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"pixels": batch}

    with tempfile.TemporaryDirectory(dir=int8_path.parent, prefix=".quantize-") as tmp:
        temp = Path(tmp) / int8_path.name
        quantize_static(
            str(fp32_path),
            str(temp),
            Frames(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        os.replace(temp, int8_path)


def agreement(reference: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """How closely `other`'s (embeddings, activations) follow `reference`'s, frame by frame."""

    def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
        return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)

    emb = cosines(reference[0], other[0])
    act = cosines(reference[1], other[1])
    return {
        "frames": len(emb),
        "embedding_cosine_min": round(float(emb.min()), 6),
        "embedding_cosine_mean": round(float(emb.mean()), 6),
        "activation_cosine_min": round(float(act.min()), 6),
        "embedding_max_abs_diff": float(np.abs(reference[0] - other[0]).max()),
    }


@dataclass
class ImageRuntime:
    """The image tower on a fast runtime: converted on first use (or read from the cache), then run.

    A conversion that fails leaves `fallback_reason` set and the caller on eager torch.
    """

    runtime: str
    precision: str
    module: torch.nn.Module
    key_parts: tuple[Any, ...]
    image_size: int
    cache_root: Path
    conversion_s: float = 0.0
    from_cache: bool = False
    fallback_reason: str | None = None
    int8_agreement: dict[str, float] | None = None
    _runner: TowerRunner | None = None

    @property
    def fp32_path(self) -> Path:
        key = hashlib.sha1(
            repr((EXPORT_FORMAT, OPSET, *self.key_parts, self.runtime, runtime_version(self.runtime))).encode()
        ).hexdigest()[:16]
        return self.cache_root / f"{key}.onnx"

    @property
    def active(self) -> bool:
        return self.fallback_reason is None

    @property
    def needs_calibration(self) -> bool:
        return self.active and self.precision == "int8" and self.int8_agreement is None

    def _fp32_runner(self) -> TowerRunner:
        path = self.fp32_path
        started = time.perf_counter()
        self.from_cache = path.is_file()
        if not self.from_cache:
            log.info("converting the image tower to %s (once per machine): %s", self.runtime, path)
            export_onnx(self.module, self.image_size, path)
        if self.runtime == "openvino":  # the ONNX file's path is unique to its contents (the key above)
            runner: TowerRunner = OpenVinoRunner(path, compiled_cache=self.cache_root / "openvino")
        else:
            runner = RUNNERS[self.runtime](path)
        self.conversion_s += time.perf_counter() - started
        return runner

    def load(self) -> None:
        """Convert (or read the cached conversion); on failure fall back to torch with the reason logged."""
        if self._runner is not None or not self.active:
            return
        try:
            self._runner = self._fp32_runner()
        except Exception as exc:  # exporters raise many kinds; any of them means "stay on eager torch"
            self.fallback_reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc) else ''}"
            log.warning(
                "image tower stays on eager torch: %s conversion failed (%s)", self.runtime, self.fallback_reason
            )

    def calibrate(self, pixels: np.ndarray) -> dict[str, float]:
        """Quantise to int8 on these frames and measure its agreement with fp32 on them."""
        self.load()
        if self._runner is None:
            raise RuntimeError(f"no {self.runtime} conversion to quantise ({self.fallback_reason})")
        started = time.perf_counter()
        reference = self._runner(pixels)
        with tempfile.TemporaryDirectory(dir=self.cache_root, prefix=".int8-") as tmp:
            int8_path = Path(tmp) / "tower-int8.onnx"
            quantize_int8(self.fp32_path, pixels, int8_path)
            runner = RUNNERS[self.runtime](int8_path)  # both runtimes hold the model in memory once built
        self._runner = runner
        self.int8_agreement = agreement(reference, runner(pixels))
        self.int8_agreement["calibration_s"] = round(time.perf_counter() - started, 3)
        return self.int8_agreement

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.load()
        if self._runner is None:
            raise RuntimeError(f"{self.runtime} is not available ({self.fallback_reason})")
        if self.needs_calibration:
            raise RuntimeError("int8 needs calibration frames first (ImageRuntime.calibrate)")
        return self._runner(np.ascontiguousarray(pixels, dtype=np.float32))

    def describe(self) -> dict[str, Any]:
        """What ran, for the output's metadata and the run's summary."""
        info: dict[str, Any] = {
            "runtime": self.runtime if self.active else "torch",
            "precision": self.precision if self.active else "fp32",
        }
        if self.active:
            info.update(
                version=runtime_version(self.runtime),
                conversion_s=round(self.conversion_s, 3),
                conversion_cached=self.from_cache,
            )
        else:
            info.update(requested=self.runtime, fallback_reason=self.fallback_reason)
        if self.int8_agreement is not None:
            info["int8_agreement_with_fp32"] = dict(self.int8_agreement)
        return info
