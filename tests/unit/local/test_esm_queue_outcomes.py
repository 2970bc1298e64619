"""Which SQS messages are deleted after an invocation."""

from __future__ import annotations

from typing import Any

import pytest

from prism_local.runtime.esm.sqs_outcomes import QueueBatchDecision, decide_queue_batch
from prism_local.runtime.invocation import Invocation

IDS = ["m1", "m2", "m3"]


def ok(payload: Any = None) -> Invocation:
    return Invocation(payload, None, 1.0, "r")


def test_success_deletes_everything() -> None:
    assert decide_queue_batch(IDS, ok(), report_batch_item_failures=True) == QueueBatchDecision(
        "success", ("m1", "m2", "m3"), ()
    )


def test_a_function_error_deletes_nothing() -> None:
    failed = Invocation(None, {"errorType": "Sandbox.Timedout"}, 3000.0, "r")

    decision = decide_queue_batch(IDS, failed, report_batch_item_failures=True)

    assert (decision.outcome, decision.delete, decision.keep) == ("function_error", (), ("m1", "m2", "m3"))
    assert "Sandbox.Timedout" in decision.detail


def test_reported_failures_are_kept_and_the_rest_deleted() -> None:
    report = ok({"batchItemFailures": [{"itemIdentifier": "m2"}]})

    decision = decide_queue_batch(IDS, report, report_batch_item_failures=True)

    assert (decision.outcome, decision.delete, decision.keep) == ("partial_failure", ("m1", "m3"), ("m2",))


def test_reports_are_ignored_without_report_batch_item_failures() -> None:
    report = ok({"batchItemFailures": [{"itemIdentifier": "m2"}]})

    assert decide_queue_batch(IDS, report, report_batch_item_failures=False).delete == ("m1", "m2", "m3")


@pytest.mark.parametrize(
    "payload",
    [
        {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "m1"}]},
        "ok",
    ],
)
def test_an_invalid_report_keeps_the_whole_batch(payload: Any) -> None:
    decision = decide_queue_batch(IDS, ok(payload), report_batch_item_failures=True)

    assert (decision.outcome, decision.delete) == ("invalid_response", ())
