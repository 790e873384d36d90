"""Loading CLIP for a run: the weights asked for, else (only when allowed) random weights, said once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from soundify_otio.errors import ModelError, UsageError

if TYPE_CHECKING:  # torch and open_clip load when a model does, not when a request is made
    from soundify_otio.vision.model import ClipModel


@dataclass(frozen=True)
class ModelRequest:
    """The model a run asks for and where its image tower runs."""

    name: str
    pretrained: str
    device: str | None = None
    fallback_random: bool = False
    """Where the weights cannot be had, load random ones (a pipeline check) instead of failing."""
    runtime: str = "auto"
    precision: str = "auto"
    runtime_cache: Path | None = None
    """Where converted image towers (and the weights' ids) are kept, once per machine."""


def open_model(request: ModelRequest, say: Callable[[str], None], *, images: bool = True) -> ClipModel:
    """The model of `request`: UsageError for a runtime/precision the device cannot run (before
    anything loads), ModelError where the weights cannot be had and no fallback is allowed. A
    fallback and random weights are said through `say`; where `images` the run encodes frames with
    the tower, so random weights make its output a pipeline check, and the warning says that."""
    from soundify_otio.vision.device import pick_device
    from soundify_otio.vision.model import RANDOM_WEIGHTS, load_model
    from soundify_otio.vision.runtime import concrete_runtime

    try:
        concrete_runtime(request.runtime, request.precision, pick_device(request.device).type)
    except ValueError as exc:
        raise UsageError(f"--runtime {request.runtime} --precision {request.precision}: {exc}") from exc

    def load(pretrained: str) -> ClipModel:
        return load_model(
            request.name, pretrained, request.device, request.runtime, request.precision, request.runtime_cache
        )

    try:
        model = load(request.pretrained)
    except ModelError as exc:
        if not request.fallback_random or request.pretrained == RANDOM_WEIGHTS:
            raise
        say(f"note: {exc}")
        say("note: falling back to RANDOM weights: this run is a PIPELINE CHECK only.")
        model = load(RANDOM_WEIGHTS)
    if model.pipeline_check and images:
        say(
            f"WARNING: {request.name} runs with random weights (--pretrained none): "
            "a pipeline check, not a real annotation; the sounds it picks mean nothing, and the output says so."
        )
    elif model.pipeline_check:
        say(f"note: {request.name}'s text embeddings come from random weights: search scores mean nothing")
    return model
