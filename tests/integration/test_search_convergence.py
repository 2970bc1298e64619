"""DESIGN invariants 1-3 for the search sink: whatever the delivery (duplicated, reordered, retried, split
into batches anywhere), the real sink leaves osmem holding, per key, the newest change: its version, and the
item for an upsert or a tombstone for a delete.

``make test`` runs 150 examples (PRISM_SEARCH_EXAMPLES raises it).
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings

from prism.changes import exact_json
from prism.changes.envelope import Op
from tests.support.histories import KEYS, deliveries
from tests.support.relational import change
from tests.support.search import deliver, documents, search_sink
from tests.support.stacks import provision_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism.changes.envelope import ChangeEvent
    from prism.search.sink import SearchSinkProcessor
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PRISM_SEARCH_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def stack(local_servers: LocalConfig) -> LocalConfig:
    return provision_stack(local_servers, "sconv")


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
