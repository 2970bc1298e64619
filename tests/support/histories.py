"""Random histories of writes to a few keys, and random deliveries of them: what the sinks' convergence
properties (DESIGN invariant 1) draw."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

#: A few keys, so histories collide: two products and two orders share their tables (indices) and batches.
KEYS = (("customer", "c"), ("product", "p1"), ("product", "p2"), ("order", "o1"), ("order", "o2"))

#: One key's history: (version step, deleted) per write. Versions grow across delete and re-create.
writes = st.lists(st.tuples(st.integers(1, 3), st.booleans()), max_size=6)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[tuple[str, str, int, bool]], list[list[int]]]:
    """A history over KEYS, and how it is delivered: each write 1-3 times, in any order, in batches."""
    history: list[tuple[str, str, int, bool]] = []
    for kind, key in KEYS:
        version = draw(st.integers(1, 1_000_000))
        for step, deleted in draw(writes):
            version += step
            history.append((kind, key, version, deleted))
    copies = [index for index, _ in enumerate(history) for _ in range(draw(st.integers(1, 3)))]
    order = draw(st.permutations(copies))
    cuts = sorted(draw(st.sets(st.integers(1, max(len(order) - 1, 1)), max_size=6)))
    bounds = [0, *[c for c in cuts if c < len(order)], len(order)]
    batches = [list(order[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    return history, batches
