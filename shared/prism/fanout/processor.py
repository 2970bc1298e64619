"""Stream batch -> change envelopes -> one PublishBatch per 10 envelopes, with per-record failure reporting.

Powertools' BatchProcessor calls the record handler once per record. Publishing one SNS message per record
would cost ten times the requests, so this processor runs in two phases inside ``process()``: first every
record is decoded by the record handler (a record that cannot be decoded fails alone), then all envelopes
are published in batches, and a record whose envelope was not published is moved to the failures. Lambda
then retries from the lowest failed sequence number (ReportBatchItemFailures); envelopes already published
in this attempt are published again, which the sinks absorb because they apply only newer versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import EventType

from prism.batch import TwoPhaseBatchProcessor
from prism.changes.envelope import ChangeEvent
from prism.changes.stream_decoder import Skipped, decode_stream_record
from prism.errors import PublishError
from prism.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.base import FailureResponse
    from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from prism.changes.publisher import ChangePublisher


@dataclass
class FanoutSummary:
    """What one invocation did with its batch; the handler turns it into metrics."""

    records: int = 0
    published: int = 0
    claim_checked: int = 0
    skipped: int = 0
    malformed: int = 0
    publish_failed: int = 0


def decode_record(record: DynamoDBRecord) -> ChangeEvent | Skipped:
    """The record handler: decode one stream record (MalformedChangeError fails that record only)."""
    decoded = decode_stream_record(record.raw_event)
    if isinstance(decoded, Skipped):
        logger.info(
            "Skipped a record that is not a Prism entity",
            extra={
                "sequence_number": decoded.sequence_number,
                "keys": decoded.keys,
                "reason": decoded.reason,
            },
        )
    return decoded


class FanoutProcessor(TwoPhaseBatchProcessor):
    """BatchProcessor for DynamoDB stream batches that publishes the decoded envelopes in bulk."""

    def __init__(self, publisher: ChangePublisher) -> None:
        # Report every failure item by item, even when all records fail: Lambda then retries from the lowest
        # failed record and counts attempts, instead of bisecting a batch that failed for one shared cause.
        super().__init__(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        self._publisher = publisher
        self.summary = FanoutSummary()

    def process(self) -> list[tuple[Any, ...]]:
        self.summary = FanoutSummary(records=len(self.records))
        results: list[tuple[Any, ...]] = super().process()
        pending = [
            (position, result[1], result[2])
            for position, result in enumerate(results)
            if result[0] == "success" and isinstance(result[1], ChangeEvent)
        ]
        self.summary.skipped = sum(1 for r in results if r[0] == "success" and isinstance(r[1], Skipped))
        self.summary.malformed = len(self.fail_messages)
        if not pending:
            return results

        report = self._publisher.publish([change for _, change, _ in pending])
        self.summary.published = report.published
        self.summary.claim_checked = report.claim_checked
        self.summary.publish_failed = len(report.failures)
        for failure in report.failures:
            position, change, raw_record = pending[failure.index]
            results[position] = self._publish_failed(raw_record, change, f"{failure.code}: {failure.message}")
        return results

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        """Every failed record is logged with its sequence number and cause before Lambda retries it."""
        logger.warning(
            "Stream record failed; reporting it as a batch item failure",
            extra={"sequence_number": _sequence_number(record), "error": repr(exception[1])},
            exc_info=exception[1],
        )
        return super().failure_handler(record, exception)

    def _publish_failed(self, raw_record: dict[str, Any], change: ChangeEvent, reason: str) -> tuple[Any, ...]:
        """Turn a decoded (successful) record into a failure, as if its handler had raised PublishError."""
        error = PublishError(f"envelope {change.event_id} ({change.entity} {change.id}) not published: {reason}")
        return self.fail_after_handler(raw_record, error)


def _sequence_number(record: DynamoDBRecord | None) -> str | None:
    stream = record.raw_event.get("dynamodb") if record is not None else None
    return stream.get("SequenceNumber") if isinstance(stream, dict) else None
