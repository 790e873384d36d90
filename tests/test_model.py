"""Model loading without a hub: helpful errors, local checkpoint files, Grad-CAM on both tower kinds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundify_otio.errors import ModelError
from soundify_otio.vision import model as model_module
from soundify_otio.vision.model import load_model


def test_missing_weights_say_how_to_get_them(monkeypatch):
    monkeypatch.setattr(model_module, "_cached_checkpoint", lambda name, tag: None)
    monkeypatch.setattr(model_module, "_hub_reachable", lambda: "the hub is unreachable (test)")
    with pytest.raises(ModelError) as error:
        load_model("RN50", "openai", "cpu")
    message = str(error.value)
    assert "unreachable (test)" in message
    assert "create_model_and_transforms('RN50', pretrained='openai')" in message
    assert "--pretrained /path/to/checkpoint" in message and "--pretrained none" in message


def test_unknown_names_list_the_valid_options():
    with pytest.raises(ModelError, match=r"RN50.*RN101"):
        load_model("RN49", "openai", "cpu")
    with pytest.raises(ModelError, match="openai, yfcc15m, cc12m"):
        load_model("RN50", "laion2b", "cpu")


@pytest.mark.slow
def test_local_checkpoint_file_is_loaded_and_identified(tmp_path):
    """A checkpoint saved from a model with changed weights loads as those weights, not the random ones."""
    import open_clip

    donor = open_clip.create_model("ViT-S-32", pretrained=None)
    with torch.no_grad():
        donor.text_projection.mul_(-1.0)
    path = tmp_path / "vit-s-32-flipped.pt"
    torch.save(donor.state_dict(), path)
    loaded = load_model("ViT-S-32", str(path), "cpu")
    random = load_model("ViT-S-32", "none", "cpu")
    assert loaded.weights.startswith("file:vit-s-32-flipped.pt#") and not loaded.pipeline_check
    assert random.pipeline_check and random.model_id == "ViT-S-32/none"
    text = ["a dog barking", "rain on a window"]
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    with torch.no_grad():
        expected = torch.nn.functional.normalize(donor.eval().encode_text(tokenizer(text)), dim=-1).numpy()
    np.testing.assert_allclose(loaded.encode_texts(text), expected, atol=1e-5)
    assert not np.allclose(random.encode_texts(text), expected, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["RN50", "ViT-S-32"])
def test_gradcam_maps_have_the_grid_shape_and_range(name):
    model = load_model(name, "none", "cpu")
    frames = np.random.default_rng(0).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    embeddings, activations = model.encode_frames(frames)
    assert embeddings.shape[0] == 3 and np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
    assert activations.dtype == np.float16
    texts = model.encode_texts(["a car", "a bird", "a bell"])
    cams = model.gradcam(activations, texts)
    assert cams.shape == (3, 7, 7)
    assert np.all(cams >= 0.0) and np.all(cams <= 1.0 + 1e-6)


@pytest.mark.slow
def test_same_random_weights_every_load():
    """Random weights are seeded, so caches keyed on 'RN50/none' stay valid across runs."""
    model_module._create.cache_clear()
    first = load_model("RN50", "none", "cpu").encode_texts(["traffic"])
    model_module._create.cache_clear()
    second = load_model("RN50", "none", "cpu").encode_texts(["traffic"])
    np.testing.assert_allclose(first, second, atol=1e-6)


@pytest.mark.slow
def test_first_token_pool_equals_open_clips_attention_pool():
    """The cheaper head must embed exactly as open_clip's own image encoder does."""
    model = load_model("RN50", "none", "cpu")
    frames = np.random.default_rng(1).integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    ours, _ = model.encode_frames(frames)
    clip = model_module._create("RN50", None, "cpu", False)
    with torch.no_grad():
        theirs = torch.nn.functional.normalize(clip.encode_image(model._pixels(frames)), dim=-1).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.slow
def test_pixels_are_normalised_with_the_weights_own_statistics(monkeypatch):
    """A tower trained on other statistics than OpenAI's gets its own mean/std, not OpenAI's."""
    real_create = model_module._create

    def create_with_statistics(*args, **kwargs):
        model = real_create(*args, **kwargs)  # the cached model: monkeypatch restores its statistics afterwards
        monkeypatch.setattr(model.visual, "image_mean", (0.5, 0.5, 0.5))
        monkeypatch.setattr(model.visual, "image_std", (0.25, 0.25, 0.25))
        return model

    openai = load_model("RN50", "none", "cpu")
    monkeypatch.setattr(model_module, "_create", create_with_statistics)
    own = load_model("RN50", "none", "cpu")
    grey = np.full((1, 224, 224, 3), 128, dtype=np.uint8)
    pixels = own._pixels(grey).to(torch.float32)
    assert torch.allclose(pixels, torch.full_like(pixels, (128 / 255 - 0.5) / 0.25), atol=1e-5)
    assert not torch.allclose(openai._pixels(grey).to(torch.float32), pixels, atol=1e-2)
    assert not np.allclose(own.encode_frames(grey)[0], openai.encode_frames(grey)[0], atol=1e-3)


def test_a_weights_tag_brings_its_statistics_even_from_a_cached_file():
    """open_clip cannot tie a cached checkpoint file to its tag, so the tag's statistics are looked up."""
    tower = torch.nn.Module()  # what open_clip leaves on a tower loaded from a file: its defaults
    tower.image_mean, tower.image_std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    laion = model_module.image_statistics(tower, "ViT-L-14", "laion2b_s32b_b82k")
    assert laion == {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    assert model_module.image_statistics(tower, "RN50", "openai")["mean"] == tower.image_mean
    assert model_module.image_statistics(torch.nn.Module(), "RN50", None)["std"] == model_module._STD
