"""DESIGN invariants 1-3 for the search sink: whatever the delivery (duplicated, reordered, retried, split
into batches anywhere), the real sink leaves osmem holding, per key, the newest change: its version, and the
item for an upsert or a tombstone for a delete.

``make test`` runs 150 examples (PRISM_SEARCH_EXAMPLES raises it).
"""

from __future__ import annotations

import itertools
import os
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prism.changes import exact_json
from prism.changes.envelope import Op
from tests.support.relational import change
from tests.support.search import deliver, documents, search_sink

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism.changes.envelope import ChangeEvent
    from prism.search.sink import SearchSinkProcessor
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PRISM_SEARCH_EXAMPLES", "150"))

#: A few keys, so histories collide: two products and two orders share their indices and batches.
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


@pytest.fixture(scope="module")
def stack(local_servers: LocalConfig) -> LocalConfig:
    from prism_local.stack.control import stack_up

    config = local_servers.with_overrides(stack_name=f"sconv{uuid.uuid4().hex[:8]}")
    stack_up(config)
    return config


@pytest.fixture(scope="module")
def sink(stack: LocalConfig) -> Iterator[SearchSinkProcessor]:
    with search_sink(stack) as processor:
        yield processor


def expected(changes: list[ChangeEvent]) -> dict[tuple[str, str], tuple[int, bool, Any]]:
    """(entity, id) -> (version, deleted, item) of each key's newest change."""
    newest: dict[tuple[str, str], ChangeEvent] = {}
    for c in changes:
        held = newest.get((c.entity, c.id))
        if held is None or c.version > held.version:
            newest[(c.entity, c.id)] = c
    return {
        key: (c.version, c.op is Op.DELETE, None if c.op is Op.DELETE else exact_json.loads(exact_json.dumps(c.image)))
        for key, c in newest.items()
    }


def actual(stack: LocalConfig, ids: dict[str, list[str]]) -> dict[tuple[str, str], tuple[int, bool, Any]]:
    held: dict[tuple[str, str], tuple[int, bool, Any]] = {}
    for entity, entity_ids in ids.items():
        for doc_id, (_, version, source) in documents(stack, entity, entity_ids).items():
            assert source["version"] == version
            held[(entity, doc_id)] = (version, source["deleted"], source.get("item"))
    return held


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delivery=deliveries())
def test_any_delivery_of_any_history_converges_to_the_newest_change_per_key(
    stack: LocalConfig, sink: SearchSinkProcessor, delivery: tuple[list[tuple[str, str, int, bool]], list[list[int]]]
) -> None:
    history, batches = delivery
    prefix = uuid.uuid4().hex[:10]  # each example writes keys of its own
    changes: list[ChangeEvent] = [
        change(kind, f"{prefix}-{key}", version, deleted=deleted) for kind, key, version, deleted in history
    ]

    for batch in batches:
        assert deliver(sink, [changes[index] for index in batch]) == []
        assert sink.summary.rejected == 0
        assert sink.summary.unavailable == 0

    ids: dict[str, list[str]] = {}
    for kind, key in KEYS:
        ids.setdefault(kind, []).append(f"{prefix}-{key}")
    assert actual(stack, ids) == expected(changes)
