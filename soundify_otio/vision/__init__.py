"""Pixels and CLIP: frame decoding, the open_clip model split into trunk and head, Grad-CAM."""
