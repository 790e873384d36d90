"""Test-only helpers: synthetic footage with a known truth, a known-answer CLIP stand-in."""
