"""DESIGN invariants 1-3 for the relational sink: whatever the delivery (duplicated, reordered, retried, split
into batches anywhere), the real sink leaves the real MariaDB equal to the newest change of every key.

``make test`` runs 200 examples; ``make soak`` runs 10,000 (PRISM_RELATIONAL_EXAMPLES).
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from hypothesis import HealthCheck, given, settings

from tests.support.cache import sqs_record
from tests.support.histories import KEYS, deliveries
from tests.support.relational import actual_projection, change, expected_projection, root_connection, sink_environment
from tests.support.stacks import provision_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism.changes.envelope import ChangeEvent
    from prism.relational.sink import RelationalSinkProcessor
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PRISM_RELATIONAL_EXAMPLES", "200"))


@pytest.fixture(scope="module")
def stack(local_servers: LocalConfig) -> LocalConfig:
    return provision_stack(local_servers, "conv")


@pytest.fixture(scope="module")
def sink(stack: LocalConfig) -> Iterator[RelationalSinkProcessor]:
    with sink_environment(stack) as processor:
        yield processor


@pytest.fixture(scope="module")
def database(stack: LocalConfig) -> Iterator[Any]:
    connection = root_connection(stack)
    with connection:
        yield connection


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delivery=deliveries())
def test_any_delivery_of_any_history_converges_to_the_newest_change_per_key(
    sink: RelationalSinkProcessor, database: Any, delivery: tuple[list[tuple[str, str, int, bool]], list[list[int]]]
) -> None:
    history, batches = delivery
    prefix = uuid.uuid4().hex[:10]  # each example writes keys of its own
    changes: list[ChangeEvent] = [
        change(kind, f"{prefix}-{key}", version, deleted=deleted) for kind, key, version, deleted in history
    ]

    for batch in batches:
        records = [sqs_record(changes[index].to_json()) for index in batch]
        response = process_partial_response({"Records": records}, sink.parse_record, sink)
        assert response["batchItemFailures"] == []
        assert sink.summary.dead_lettered == 0

    ids = [f"{prefix}-{key}" for _, key in KEYS]
    assert actual_projection(database, ids) == expected_projection(changes)
