"""CLIP through open_clip: loading (tag, local file, random), frame/text encoding, Grad-CAM.

The image tower is split into a *trunk* (pixels -> the Grad-CAM layer's activations) and a
*head* (activations -> embedding). Encoding a frame keeps the trunk's activations, so Grad-CAM
later only runs the head forward and backward (attention pool for the ResNets, last block for
the ViTs) instead of the whole network again: no hooks to register or leak.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from soundify_otio.atomic import atomic_write_text
from soundify_otio.errors import ModelError, OutputError
from soundify_otio.vision.device import pick_device
from soundify_otio.vision.runtime import ImageRuntime, concrete_runtime, default_cache_root, tower_module

log = logging.getLogger(__name__)

RANDOM_WEIGHTS = "none"
_MEAN = (0.48145466, 0.4578275, 0.40821073)
_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class TowerSplit:
    """How to cut an image tower for Grad-CAM."""

    trunk: Callable[[torch.Tensor], torch.Tensor]
    head: Callable[[torch.Tensor], torch.Tensor]
    to_maps: Callable[[torch.Tensor], torch.Tensor]
    """Turns trunk activations (or their gradients) into [B, C, h, w] maps."""
    owner: torch.nn.Module | None = None
    """The module holding trunk's and head's parameters (for export to another runtime)."""
    trunk_only: tuple[torch.nn.Module, ...] = ()
    """Modules the trunk uses and the head does not: their weights are freed once a runtime runs the trunk."""


def _first_token_attention_pool(pool: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """open_clip's AttentionPool2d, asking only the pooled (first) token's query.

    The original attends from all 1 + h*w tokens and keeps the first; the others' outputs are
    discarded, so this gives the same embedding at a fraction of the cost (and of Grad-CAM's).
    """

    def head(x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).permute(2, 0, 1)  # NCHW -> (HW)NC
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + pool.positional_embedding[:, None, :].to(x.dtype)
        out, _ = F.multi_head_attention_forward(
            query=x[:1],
            key=x,
            value=x,
            embed_dim_to_check=x.shape[-1],
            num_heads=pool.num_heads,
            q_proj_weight=pool.q_proj.weight,
            k_proj_weight=pool.k_proj.weight,
            v_proj_weight=pool.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=0.0,
            out_proj_weight=pool.c_proj.weight,
            out_proj_bias=pool.c_proj.bias,
            use_separate_proj_weight=True,
            training=False,
            need_weights=False,
        )
        return out[0]

    return head


def _resnet_split(visual: Any) -> TowerSplit:
    """ModifiedResNet: Grad-CAM at the last ReLU of layer4 (the authors' `layer4.2.relu`)."""

    def trunk(x: torch.Tensor) -> torch.Tensor:
        x = visual.stem(x)
        return visual.layer4(visual.layer3(visual.layer2(visual.layer1(x))))

    return TowerSplit(
        trunk=trunk,
        head=_first_token_attention_pool(visual.attnpool),
        to_maps=lambda a: a,
        owner=visual,
        trunk_only=tuple(module for name, module in visual.named_children() if name != "attnpool"),
    )


def _vit_split(visual: Any) -> TowerSplit:
    """VisionTransformer: Grad-CAM on the tokens entering the last block, patches reshaped to a grid."""
    blocks = visual.transformer.resblocks
    batch_first = getattr(visual.transformer, "batch_first", True)

    def run(x: torch.Tensor, which: Sequence[torch.nn.Module]) -> torch.Tensor:
        if not batch_first:
            x = x.transpose(0, 1)
        for block in which:
            x = block(x)
        return x if batch_first else x.transpose(0, 1)

    def head(tokens: torch.Tensor) -> torch.Tensor:
        pooled, _ = visual._pool(run(tokens, blocks[-1:]))
        return pooled @ visual.proj if visual.proj is not None else pooled

    def to_maps(tokens: torch.Tensor) -> torch.Tensor:
        patches = tokens[:, -visual.grid_size[0] * visual.grid_size[1] :, :]
        b, _, c = patches.shape
        return patches.transpose(1, 2).reshape(b, c, *visual.grid_size)

    return TowerSplit(
        trunk=lambda x: run(visual._embeds(x), blocks[:-1]),
        head=head,
        to_maps=to_maps,
        owner=visual,
        trunk_only=(visual.conv1, visual.ln_pre, *blocks[:-1]),
    )


TOWER_SPLITS: dict[str, Callable[[torch.nn.Module], TowerSplit]] = {
    "ModifiedResNet": _resnet_split,
    "VisionTransformer": _vit_split,
}


class ClipModel:
    """A vision-language model as the stages use it: frames and texts in, unit vectors out."""

    def __init__(
        self,
        split: TowerSplit,
        encode_text: Callable[[Sequence[str]], torch.Tensor],
        logit_scale: float,
        name: str,
        weights: str,
        image_size: int,
        device: torch.device | str = "cpu",
        mean: Sequence[float] = _MEAN,
        std: Sequence[float] = _STD,
    ) -> None:
        self.split = split
        self._encode_text = encode_text
        self.logit_scale = float(logit_scale)
        self.name = name
        self.weights = weights
        self.image_size = image_size
        self.device = torch.device(device)
        self._mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)
        self.dtype = torch.float32
        """The tower's compute type in torch (float16 on CUDA with --precision fp16)."""
        self.runtime: ImageRuntime | None = None
        """Where the image tower runs instead of eager torch (None: eager torch)."""
        self._trunk_freed = False

    def use_runtime(self, runtime: str, precision: str = "auto", cache_root: Path | None = None) -> None:
        """Run the image tower on `runtime` ('auto': the measured default for the device); torch stays
        the fallback. Conversion happens on first use. ValueError for a combination that cannot run."""
        runtime, precision = concrete_runtime(runtime, precision, self.device.type)
        if self._trunk_freed:
            raise RuntimeError("the image tower's trunk was freed when its runtime took over; load the model again")
        self.runtime = None
        if runtime == "torch":
            self.dtype = torch.float16 if precision == "fp16" else torch.float32
            return
        self.runtime = ImageRuntime(
            runtime=runtime,
            precision=precision,
            module=tower_module(self.split.trunk, self.split.head, self.split.owner),
            key_parts=(self.model_id, self.image_size, torch.__version__),
            image_size=self.image_size,
            cache_root=cache_root or default_cache_root(),
        )

    @property
    def precision(self) -> str:
        """The image tower's numeric precision: fp32, fp16 (CUDA) or int8 (a CPU runtime)."""
        if self.runtime is not None and self.runtime.active:
            return self.runtime.precision
        return "fp16" if self.dtype == torch.float16 else "fp32"

    @property
    def image_id(self) -> str:
        """Identifies what frame encodings this model gives (the frame cache's key): int8 and fp16 differ from
        fp32; the fp32 runtimes agree with eager torch to ~1e-7 and share it."""
        return self.model_id if self.precision == "fp32" else f"{self.model_id}/{self.precision}"

    def runtime_info(self) -> dict[str, Any]:
        """What ran the image tower (for the output's metadata)."""
        if self.runtime is not None:
            return {**self.runtime.describe(), "device": self.device.type}
        return {"runtime": "torch", "precision": self.precision, "device": self.device.type}

    @property
    def model_id(self) -> str:
        """Identifies the embedding space (for caches and the library index)."""
        return f"{self.name}/{self.weights}"

    @property
    def pipeline_check(self) -> bool:
        """True when the weights are random: the pipeline runs, the picks mean nothing."""
        return self.weights == RANDOM_WEIGHTS

    def _pixels(self, frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return (x - self._mean) / self._std

    def encode_frames(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 RGB frames [N, H, W, 3] -> (unit embeddings [N, D] float32, Grad-CAM activations float16)."""
        with torch.inference_mode():
            pixels = self._pixels(frames)
            self.load_runtime()
            if self.runtime is not None and self.runtime.active:
                raw, acts = self.runtime(pixels.cpu().numpy())
                embeddings = F.normalize(torch.from_numpy(raw).float(), dim=-1)
                return embeddings.numpy(), acts.astype(np.float16)
            activations = self.split.trunk(pixels.to(self.dtype))
            embeddings = F.normalize(self.split.head(activations).float(), dim=-1)
        return embeddings.cpu().numpy(), activations.to(torch.float16).cpu().numpy()

    def load_runtime(self) -> None:
        """Convert the image tower for its runtime, or read the conversion. Once the runtime runs the trunk,
        the trunk's torch weights are freed (Grad-CAM runs the head only): 94 MB for RN50."""
        if self.runtime is None:
            return
        self.runtime.load()
        if self.runtime.active and not self._trunk_freed:
            for module in self.split.trunk_only:
                module.to("meta")
            self._trunk_freed = True

    def pixels_for_calibration(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames -> the float32 network input a runtime is calibrated on."""
        with torch.inference_mode():
            return self._pixels(frames).cpu().numpy()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> unit embeddings [N, D] float32."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with torch.inference_mode():
            return F.normalize(self._encode_text(list(texts)).float(), dim=-1).cpu().numpy()

    def gradcam(self, activations: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """Grad-CAM maps [B, h, w] in 0..1 of each frame's activations for its paired text embedding."""
        with torch.enable_grad():
            acts = torch.from_numpy(np.asarray(activations, dtype=np.float32)).to(self.device, self.dtype)
            acts.requires_grad_(True)
            texts = torch.from_numpy(np.asarray(text_embeddings, dtype=np.float32)).to(self.device)
            similarity = (F.normalize(self.split.head(acts).float(), dim=-1) * texts).sum()
            (grads,) = torch.autograd.grad(similarity, acts)
        maps_a, maps_g = self.split.to_maps(acts.detach()), self.split.to_maps(grads)
        cam = F.relu((maps_g.mean(dim=(2, 3), keepdim=True) * maps_a).sum(dim=1))
        peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-12).view(-1, 1, 1)
        return (cam / peak).float().cpu().numpy()


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> str | None:
    """None when the model hub's name resolves and its port answers, else the reason it does not."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host} is unreachable ({exc})"


def _cached_checkpoint(name: str, tag: str) -> Path | None:
    """The checkpoint open_clip would download for (name, tag), if a cache already holds it."""
    import open_clip
    from huggingface_hub import try_to_load_from_cache

    cfg = open_clip.get_pretrained_cfg(name, tag)
    repo = (cfg.get("hf_hub") or "").strip("/")
    if repo:
        parts = repo.split("/")
        repo_id, filenames = "/".join(parts[:2]), ["/".join(parts[2:])] if len(parts) > 2 else []
        filenames = filenames or ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for filename in filenames:
            found = try_to_load_from_cache(repo_id, filename)
            if isinstance(found, str):
                return Path(found)
    url = cfg.get("url") or ""
    legacy = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
    return legacy if url and legacy.is_file() else None


def _missing_weights_message(name: str, tag: str, reason: str) -> str:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(name, tag)
    source = cfg.get("hf_hub") or cfg.get("url") or "the open_clip model hub"
    return (
        f"CLIP weights {name} '{tag}' are not in the local cache and cannot be downloaded: {reason}. "
        f"To get them, run once on a machine with internet access: "
        f"python -c \"import open_clip; open_clip.create_model_and_transforms('{name}', pretrained='{tag}')\" "
        f"and copy the Hugging Face cache (~/.cache/huggingface/hub) here, or fetch the checkpoint "
        f"({source}) and pass its path: --pretrained /path/to/checkpoint. "
        f"--pretrained none runs the pipeline with random weights (a pipeline check; the picks mean nothing)."
    )


def _file_weights_id(path: Path, memo_root: Path) -> str:
    """'file:NAME#DIGEST', DIGEST the checkpoint's SHA-256 (12 hex digits). It is remembered in `memo_root`
    per file identity (path, size, inode, mtime, ctime), so a later run does not read the whole checkpoint
    again for it (0.8 s for RN50's 400 MB on the shared machine)."""
    stat = path.stat()
    identity = (str(path), stat.st_size, stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
    memo = memo_root / hashlib.sha1(repr(identity).encode()).hexdigest()[:20]
    try:
        digest = memo.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        digest = ""
    if not re.fullmatch(r"[0-9a-f]{12}", digest):
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        digest = sha.hexdigest()[:12]
        with contextlib.suppress(OSError, OutputError):  # unwritable: the next run computes the digest again
            atomic_write_text(memo, digest)
    return f"file:{path.name}#{digest}"


def image_statistics(visual: Any, name: str, tag: str | None) -> dict[str, tuple[float, ...]]:
    """The pixel mean and std the weights were trained with: a weights tag's own (also when its
    checkpoint is read from a local cache file, which open_clip cannot tie to the tag), else what
    open_clip set on the tower, else OpenAI's. ViT-L-14/laion2b_s32b_b82k, for one, uses 0.5/0.5."""
    import open_clip

    mean, std = getattr(visual, "image_mean", None), getattr(visual, "image_std", None)
    if tag is not None:
        config = open_clip.get_pretrained_cfg(name, tag)
        mean, std = config.get("mean") or mean, config.get("std") or std
    return {"mean": tuple(mean or _MEAN), "std": tuple(std or _STD)}


@functools.lru_cache(maxsize=2)
def _create(name: str, source: str | None, device: str, quick_gelu: bool, half_tower: bool = False) -> torch.nn.Module:
    """An open_clip model in eval mode (its image tower in float16 if asked); kept, so a process that
    annotates twice loads once. `source`: a checkpoint file (its weights assigned to a model built
    without initialisation), a weights tag, or None (random weights, or those a hf-hub:/local-dir: name brings)."""
    import open_clip

    model = _from_checkpoint(name, Path(source), quick_gelu) if source and Path(source).is_file() else None
    if model is not None:
        model.to(device)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # random weights are the same every run, so caches keyed on them hold
            model = open_clip.create_model(name, pretrained=source, device=device, force_quick_gelu=quick_gelu)
    if half_tower:
        model.visual.half()
    return model.eval()


def _from_checkpoint(name: str, path: Path, quick_gelu: bool) -> torch.nn.Module | None:
    """The model built on the meta device (no random initialisation, which a checkpoint would overwrite:
    about 1 s for RN50), then its checkpoint's tensors assigned in place of the meta ones, each in the
    dtype the model declares. open_clip's own load_checkpoint reads the file, so its conversions of
    other formats and resized position embeddings still apply. None where a tensor outside the state dict
    (other than the attention masks built here) would be left without a value."""
    import open_clip

    with torch.device("meta"):
        model = open_clip.create_model(name, pretrained=None, device="meta", force_quick_gelu=quick_gelu)
    declared = {key: tensor.dtype for key, tensor in model.state_dict().items()}
    load_state_dict = model.load_state_dict

    def assign(state_dict: dict[str, torch.Tensor], strict: bool = True, assign: bool = False) -> Any:
        typed = {key: value.to(declared.get(key, value.dtype)) for key, value in state_dict.items()}
        return load_state_dict(typed, strict=strict, assign=True)

    model.load_state_dict = assign  # what open_clip's load_checkpoint calls
    try:
        open_clip.load_checkpoint(model, str(path), strict=True, device="cpu")
    finally:
        del model.load_state_dict
    _materialise_attention_masks(model)
    left = [key for key, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if left:  # a tower with other buffers the checkpoint does not hold (timm's, say): build it the usual way
        log.debug("%s: %s not in the checkpoint; building with initialisation", name, ", ".join(left[:5]))
        return None
    return model


def _materialise_attention_masks(model: torch.nn.Module) -> None:
    """open_clip's only buffers outside the state dict are the text towers' causal attention masks
    (-inf above the diagonal); built here, as their modules build them, for those left on meta."""
    for module in model.modules():
        mask = module._buffers.get("attn_mask")
        if mask is not None and mask.is_meta:
            module._buffers["attn_mask"] = torch.full(mask.shape, float("-inf"), dtype=mask.dtype).triu_(1)


def load_model(
    name: str = "RN50",
    pretrained: str = "openai",
    device: torch.device | str | None = None,
    runtime: str = "auto",
    precision: str = "auto",
    runtime_cache: Path | None = None,
) -> ClipModel:
    """Load an open_clip model: `pretrained` is a tag, a local checkpoint file, or 'none' (random), on `device`
    ('auto' or None: CUDA, then Apple's MPS, then the CPU; vision.device).

        `runtime` runs the image tower on eager torch, ONNX Runtime or OpenVINO ("auto", the default: the measured
        default for the device), converted on first use and cached under `runtime_cache`; `precision`
        is fp32, fp16 (CUDA) or int8 (calibrate with the run's frames first). ModelError for a
        combination that cannot run."""
    import open_clip

    device = pick_device(device)
    try:
        resolved_runtime, resolved_precision = concrete_runtime(runtime, precision, device.type)
    except ValueError as exc:
        raise ModelError(str(exc), f"{runtime}/{precision}") from exc
    if device.type == "cpu" and resolved_runtime == "torch":
        # denormal floats in conv activations cost up to 40% on x86; process-wide, so only where eager
        # torch runs the tower (the fast runtimes flush denormals in their own threads)
        torch.set_flush_denormal(True)
    known = open_clip.list_models()
    if name not in known and not name.startswith(("local-dir:", "hf-hub:")):
        resnets_and_vits = [m for m in known if m.startswith(("RN", "ViT-B"))]
        raise ModelError(
            f"unknown model; valid open_clip names include: {', '.join(resnets_and_vits)} (or local-dir:PATH)", name
        )
    quick_gelu, tag = False, None
    if pretrained == RANDOM_WEIGHTS:
        source, weights = None, RANDOM_WEIGHTS
    elif Path(pretrained).expanduser().is_file():
        path = Path(pretrained).expanduser().resolve()
        source, weights = str(path), _file_weights_id(path, (runtime_cache or default_cache_root()) / "weights-ids")
    elif name.startswith(("local-dir:", "hf-hub:")):
        source, weights = None, pretrained
    else:
        tags = open_clip.list_pretrained_tags_by_model(name)
        if pretrained not in tags:
            raise ModelError(
                f"is neither a checkpoint file nor a weights tag of {name}; valid tags: "
                f"{', '.join(tags) or '(none)'}, a checkpoint file, or 'none'",
                pretrained,
            )
        cached = _cached_checkpoint(name, pretrained)
        quick_gelu = bool(open_clip.get_pretrained_cfg(name, pretrained).get("quick_gelu"))
        if cached is None:
            reason = _hub_reachable()
            if reason:
                raise ModelError(_missing_weights_message(name, pretrained, reason))
        source, weights, tag = (str(cached) if cached else pretrained), pretrained, pretrained
    model: Any  # open_clip's CLIP: its towers and attributes are not typed
    try:
        model = _create(name, source, str(device), quick_gelu, resolved_precision == "fp16")
        if any(p.is_meta for p in model.visual.parameters()):  # a runtime took this kept model's trunk over
            _create.cache_clear()
            model = _create(name, source, str(device), quick_gelu, resolved_precision == "fp16")
    except Exception as exc:  # open_clip raises bare RuntimeErrors for download and state-dict problems
        raise ModelError(f"cannot load weights for {name}: {exc}", pretrained) from exc
    visual = model.visual
    split_for = TOWER_SPLITS.get(type(visual).__name__)
    if split_for is None:
        raise ModelError(
            f"Grad-CAM needs an image tower of kind {', '.join(TOWER_SPLITS)}; {name} has {type(visual).__name__}", name
        )
    tokenizer = open_clip.get_tokenizer(name)
    size = visual.image_size
    clip = ClipModel(
        split=split_for(visual),
        encode_text=lambda texts: model.encode_text(tokenizer(texts).to(device)),
        logit_scale=float(model.logit_scale.detach().exp()),
        name=name,
        weights=weights,
        image_size=size[0] if isinstance(size, (tuple, list)) else int(size),
        device=device,
        **image_statistics(visual, name, tag),
    )
    clip.use_runtime(resolved_runtime, resolved_precision, runtime_cache)
    return clip
