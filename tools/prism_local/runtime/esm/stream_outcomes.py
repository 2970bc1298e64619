"""What happens to a stream batch after an invocation: checkpoint, retry, bisect or discard. Pure functions.

Lambda's rules (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-errors.html and
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html):

- Success checkpoints the whole batch.
- A function error (an exception or a timeout) retries the batch; with ``BisectBatchOnFunctionError`` the
  batch is split in two and each half is retried, in order.
- With ``ReportBatchItemFailures`` the batch is checkpointed before the lowest failed sequence number and the
  records from it to the end of the batch are retried. With bisection on too, the batch is bisected at that
  sequence number and only the remaining records are retried. An invalid response fails the whole batch.
- When ``MaximumRetryAttempts`` is used up, or the oldest record is older than ``MaximumRecordAgeInSeconds``,
  the records are discarded: described to the on-failure destination, then checkpointed past.

Prism's reading where the docs leave room, chosen so that a poison record always ends alone in the
destination after a bounded number of invocations and never blocks the records behind it:

- Retries are counted per batch of records; bisected halves inherit the count of the batch they came from.
- A failure that leads to a split does not use a retry (the split is the retry); only a failure of a batch
  that cannot be split further (one record, or no bisection) uses one. So a record of a batch of ``n`` that
  always fails is invoked at most ``ceil(log2(n)) + MaximumRetryAttempts + 1`` times when it raises, and at
  most ``n + MaximumRetryAttempts + 1`` times when reported as a batch item failure with bisection on.
- A reported failure at the batch's first record, with bisection on, splits that record from the rest
  ("bisected at the returned sequence number"), which isolates it at once.
- Expired records are a prefix of the batch (records are in stream order); only they are discarded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from prism_local.runtime.esm.batch_response import read_batch_item_failures

if TYPE_CHECKING:
    from prism_local.runtime.esm.stream_records import StreamRecord
    from prism_local.runtime.invocation import Invocation

DiscardCondition = Literal["RetryAttemptsExhausted", "RecordAgeExceeded"]
Outcome = Literal["success", "function_error", "partial_failure", "invalid_response"]


@dataclass(frozen=True)
class StreamBatch:
    """Consecutive records of one shard, sent together.

    ``checkpoint_after`` is the sequence number stored once the batch is handled; it can lie past the last
    record when records filtered out followed it. ``retries`` counts the retries these records have used and
    ``invocations`` the invocations that included them (the destination's ``approximateInvokeCount``).
    """

    records: tuple[StreamRecord, ...]
    checkpoint_after: str
    retries: int = 0
    invocations: int = 0

    @property
    def sequence_numbers(self) -> frozenset[str]:
        return frozenset(record.sequence_number for record in self.records)


@dataclass(frozen=True)
class RetryPolicy:
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: unlimited
    report_batch_item_failures: bool = False

    def exhausted(self, retries: int) -> bool:
        return self.maximum_retry_attempts != -1 and retries > self.maximum_retry_attempts


@dataclass(frozen=True)
class Invoke:
    """Invoke the function with ``batch`` (a first attempt, a retry or a bisected half)."""

    batch: StreamBatch


@dataclass(frozen=True)
class Discard:
    """Describe ``batch`` to the on-failure destination, then checkpoint past it."""

    batch: StreamBatch
    condition: DiscardCondition
    request_id: str | None = None  # the last invocation's, for the invocation record
    function_error: bool = False  # whether that invocation ended in a function error


StreamWork = Invoke | Discard


@dataclass(frozen=True)
class BatchDecision:
    """``checkpoint`` (when set) may be stored at once; ``follow_up`` runs next, before any newer record."""

    outcome: Outcome
    checkpoint: str | None
    follow_up: tuple[StreamWork, ...] = ()
    detail: str = ""

    @property
    def records_retried(self) -> int:
        return sum(len(work.batch.records) for work in self.follow_up if isinstance(work, Invoke))


def decide_after_invocation(batch: StreamBatch, invocation: Invocation, policy: RetryPolicy) -> BatchDecision:
    """Decide what follows an invocation of ``batch``; ``batch`` is the one just invoked."""
    attempted = replace(batch, invocations=batch.invocations + 1)
    if invocation.failed:
        error_type = (invocation.error or {}).get("errorType", "Unhandled")
        return _whole_batch_failed(attempted, policy, invocation, "function_error", f"function error {error_type}")
    if not policy.report_batch_item_failures:
        return BatchDecision("success", batch.checkpoint_after)
    verdict = read_batch_item_failures(invocation.payload, batch.sequence_numbers)
    if verdict.verdict == "success":
        return BatchDecision("success", batch.checkpoint_after)
    if verdict.verdict == "whole_batch":
        return _whole_batch_failed(attempted, policy, invocation, "invalid_response", verdict.reason)
    first_failed = min(i for i, record in enumerate(batch.records) if record.sequence_number in verdict.failed)
    return _partially_failed(attempted, first_failed, policy, invocation)


def split_expired(
    batch: StreamBatch, *, now: float, maximum_record_age_s: int
) -> tuple[StreamBatch | None, StreamBatch | None]:
    """Split ``batch`` into the records too old to send (a prefix) and the rest; either part may be None."""
    if maximum_record_age_s == -1:
        return None, batch
    count = 0
    while count < len(batch.records) and now - batch.records[count].created_at > maximum_record_age_s:
        count += 1
    if count == 0:
        return None, batch
    if count == len(batch.records):
        return batch, None
    expired = replace(batch, records=batch.records[:count], checkpoint_after=batch.records[count - 1].sequence_number)
    return expired, replace(batch, records=batch.records[count:])


def retry_delay(retries: int, base_s: float) -> float:
    """Exponential backoff before the ``retries``-th retry: base, 2x base, ... capped at 32x base."""
    if base_s <= 0:
        return 0.0
    return float(base_s * 2 ** min(max(retries - 1, 0), 5))


def _whole_batch_failed(
    batch: StreamBatch, policy: RetryPolicy, invocation: Invocation, outcome: Outcome, detail: str
) -> BatchDecision:
    if policy.bisect_on_error and len(batch.records) > 1:
        middle = len(batch.records) // 2
        first = replace(
            batch, records=batch.records[:middle], checkpoint_after=batch.records[middle - 1].sequence_number
        )
        second = replace(batch, records=batch.records[middle:])
        return BatchDecision(outcome, None, (Invoke(first), Invoke(second)), f"{detail}; bisected")
    return BatchDecision(outcome, None, (_retry_or_discard(batch, policy, invocation),), detail)


def _partially_failed(
    batch: StreamBatch, first_failed: int, policy: RetryPolicy, invocation: Invocation
) -> BatchDecision:
    records = batch.records
    checkpoint = records[first_failed - 1].sequence_number if first_failed > 0 else None
    remaining = replace(batch, records=records[first_failed:])
    detail = f"first failed item {records[first_failed].sequence_number}"
    if policy.bisect_on_error and first_failed > 0:
        follow_up: tuple[StreamWork, ...] = (Invoke(remaining),)
    elif policy.bisect_on_error and len(remaining.records) > 1:
        poison = records[first_failed]
        isolated = replace(remaining, records=(poison,), checkpoint_after=poison.sequence_number)
        follow_up = (Invoke(isolated), Invoke(replace(remaining, records=remaining.records[1:])))
        detail += "; isolated"
    else:
        follow_up = (_retry_or_discard(remaining, policy, invocation),)
    return BatchDecision("partial_failure", checkpoint, follow_up, detail)


def _retry_or_discard(batch: StreamBatch, policy: RetryPolicy, invocation: Invocation) -> StreamWork:
    retried = replace(batch, retries=batch.retries + 1)
    if policy.exhausted(retried.retries):
        return Discard(batch, "RetryAttemptsExhausted", invocation.request_id, invocation.failed)
    return Invoke(retried)
