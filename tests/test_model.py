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
    assert "--pretrained /path/to/checkpoint" in message
    assert "--pretrained none" in message


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
    assert loaded.weights.startswith("file:vit-s-32-flipped.pt#")
    assert not loaded.pipeline_check
    assert random.pipeline_check
    assert random.model_id == "ViT-S-32/none"
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
    assert embeddings.shape[0] == 3
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
    assert activations.dtype == np.float16
    texts = model.encode_texts(["a car", "a bird", "a bell"])
    cams = model.gradcam(activations, texts)
    assert cams.shape == (3, 7, 7)
    assert np.all(cams >= 0.0)
    assert np.all(cams <= 1.0 + 1e-6)


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


@pytest.mark.slow
def test_a_checkpoint_is_assigned_to_a_model_built_on_meta(tmp_path, monkeypatch):
    """A checkpoint file's model is built on the meta device (no random initialisation) and its tensors
    assigned: the same embeddings, layer-4 activations and text embeddings as the module it was saved
    from, and nothing left on meta. --pretrained none still initialises a real model."""
    import open_clip

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)  # weights unlike the seed-0 ones of --pretrained none
        donor = open_clip.create_model("RN50", pretrained=None).eval()
    path = tmp_path / "rn50-random.pt"
    torch.save(donor.state_dict(), path)
    initialised: list[str] = []  # the device of every tensor open_clip's and torch's initialisers fill

    def spy(init):
        def recorded(tensor, *args, **kwargs):
            initialised.append(tensor.device.type)
            return init(tensor, *args, **kwargs)

        return recorded

    for name in ("normal_", "kaiming_uniform_", "uniform_"):
        monkeypatch.setattr(torch.nn.init, name, spy(getattr(torch.nn.init, name)))
    model_module._create.cache_clear()
    built = model_module._create("RN50", str(path), "cpu", False)
    assert initialised
    assert set(initialised) == {"meta"}  # initialisers ran on meta tensors only: nothing paid
    tensors = dict(built.named_parameters()) | dict(built.named_buffers())
    assert not [key for key, tensor in tensors.items() if tensor.is_meta]
    donor_tensors = dict(donor.named_parameters()) | dict(donor.named_buffers())
    assert {k: t.dtype for k, t in tensors.items()} == {k: t.dtype for k, t in donor_tensors.items()}
    assert torch.equal(built.attn_mask, donor.attn_mask)  # not in the state dict: rebuilt

    loaded = load_model("RN50", str(path), "cpu", runtime="torch", runtime_cache=tmp_path / "cache")
    frames = np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    reference = model_module.TOWER_SPLITS["ModifiedResNet"](donor.visual)
    with torch.inference_mode():
        pixels = loaded._pixels(frames)
        activations = reference.trunk(pixels)
        embeddings = torch.nn.functional.normalize(reference.head(activations), dim=-1)
        assert torch.equal(loaded.split.trunk(pixels), activations)
        texts = open_clip.get_tokenizer("RN50")(["a dog barking", "rain on a window"])
        text_embeddings = torch.nn.functional.normalize(donor.encode_text(texts), dim=-1).numpy()
    np.testing.assert_array_equal(loaded.encode_frames(frames)[0], embeddings.numpy())
    np.testing.assert_array_equal(loaded.encode_texts(["a dog barking", "rain on a window"]), text_embeddings)

    half = tmp_path / "rn50-random-fp16.pt"  # OpenAI's checkpoints hold float16: the model stays float32
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in donor.state_dict().items()}, half)
    from_half = model_module._create("RN50", str(half), "cpu", False)
    assert from_half.visual.layer4[2].conv3.weight.dtype == torch.float32
    torch.testing.assert_close(
        from_half.visual.layer4[2].conv3.weight, donor.visual.layer4[2].conv3.weight, atol=1e-3, rtol=1e-3
    )

    initialised.clear()
    random = model_module._create("RN50", None, "cpu", False)
    assert initialised
    assert set(initialised) == {"cpu"}  # random weights are really drawn
    assert not any(tensor.is_meta for tensor in random.parameters())
    assert not torch.equal(random.visual.attnpool.c_proj.weight, donor.visual.attnpool.c_proj.weight)


def test_a_checkpoints_digest_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    import hashlib
    import time

    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"first weights")
    memo = tmp_path / "memo"
    first = model_module._file_weights_id(checkpoint, memo)
    assert first == f"file:weights.pt#{hashlib.sha256(b'first weights').hexdigest()[:12]}"
    assert len(list(memo.iterdir())) == 1

    with monkeypatch.context() as patched:  # a second run does not read the file for its digest
        patched.setattr(model_module.hashlib, "sha256", lambda *a: pytest.fail("the checkpoint was hashed again"))
        assert model_module._file_weights_id(checkpoint, memo) == first

    time.sleep(0.01)
    checkpoint.write_bytes(b"other weights")  # the same size: its mtime and ctime tell it apart
    assert model_module._file_weights_id(checkpoint, memo) == (
        f"file:weights.pt#{hashlib.sha256(b'other weights').hexdigest()[:12]}"
    )
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    assert model_module._file_weights_id(checkpoint, blocked).endswith(
        hashlib.sha256(b"other weights").hexdigest()[:12]
    )


@pytest.mark.slow
def test_a_checkpoint_that_leaves_a_tensor_on_meta_is_built_the_usual_way(tmp_path, monkeypatch):
    """Where the meta build would leave a tensor without a value (here: the masks not rebuilt), the model is
    built with initialisation and the checkpoint loaded into it, as before."""
    import open_clip

    donor = open_clip.create_model("ViT-S-32", pretrained=None).eval()
    path = tmp_path / "vit-s-32.pt"
    torch.save(donor.state_dict(), path)
    monkeypatch.setattr(model_module, "_materialise_attention_masks", lambda model: None)
    model_module._create.cache_clear()
    built = model_module._create("ViT-S-32", str(path), "cpu", False)
    assert not any(tensor.is_meta for tensor in [*built.parameters(), *built.buffers()])
    assert torch.equal(built.attn_mask, donor.attn_mask)
    texts = open_clip.get_tokenizer("ViT-S-32")(["a dog barking"])
    with torch.no_grad():
        assert torch.equal(built.encode_text(texts), donor.encode_text(texts))
