"""Stage 2: rank a scene's candidate effects and ambients by CLIP similarity (zero-shot)."""

from __future__ import annotations

import numpy as np

from soundify_otio.types import Kind, Suggestion


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def rank_labels(
    frame_embeddings: np.ndarray,
    label_embeddings: np.ndarray,
    labels: list[str],
    kind: Kind,
    logit_scale: float,
    top_k: int,
) -> tuple[Suggestion, ...]:
    """Top-k labels for a scene: per sampled frame a softmax over all labels, averaged over the frames."""
    if not labels or frame_embeddings.shape[0] == 0:
        return ()
    probabilities = softmax(logit_scale * frame_embeddings @ label_embeddings.T, axis=1).mean(axis=0)
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return tuple(Suggestion(labels[i], kind, float(probabilities[i])) for i in order)


def rerank_ambients(
    candidates: tuple[Suggestion, ...], ambient_texts: np.ndarray, effect_texts: np.ndarray
) -> tuple[Suggestion, ...]:
    """Order ambient candidates by text-to-text similarity with the chosen effects.

    `ambient_texts` holds one unit text embedding per candidate, `effect_texts` one per chosen
    effect. With no effect chosen the image ranking stands. Ties keep the image order.
    """
    if not candidates or effect_texts.shape[0] == 0:
        return candidates
    affinity = (ambient_texts @ effect_texts.T).mean(axis=1)
    order = sorted(range(len(candidates)), key=lambda i: (-round(float(affinity[i]), 6), i))
    return tuple(candidates[i] for i in order)
