"""What a function's partial batch response says about a batch (``ReportBatchItemFailures``).

The rules are Lambda's, the same for streams and queues:
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html ("Success and failure
conditions") and https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html.

- Complete success: a null response, a response without ``batchItemFailures``, or a null or empty list.
- Complete failure: the response is not a JSON object, ``batchItemFailures`` is not a list, or an entry has an
  empty, null or misspelt ``itemIdentifier``, or one that names no record of the batch.
- Otherwise the listed records failed and the others succeeded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class BatchItemFailures:
    """The verdict on one batch. ``failed`` holds identifiers (sequence numbers or message ids)."""

    verdict: Literal["success", "partial", "whole_batch"]
    failed: frozenset[str] = frozenset()
    reason: str = ""


def read_batch_item_failures(response: Any, batch_ids: Collection[str]) -> BatchItemFailures:
    """Read ``{"batchItemFailures": [{"itemIdentifier": id}]}`` against the identifiers of the batch sent."""
    if response is not None and not isinstance(response, Mapping):
        return BatchItemFailures("whole_batch", reason=f"response is not a JSON object: {_short(response)}")
    entries = None if response is None else response.get("batchItemFailures")
    if entries is not None and not isinstance(entries, list):
        return BatchItemFailures("whole_batch", reason=f"batchItemFailures is not a list: {_short(entries)}")
    failed: set[str] = set()
    for entry in entries or []:
        identifier = entry.get("itemIdentifier") if isinstance(entry, Mapping) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            # Empty, null, misspelt or unknown: Lambda fails the whole batch rather than guess.
            return BatchItemFailures("whole_batch", reason=f"invalid batch item failure {_short(entry)}")
        failed.add(identifier)
    return BatchItemFailures("partial", frozenset(failed)) if failed else BatchItemFailures("success")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
