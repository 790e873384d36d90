"""A hand-built vision-language model whose answers are known: it sees colours.

Image trunk: per 32x32 cell, how red / green / blue / colourless the pixels are ([B, 4, h, w]).
Head: the cells' mean, so the embedding says which colours fill the frame. Text: a label naming a
colour points along that colour's axis; any other text along "colourless". Grad-CAM on it lights
the cells holding the label's colour, so a red square moving left to right must pan left to right.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from soundify_otio.vision.model import ClipModel, TowerSplit

COLOURS = ("red", "green", "blue")


def _trunk(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    red = F.relu(r - torch.maximum(g, b))
    green = F.relu(g - torch.maximum(r, b))
    blue = F.relu(b - torch.maximum(r, g))
    plain = 1.0 - torch.maximum(torch.maximum(red, green), blue)
    return F.avg_pool2d(torch.stack([red, green, blue, plain], dim=1), 32)


def _text(texts: Sequence[str]) -> torch.Tensor:
    rows = []
    for text in texts:
        words = text.lower().split()
        hit = [i for i, colour in enumerate(COLOURS) if colour in words]
        row = torch.zeros(len(COLOURS) + 1)
        row[hit[0] if hit else len(COLOURS)] = 1.0
        rows.append(row)
    return torch.stack(rows)


def colour_model(logit_scale: float = 30.0) -> ClipModel:
    """The known-answer model (no weights, instant)."""
    split = TowerSplit(trunk=_trunk, head=lambda a: a.mean(dim=(2, 3)), to_maps=lambda a: a)
    return ClipModel(
        split=split,
        encode_text=_text,
        logit_scale=logit_scale,
        name="colour-test",
        weights="known-answer",
        image_size=224,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
    )


class ColourLabels:
    """A library stand-in that only names labels (effects: red car, green tree; ambient: blue sky): enough for
    an analysis, which ranks labels and opens no sound."""

    def label_embeddings(self, encoder, kind: str):
        labels = ["red car", "green tree"] if kind == "effect" else ["blue sky"]
        return labels, encoder.encode_texts(labels)
