"""The image tower on ONNX Runtime and OpenVINO computes what eager torch does; int8 only on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from soundify_otio.errors import ModelError
from soundify_otio.vision.model import ClipModel, TowerSplit, load_model
from soundify_otio.vision.runtime import concrete_runtime

from helpers.known_answer import colour_model

FAST = ["onnx", "openvino"]


@pytest.fixture(scope="module")
def runtime_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runtimes")


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (5, 224, 224, 3), dtype=np.uint8)
    red_square = np.zeros((1, 224, 224, 3), dtype=np.uint8)
    red_square[0, 32:96, 128:192, 0] = 255
    return np.concatenate([noise, red_square])


def _eager(model: ClipModel, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        activations = model.split.trunk(model._pixels(frames))
        return model.split.head(activations).numpy(), activations.numpy()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _assert_matches_eager(model: ClipModel, frames: np.ndarray, what: str) -> None:
    expected = _eager(model, frames)
    assert model.runtime is not None
    got = model.runtime(model.pixels_for_calibration(frames))
    for name, want, have in zip(("embeddings", "activations"), expected, got, strict=True):
        assert have.shape == want.shape
        cosine = _cosines(want, have)
        print(f"{what} {name}: max |diff| {np.abs(want - have).max():.3g}, min cosine {cosine.min():.9f}")
        assert cosine.min() >= 1 - 1e-5
    assert model.runtime.active
    assert model.runtime_info()["precision"] == "fp32"


@pytest.mark.slow
@pytest.mark.parametrize("runtime", FAST)
def test_random_weight_rn50_matches_eager(runtime, frames, runtime_cache):
    model = load_model("RN50", "none", "cpu", runtime=runtime, runtime_cache=runtime_cache)
    _assert_matches_eager(model, frames, f"RN50/{runtime}")
    embeddings, activations = model.encode_frames(frames)
    eager = load_model("RN50", "none", "cpu", runtime="torch")
    want_embeddings, want_activations = eager.encode_frames(frames)
    assert np.abs(embeddings - want_embeddings).max() < 1e-5
    assert activations.dtype == np.float16
    assert activations.shape == want_activations.shape
    assert model.image_id == eager.image_id == "RN50/none"


@pytest.mark.slow
def test_the_trunk_weights_go_once_the_runtime_runs_it(frames, runtime_cache):
    model = load_model("RN50", "none", "cpu", runtime="openvino", runtime_cache=runtime_cache)
    trunk = [p for module in model.split.trunk_only for p in module.parameters()]
    assert sum(p.numel() for p in trunk) > 20_000_000
    assert not any(p.is_meta for p in trunk)
    embeddings, activations = model.encode_frames(frames)
    assert all(p.is_meta for module in model.split.trunk_only for p in module.parameters())
    np.testing.assert_array_equal(model.encode_frames(frames)[0], embeddings)
    cams = model.gradcam(activations, embeddings)  # the head keeps its weights
    assert cams.shape == (len(frames), 7, 7)
    assert np.isfinite(cams).all()
    assert cams.max() == pytest.approx(1.0)
    whole = load_model("RN50", "none", "cpu", runtime="torch")  # built again, not the kept one without a trunk
    assert not any(p.is_meta for module in whole.split.trunk_only for p in module.parameters())


@pytest.mark.parametrize("runtime", FAST)
def test_known_answer_model_matches_eager_and_still_sees_red(runtime, frames, runtime_cache):
    model = colour_model()
    model.use_runtime(runtime, "fp32", runtime_cache)
    _assert_matches_eager(model, frames, f"colour/{runtime}")
    embeddings, activations = model.encode_frames(frames[-1:])
    red = model.encode_texts(["red"])[0]
    assert float(embeddings[0] @ red) > 0.05
    cam = model.gradcam(activations, red[None])[0]
    assert np.unravel_index(np.argmax(cam), cam.shape) in {(1, 4), (1, 5), (2, 4), (2, 5)}


def test_conversion_is_cached_per_model_and_weights(runtime_cache):
    first = colour_model()
    first.use_runtime("onnx", "fp32", runtime_cache)
    assert first.runtime is not None
    first.runtime.load()
    again = colour_model()
    again.use_runtime("onnx", "fp32", runtime_cache)
    assert again.runtime is not None
    again.runtime.load()
    assert again.runtime.from_cache
    assert again.runtime.fp32_path == first.runtime.fp32_path
    other = colour_model()
    other.weights = "other-weights"
    other.use_runtime("onnx", "fp32", runtime_cache)
    assert other.runtime is not None
    assert other.runtime.fp32_path != first.runtime.fp32_path


def test_openvino_keeps_its_compiled_model_and_a_later_run_loads_it(tmp_path, frames):
    first = colour_model()
    first.use_runtime("openvino", "fp32", tmp_path)
    assert first.runtime is not None
    want = first.runtime(first.pixels_for_calibration(frames))
    blobs = sorted((tmp_path / "openvino").iterdir())
    assert len(blobs) == 1
    assert blobs[0].stat().st_size > 0
    written = blobs[0].stat().st_mtime_ns
    again = colour_model()
    again.use_runtime("openvino", "fp32", tmp_path)
    assert again.runtime is not None
    got = again.runtime(again.pixels_for_calibration(frames))
    assert again.runtime.from_cache
    assert sorted((tmp_path / "openvino").iterdir()) == blobs
    assert blobs[0].stat().st_mtime_ns == written  # read, not compiled and written again
    for have, expected in zip(got, want, strict=True):
        np.testing.assert_array_equal(have, expected)


def test_a_tower_that_cannot_be_exported_stays_on_eager_torch(tmp_path, frames):
    def trunk(x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():
            raise RuntimeError("not traceable")
        return torch.nn.functional.avg_pool2d(x, 32)

    model = ClipModel(
        split=TowerSplit(trunk=trunk, head=lambda a: a.mean(dim=(2, 3)), to_maps=lambda a: a),
        encode_text=lambda texts: torch.ones(len(texts), 3),
        logit_scale=1.0,
        name="untraceable",
        weights="test",
        image_size=224,
    )
    model.use_runtime("openvino", "fp32", tmp_path)
    embeddings, _ = model.encode_frames(frames[:2])
    info = model.runtime_info()
    assert info["runtime"] == "torch"
    assert info["requested"] == "openvino"
    assert "not traceable" in info["fallback_reason"]
    assert np.allclose(
        embeddings,
        _eager(model, frames[:2])[0] / np.linalg.norm(_eager(model, frames[:2])[0], axis=1)[:, None],
        atol=1e-6,
    )


@pytest.mark.slow
def test_int8_is_calibrated_on_given_frames_and_measured(runtime_cache):
    model = load_model("RN50", "none", "cpu", runtime="openvino", precision="int8", runtime_cache=runtime_cache)
    assert model.image_id == "RN50/none/int8"
    rng = np.random.default_rng(3)
    calibration = rng.integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)
    assert model.runtime is not None
    assert model.runtime.needs_calibration
    with pytest.raises(RuntimeError, match="calibration"):
        model.encode_frames(calibration[:1])
    agreement = model.runtime.calibrate(model.pixels_for_calibration(calibration))
    print("int8 agreement with fp32:", agreement)
    assert agreement["frames"] == 16
    assert 0.99 <= agreement["embedding_cosine_min"] < 1.0  # close, and really quantised
    assert model.runtime_info()["int8_agreement_with_fp32"] == agreement
    embeddings, _ = model.encode_frames(calibration[:2])
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)


def test_impossible_combinations_are_refused():
    with pytest.raises(ValueError, match="int8 needs"):
        concrete_runtime("torch", "int8", "cpu")
    with pytest.raises(ValueError, match="CPU only"):
        concrete_runtime("onnx", "auto", "cuda")
    with pytest.raises(ValueError, match="fp16 is for CUDA"):
        concrete_runtime("openvino", "fp16", "cpu")
    assert concrete_runtime("auto", "auto", "cuda") == ("torch", "fp16")
    assert concrete_runtime("auto", "auto", "cpu")[1] == "fp32"
    with pytest.raises(ModelError):
        load_model("RN50", "none", "cpu", runtime="torch", precision="int8")


def test_an_int8_run_calibrates_on_its_own_frames_and_records_the_agreement(tmp_path, runtime_cache):
    from soundify_otio.config import Config
    from soundify_otio.pipeline.soundify import Soundify
    from soundify_otio.types import Shot

    from helpers import synthetic

    video = synthetic.moving_square(tmp_path / "square.mp4", n_frames=50)
    model = colour_model()
    model.use_runtime("openvino", "int8", runtime_cache)

    class Library:
        def label_embeddings(self, encoder, kind):
            return ["red"], encoder.encode_texts(["red"])

    shots = [Shot(i, f"clip {i}", video.path, i * 1.0, i * 1.0, 1.0) for i in range(2)]
    soundify = Soundify(model, Library(), Config(), cache=tmp_path / "cache")
    analysis = soundify.analyse(shots)
    agreement = model.runtime_info()["int8_agreement_with_fp32"]
    assert agreement["frames"] == 4  # the sampled frames 0, 12, 25, 37 (frame 0 is the only keyframe)
    assert agreement["embedding_cosine_min"] > 0.99
    assert analysis.scenes[0].frames.embeddings.shape == (2, 4)
    assert model.runtime_info()["precision"] == "int8"
    fp32 = Soundify(colour_model(), Library(), Config(), cache=tmp_path / "cache")
    assert fp32.analyse(shots)
    assert fp32.cache.hits == 0  # int8 encodings are not served to an fp32 run


def test_the_half_precision_path_cuda_takes_agrees_with_fp32(frames):
    """CUDA runs the tower in float16 (`concrete_runtime` gives fp16 there); the same code path on the CPU here."""
    full, half = colour_model(), colour_model()
    half.dtype = torch.float16
    assert half.precision == "fp16"
    assert half.image_id == "colour-test/known-answer/fp16"
    want, want_acts = full.encode_frames(frames)
    got, acts = half.encode_frames(frames)
    assert got.dtype == np.float32
    assert acts.dtype == np.float16
    assert _cosines(want, got).min() > 0.999
    red = full.encode_texts(["red"])
    cams = half.gradcam(acts[-1:], red)
    assert cams.dtype == np.float32
    assert np.allclose(cams, full.gradcam(want_acts[-1:], red), atol=1e-2)
