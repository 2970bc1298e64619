"""The relational sink: a batch of change envelopes from the relational queue -> the projection tables.

Powertools' BatchProcessor calls the record handler once per record; writing one row per call would cost a
round trip and a commit per change. So, as the fanout does, this processor works in two phases inside
``process()``:

1. ``parse_record`` (the record handler) reads each envelope (resolving claim checks) and maps it to its row
   (rows.py). An envelope that can never apply (malformed, or refused by the schema) is sent to the DLQ with
   the reason at once and counts as handled; a claim check that cannot be read fails that record only.
2. The parsed changes are collapsed to the newest per key and written in one transaction (writer.py). A
   change whose data MySQL refuses is narrowed down by bisection and dead-lettered with MySQL's message; the
   rest commit. Changes not committed because the database stayed unavailable (past the time budget) become
   batch item failures, and SQS retries them; so do the older changes of their keys.

Every record ends applied, found stale, dead-lettered with its reason, or reported failed for SQS to retry
and, after maxReceiveCount, redrive to the DLQ whole (DESIGN invariant 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prism.batch import QueueSinkProcessor, TwoPhaseBatchProcessor
from prism.errors import ClaimCheckError, MalformedChangeError, RelationalUnavailableError
from prism.observability import logger
from prism.relational.dead_letters import DeadLetterError
from prism.relational.rows import RowChange, row_change
from prism.relational.writer import collapse

if TYPE_CHECKING:
    from collections.abc import Callable

    from prism.changes.reader import ChangeReader
    from prism.relational.dead_letters import DeadLetters
    from prism.relational.writer import ProjectionWriter

#: Time kept back from the invocation's remaining time, to report the outcome before Lambda's timeout.
SAFETY_MARGIN_S: Final = 3.0
#: The time budget when there is no Lambda context (tests, benchmarks).
DEFAULT_BUDGET_S: Final = 25.0


@dataclass(frozen=True)
class DeadLettered:
    """The record was sent to the DLQ with this reason; the batch goes on without it."""

    reason: str


@dataclass
class RelationalSinkSummary:
    """What one invocation did with its batch; the handler turns it into metrics."""

    records: int = 0
    changes: int = 0  # records that parsed into a row change
    written: int = 0  # distinct keys committed (applied, or found stale and left alone)
    superseded: int = 0  # older changes of a key that a newer change in the same batch replaced
    transactions: int = 0
    rows_affected: int = 0
    connections_opened: int = 0  # new database connections this batch needed (0 while the one is reused)
    dead_lettered: int = 0
    claim_check_failed: int = 0
    unavailable: int = 0
    other_failures: int = 0


class RelationalSinkProcessor(QueueSinkProcessor, TwoPhaseBatchProcessor):
    """BatchProcessor for relational-queue batches; ``parse_record`` is its record handler."""

    queue_label = "Relational-queue"
    failure_counters = ((RelationalUnavailableError, "unavailable"), (ClaimCheckError, "claim_check_failed"))

    def __init__(
        self,
        reader: ChangeReader,
        writer: ProjectionWriter,
        dead_letters: DeadLetters,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Failures are reported item by item even when all records fail (database down): SQS then retries
        # each message on its own and counts its receives toward the DLQ.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._reader = reader
        self._writer = writer
        self._dead_letters = dead_letters
        self._clock = clock
        self.summary = RelationalSinkSummary()

    def parse_record(self, record: SQSRecord) -> RowChange | DeadLettered:
        """The row change of one record, or DeadLettered. Raises ClaimCheckError (S3 may recover) and
        DeadLetterError (the DLQ send failed), each of which fails this record only."""
        try:
            return row_change(self._reader.read(record.body))
        except MalformedChangeError as exc:  # includes SchemaViolationError: retrying cannot help
            return self._dead_letter(record, str(exc), type(exc).__name__)

    def process(self) -> list[tuple[Any, ...]]:
        self.summary = RelationalSinkSummary(records=len(self.records))
        results: list[tuple[Any, ...]] = super().process()
        parsed = [
            (position, result[1], result[2])
            for position, result in enumerate(results)
            if result[0] == "success" and isinstance(result[1], RowChange)
        ]
        self.summary.changes = len(parsed)
        if not parsed:
            return results

        newest = collapse(change for _, change, _ in parsed)
        self.summary.superseded = len(parsed) - len(newest)
        opened_before = self._writer.connections_opened
        outcome = self._writer.write(list(newest.values()), deadline=self._deadline())
        self.summary.connections_opened = self._writer.connections_opened - opened_before
        self.summary.written = len(outcome.written)
        self.summary.transactions = outcome.transactions
        self.summary.rows_affected = outcome.rows_affected

        by_key: dict[tuple[str, str], list[tuple[int, RowChange, dict[str, Any]]]] = {}
        for entry in parsed:
            by_key.setdefault(entry[1].key, []).append(entry)
        for change, reason in outcome.refused:
            # The newest change of its key can never apply; the key's older changes are superseded by it.
            position, _, raw = next(e for e in by_key[change.key] if e[1] is change)
            results[position] = self._refused_after_parse(raw, reason)
        for change in outcome.unavailable:
            error = RelationalUnavailableError(
                f"{change.table.entity} {change.id} v{change.version} not written: {outcome.unavailable_reason}"
            )
            for position, _, raw in by_key[change.key]:
                results[position] = self.fail_after_handler(raw, error)
        return results

    def _dead_letter(self, record: SQSRecord, reason: str, error_type: str) -> DeadLettered:
        self._dead_letters.send(record.body, reason=reason, error_type=error_type, source_message_id=record.message_id)
        self.summary.dead_lettered += 1
        logger.warning(
            "Dead-lettered a change that can never apply",
            extra={"message_id": record.message_id, "error_type": error_type, "reason": reason},
        )
        return DeadLettered(reason)

    def _refused_after_parse(self, raw: dict[str, Any], reason: str) -> tuple[Any, ...]:
        """A parsed record whose row MySQL refused: dead-letter it, or fail it if even that fails."""
        record = SQSRecord(raw)
        try:
            result = self._dead_letter(record, reason, "RowRefusedByDatabase")
        except DeadLetterError as exc:  # the DLQ is unreachable: SQS keeps the record and retries it
            return self.fail_after_handler(raw, exc)
        self.drop_success(raw)
        return self.success_handler(record=raw, result=result)

    def _deadline(self) -> float:
        context = getattr(self, "lambda_context", None)
        if context is None:
            return self._clock() + DEFAULT_BUDGET_S
        remaining_s = float(context.get_remaining_time_in_millis()) / 1000
        return self._clock() + max(remaining_s - SAFETY_MARGIN_S, 0.0)
