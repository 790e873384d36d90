"""Soundify for editors: match sound effects to a cut, write editable automation through OTIO.

The public API (see the README's "Python API"): `annotate_timeline`, `Session`, `AnalysedTimeline`,
`write_timeline`, `Config`, `Choice`, `Annotation`, `ProgressHook`, `PrintProgress` and the errors.
Names load on first use, so ``import soundify_otio`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from soundify_otio.version import __version__
from soundify_otio.vision.device import allow_mps_fallback

allow_mps_fallback()  # before anything here imports torch, which reads it once as it loads

_EXPORTS = {
    "annotate_timeline": "soundify_otio.app.api",
    "write_timeline": "soundify_otio.app.api",
    "Session": "soundify_otio.app.api",
    "AnalysedTimeline": "soundify_otio.app.api",
    "Config": "soundify_otio.config",
    "Choice": "soundify_otio.types",
    "Annotation": "soundify_otio.types",
    "ProgressHook": "soundify_otio.progress",
    "PrintProgress": "soundify_otio.progress",
    "SoundifyError": "soundify_otio.errors",
    "TimelineError": "soundify_otio.errors",
    "MediaError": "soundify_otio.errors",
    "LibraryError": "soundify_otio.errors",
    "ModelError": "soundify_otio.errors",
    "OutputError": "soundify_otio.errors",
    "ChoicesError": "soundify_otio.errors",
}

__all__ = [
    "AnalysedTimeline",
    "Annotation",
    "Choice",
    "ChoicesError",
    "Config",
    "LibraryError",
    "MediaError",
    "ModelError",
    "OutputError",
    "PrintProgress",
    "ProgressHook",
    "Session",
    "SoundifyError",
    "TimelineError",
    "__version__",
    "annotate_timeline",
    "write_timeline",
]

if TYPE_CHECKING:
    from soundify_otio.app.api import AnalysedTimeline, Session, annotate_timeline, write_timeline
    from soundify_otio.config import Config
    from soundify_otio.errors import (
        ChoicesError,
        LibraryError,
        MediaError,
        ModelError,
        OutputError,
        SoundifyError,
        TimelineError,
    )
    from soundify_otio.progress import PrintProgress, ProgressHook
    from soundify_otio.types import Annotation, Choice


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'soundify_otio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
