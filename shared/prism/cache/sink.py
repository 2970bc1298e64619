"""The cache sink: each SQS message from the cache queue is one change envelope, applied only if newer.

Every record either applies (or is found stale, which is success) or fails on its own, and a failed record
is retried by SQS and finally kept whole in the cache DLQ (DESIGN invariant 4):
- a malformed envelope fails: retries will not help, but the DLQ keeps it for a person to look at;
- an unreadable claim check fails: S3 may be briefly unavailable;
- Redis unavailable fails too, rather than skipping the invalidation (docs/cache.md explains why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import EventType

from prism.batch import QueueSinkProcessor
from prism.cache.port import ApplyOutcome, CacheUnavailableError
from prism.errors import ClaimCheckError, MalformedChangeError
from prism.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.base import SuccessResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from prism.cache.port import ChangeApplier
    from prism.changes.reader import ChangeReader


@dataclass
class CacheSinkSummary:
    """What one invocation did with its batch; the handler turns it into metrics."""

    records: int = 0
    applied: int = 0
    stale: int = 0
    no_cache: int = 0
    malformed: int = 0
    claim_check_failed: int = 0
    cache_unavailable: int = 0
    other_failures: int = 0


class CacheSinkProcessor(QueueSinkProcessor):
    """BatchProcessor for cache-queue batches; ``apply_record`` is its record handler."""

    queue_label = "Cache-queue"
    failure_counters = (
        (MalformedChangeError, "malformed"),
        (ClaimCheckError, "claim_check_failed"),
        (CacheUnavailableError, "cache_unavailable"),
    )

    def __init__(self, reader: ChangeReader, cache: ChangeApplier) -> None:
        # Report failures item by item even when every record fails (Redis down): SQS then retries each
        # message on its own schedule and counts its receives toward the DLQ.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._reader = reader
        self._cache = cache
        self.summary = CacheSinkSummary()

    def apply_record(self, record: SQSRecord) -> ApplyOutcome:
        """Read the envelope and apply it. Raises MalformedChangeError, ClaimCheckError or
        CacheUnavailableError, each of which fails this record only."""
        change = self._reader.read(record.body)
        outcome = self._cache.apply_change(change)
        logger.debug(
            "Applied a change to the cache",
            extra={
                "message_id": record.message_id,
                "entity": change.entity,
                "entity_id": change.id,
                "op": change.op.value,
                "version": change.version,
                "outcome": outcome.value,
            },
        )
        return outcome

    def process(self) -> list[tuple[Any, ...]]:
        self.summary = CacheSinkSummary(records=len(self.records))
        results: list[tuple[Any, ...]] = super().process()
        return results

    def success_handler(self, record: Any, result: Any) -> SuccessResponse:
        if result is ApplyOutcome.APPLIED:
            self.summary.applied += 1
        elif result is ApplyOutcome.STALE:
            self.summary.stale += 1
        else:
            self.summary.no_cache += 1
        return super().success_handler(record, result)
