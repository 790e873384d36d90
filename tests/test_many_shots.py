"""The per-shot tax: what a timeline of many shots does once for all of them gives what doing it shot
by shot gave."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from soundify_otio.timeline.reading import Coverage


def naive_gaps(
    start: Fraction, end: Fraction, covered: list[tuple[Fraction, Fraction]]
) -> list[tuple[Fraction, Fraction]]:
    """[start, end) minus every covered range, one range at a time (what find_shots did per clip)."""
    parts = [(start, end)]
    for c_start, c_end in covered:
        next_parts = []
        for p_start, p_end in parts:
            if c_end <= p_start or c_start >= p_end:
                next_parts.append((p_start, p_end))
                continue
            if c_start > p_start:
                next_parts.append((p_start, c_start))
            if c_end < p_end:
                next_parts.append((c_end, p_end))
        parts = next_parts
    return parts


ranges = st.tuples(st.integers(0, 60), st.integers(1, 20), st.sampled_from([1, 24, 25, 30])).map(
    lambda t: (Fraction(t[0], t[2]), Fraction(t[0], t[2]) + Fraction(t[1], t[2]))
)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(st.lists(ranges, max_size=40))
def test_coverage_leaves_visible_what_subtracting_each_range_left(clips: list[tuple[Fraction, Fraction]]) -> None:
    coverage = Coverage()
    for i, (start, end) in enumerate(clips):
        assert coverage.gaps(start, end) == naive_gaps(start, end, clips[:i])
        coverage.add(start, end)
    assert all(a < b for a, b in zip(coverage.starts, coverage.ends))
    assert all(b < a for b, a in zip(coverage.ends, coverage.starts[1:]))  # disjoint, touching ranges merged
