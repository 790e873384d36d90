"""The torch device CLIP runs on: `auto` (the default) picks CUDA, then Apple's MPS, then the CPU.

On MPS the tower runs in fp32 on eager torch (ONNX Runtime and OpenVINO run here on the CPU only), and ops
MPS lacks fall back to the CPU: torch reads PYTORCH_ENABLE_MPS_FALLBACK once, as it is first imported, so
the package sets it as it is imported (`allow_mps_fallback`, from soundify_otio/__init__.py; a value the
user set is kept; a program that imported torch before soundify_otio must set it itself). docs/runtimes.md says what was
and was not run on which device.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

AUTO = "auto"
DEVICE_TYPES = ("cpu", "cuda", "mps")
MPS_FALLBACK = "PYTORCH_ENABLE_MPS_FALLBACK"


def allow_mps_fallback() -> None:
    """Have ops MPS lacks run on the CPU, on macOS, unless the user said otherwise (before torch is imported)."""
    if sys.platform == "darwin":
        os.environ.setdefault(MPS_FALLBACK, "1")


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def mps_available() -> bool:
    """Whether Apple's Metal backend is built into this torch and usable on this machine."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def auto_device_type() -> str:
    """CUDA where torch sees a GPU, else MPS on an Apple Silicon Mac, else the CPU."""
    if cuda_available():
        return "cuda"
    if mps_available():
        return "mps"
    return "cpu"


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """The device for `requested` ('auto' or None: `auto_device_type`; else as torch spells it)."""
    import torch

    if requested is None or str(requested) == AUTO:
        chosen = torch.device(auto_device_type())
        log.info("device auto: %s", chosen.type)
        return chosen
    return torch.device(requested)
