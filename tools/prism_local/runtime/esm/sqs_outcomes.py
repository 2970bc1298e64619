"""Which messages of an SQS batch are deleted after an invocation. A pure function.

Lambda's rules (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): success deletes
the whole batch; a function error deletes nothing, so every message becomes visible again after the queue's
visibility timeout and SQS itself moves it to the dead-letter queue after ``maxReceiveCount`` receives; with
``ReportBatchItemFailures`` every message but the reported ones is deleted, and an invalid report (an empty,
null or unknown ``itemIdentifier``) fails the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from prism_local.runtime.esm.batch_response import read_batch_item_failures

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prism_local.runtime.invocation import Invocation


@dataclass(frozen=True)
class QueueBatchDecision:
    """``delete``: message ids to delete now; ``keep``: ids left to reappear after the visibility timeout."""

    outcome: Literal["success", "function_error", "partial_failure", "invalid_response"]
    delete: tuple[str, ...]
    keep: tuple[str, ...]
    detail: str = ""


def decide_queue_batch(
    message_ids: Sequence[str], invocation: Invocation, *, report_batch_item_failures: bool
) -> QueueBatchDecision:
    """Decide, from one invocation's outcome, which of ``message_ids`` (the batch sent) are done."""
    ids = tuple(message_ids)
    if invocation.failed:
        error_type = (invocation.error or {}).get("errorType", "Unhandled")
        return QueueBatchDecision("function_error", (), ids, f"function error {error_type}")
    if not report_batch_item_failures:
        return QueueBatchDecision("success", ids, ())
    verdict = read_batch_item_failures(invocation.payload, frozenset(ids))
    if verdict.verdict == "success":
        return QueueBatchDecision("success", ids, ())
    if verdict.verdict == "whole_batch":
        return QueueBatchDecision("invalid_response", (), ids, verdict.reason)
    delete = tuple(i for i in ids if i not in verdict.failed)
    keep = tuple(i for i in ids if i in verdict.failed)
    return QueueBatchDecision("partial_failure", delete, keep, f"{len(keep)} failed item(s)")
