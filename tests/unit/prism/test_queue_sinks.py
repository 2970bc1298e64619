"""What every queue sink shares (``prism.batch.QueueSinkProcessor``): each failure class it counts has a
counter in its summary, so a failed record is never counted under a name that does not exist."""

from __future__ import annotations

import dataclasses

import pytest

from prism.batch import QueueSinkProcessor
from prism.cache.sink import CacheSinkProcessor, CacheSinkSummary
from prism.lake.sink import LakeSinkProcessor, LakeSinkSummary
from prism.relational.sink import RelationalSinkProcessor, RelationalSinkSummary
from prism.search.sink import SearchSinkProcessor, SearchSinkSummary

SINKS: list[tuple[type[QueueSinkProcessor], type[object]]] = [
    (CacheSinkProcessor, CacheSinkSummary),
    (LakeSinkProcessor, LakeSinkSummary),
    (RelationalSinkProcessor, RelationalSinkSummary),
    (SearchSinkProcessor, SearchSinkSummary),
]


@pytest.mark.parametrize(("processor", "summary"), SINKS, ids=lambda value: getattr(value, "__name__", ""))
def test_every_failure_counter_is_a_field_of_the_summary(
    processor: type[QueueSinkProcessor], summary: type[object]
) -> None:
    fields = {field.name for field in dataclasses.fields(summary)}  # type: ignore[arg-type]

    counters = [name for _, name in processor.failure_counters]
    assert set(counters) | {"other_failures"} <= fields
    assert len(counters) == len(set(counters))
    assert processor.queue_label.endswith("-queue")
