"""The non-dominated filter against a brute-force O(n^2) oracle written here."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rfdesign.sweep.pareto import Front, non_dominated, oriented, parse_objectives


def oracle(vectors: list[tuple[int, ...]]) -> list[int]:
    """Indices of vectors that no other vector beats: <= everywhere and < somewhere."""
    kept = []
    for i, candidate in enumerate(vectors):
        beaten = False
        for j, other in enumerate(vectors):
            if j == i:
                continue
            no_worse = all(other[axis] <= candidate[axis] for axis in range(len(candidate)))
            better = any(other[axis] < candidate[axis] for axis in range(len(candidate)))
            if no_worse and better:
                beaten = True
                break
        if not beaten:
            kept.append(i)
    return kept


def vectors(dims: int) -> st.SearchStrategy[list[tuple[int, ...]]]:
    # small values: many ties and duplicates, where filters go wrong
    return st.lists(st.tuples(*[st.integers(-4, 6)] * dims), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.one_of(vectors(2), vectors(3)))
def test_non_dominated_matches_brute_force(points):
    assert non_dominated(points) == oracle(points)


@settings(max_examples=200, deadline=None)
@given(st.one_of(vectors(2), vectors(3)))
def test_running_front_has_the_size_of_the_final_front(points):
    front = Front()
    for point in points:
        front.add(point)
    assert len(front) == len(oracle(points))
    assert sorted(front.members) == sorted(points[i] for i in oracle(points))


def test_rf_margin_is_maximised():
    rows = [{"params": 10, "rf_margin": 5}, {"params": 10, "rf_margin": 7}, {"params": 8, "rf_margin": 0}]
    picked = non_dominated([oriented(row, ("params", "rf_margin")) for row in rows])
    assert picked == [1, 2]


def test_objectives_are_checked():
    assert parse_objectives("params, flops,rf_margin") == ("params", "flops", "rf_margin")
    for bad in ("params", "params,params", "params,flops,depth,rf_margin", "params,latency"):
        try:
            parse_objectives(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
