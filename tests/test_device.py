"""`--device auto` picks CUDA, then Apple's MPS, then the CPU, and each device its runtime: the accelerators'
availability is monkeypatched (no GPU and no Mac here; docs/devices.md says what was run where)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from soundify_otio.cli import main
from soundify_otio.vision import device, runtime
from soundify_otio.vision.model import load_model
from soundify_otio.vision.runtime import concrete_runtime


@pytest.fixture
def machine(monkeypatch):
    """Set which accelerators torch reports: machine(cuda=..., mps=...)."""

    def set_(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(device, "cuda_available", lambda: cuda)
        monkeypatch.setattr(device, "mps_available", lambda: mps)

    return set_


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda, mps)
    assert device.auto_device_type() == expected
    assert device.pick_device("auto").type == expected
    assert device.pick_device(None).type == expected
    assert device.pick_device("cpu").type == "cpu"  # a device named is taken as it is


def test_mps_runs_eager_torch_in_fp32_and_refuses_the_rest():
    assert concrete_runtime("auto", "auto", "mps") == ("torch", "fp32")
    assert concrete_runtime("torch", "fp32", "mps") == ("torch", "fp32")
    for runtime_, precision in (("onnx", "auto"), ("openvino", "auto"), ("auto", "fp16"), ("auto", "int8")):
        with pytest.raises(ValueError, match="MPS"):
            concrete_runtime(runtime_, precision, "mps")


def test_the_cpu_runtime_is_the_first_that_imports(monkeypatch):
    """A platform without OpenVINO's wheel (or with one whose native library fails to load) runs ONNX
    Runtime; without either, eager torch. Nothing is refused for a missing runtime."""
    real = runtime.runtime_version
    missing: set[str] = set()

    def version(name: str) -> str:
        if name in missing:
            raise ImportError(f"no {name} here")
        return real(name)

    monkeypatch.setattr(runtime, "runtime_version", version)
    assert concrete_runtime("auto", "auto", "cpu") == ("openvino", "fp32")
    missing.add("openvino")
    assert concrete_runtime("auto", "auto", "cpu") == ("onnx", "fp32")
    missing.add("onnx")
    assert concrete_runtime("auto", "auto", "cpu") == ("torch", "fp32")


def test_the_choice_is_recorded_with_the_device(machine):
    machine(cuda=False, mps=False)
    model = load_model("RN50", "none", "auto", runtime="torch")
    assert model.device.type == "cpu"
    assert model.runtime_info() == {"runtime": "torch", "precision": "fp32", "device": "cpu"}


def test_importing_the_package_allows_the_mps_fallback_on_macos_only(monkeypatch):
    monkeypatch.delenv(device.MPS_FALLBACK, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    device.allow_mps_fallback()
    assert device.MPS_FALLBACK not in os.environ
    monkeypatch.setattr(sys, "platform", "darwin")
    device.allow_mps_fallback()
    assert os.environ[device.MPS_FALLBACK] == "1"
    monkeypatch.setenv(device.MPS_FALLBACK, "0")  # the user's choice stands
    device.allow_mps_fallback()
    assert os.environ[device.MPS_FALLBACK] == "0"


def test_the_package_sets_it_before_torch_loads():
    """`import soundify_otio` sets the variable without importing torch (so torch, imported later, reads it)."""
    code = (
        "import os, sys; sys.platform = 'darwin'; os.environ.pop('PYTORCH_ENABLE_MPS_FALLBACK', None);"
        "import soundify_otio; print(os.environ.get('PYTORCH_ENABLE_MPS_FALLBACK'), 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "False"]


def test_cli_device_option(machine, capsys):
    """auto is the default and accepted by name; a device the machine lacks is a usage error (exit 2)."""
    machine(cuda=False, mps=False)
    for args, message in ((["--device", "mps"], "no MPS"), (["--device", "banana"], "not a torch device")):
        with pytest.raises(SystemExit) as exited:
            main(["library", "index", "/nonexistent-library", *args])
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
