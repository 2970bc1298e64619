"""The runner's construction and lifecycle, without a network: mappings are checked before anything runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from prism_local.runtime.esm import CheckpointStore, EventSourceConfigError, EventSourceRunner, PollerTiming
from prism_local.template.model import EventSource, FunctionSpec
from tests.support.esm_functions import FunctionInvoker, function_spec

if TYPE_CHECKING:
    from pathlib import Path

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"
UNREACHABLE = "http://127.0.0.1:9"  # never contacted: these runners are not started, or have no mapping


def runner_for(functions: list[FunctionSpec], tmp_path: Path, asked: list[str] | None = None) -> EventSourceRunner:
    def invoker_for(spec: FunctionSpec) -> FunctionInvoker:
        if asked is not None:
            asked.append(spec.logical_id)
        return FunctionInvoker(lambda event: None, spec.function_name)

    return EventSourceRunner(
        functions,
        invoker_for,
        endpoint_url=UNREACHABLE,
        region="us-east-1",
        checkpoints=CheckpointStore(tmp_path / "c.json", "m"),
        timing=PollerTiming(poll_interval_s=0.01),
    )


def test_one_mapping_per_stream_or_queue_event_and_one_invoker_per_function(tmp_path: Path) -> None:
    asked: list[str] = []
    functions = [
        function_spec(
            "Fanout",
            EventSource("TableStream", "DynamoDB", {"Stream": STREAM, "StartingPosition": "LATEST"}),
            EventSource("Retry", "SQS", {"Queue": QUEUE}),
        ),
        function_spec("Api", EventSource("Get", "Api", {"Path": "/items", "Method": "get"})),
        function_spec("Off", EventSource("Q", "SQS", {"Queue": QUEUE, "Enabled": False})),
    ]

    runner = runner_for(functions, tmp_path, asked)

    assert runner.mappings == ["Fanout.TableStream", "Fanout.Retry"]
    assert asked == ["Fanout"]
    stats = runner.stats()
    assert set(stats) == {"Fanout.TableStream", "Fanout.Retry"}
    assert stats["Fanout.Retry"].source_type == "SQS"
    assert stats["Fanout.TableStream"].source_arn == STREAM
    assert not stats["Fanout.TableStream"].idle
    assert runner.stop(1), "stopping a runner that never started is harmless"


def test_an_unusable_event_source_fails_construction_with_its_name(tmp_path: Path) -> None:
    functions = [
        function_spec("Fine", EventSource("Q", "SQS", {"Queue": QUEUE})),
        function_spec(
            "Broken", EventSource("Q", "SQS", {"Queue": QUEUE, "FilterCriteria": {"Filters": [{"Pattern": "{"}]}})
        ),
    ]

    with pytest.raises(EventSourceConfigError, match=r"Broken\.Q"):
        runner_for(functions, tmp_path)


def test_a_runner_with_nothing_to_poll_is_idle_at_once(tmp_path: Path) -> None:
    with runner_for([function_spec("Api")], tmp_path) as runner:
        assert runner.wait_until_idle(0.5)
        assert runner.stats() == {}
