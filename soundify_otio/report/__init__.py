"""The HTML report: per scene its frames, candidates, picks and placements, as one self-contained page."""
