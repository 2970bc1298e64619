"""The lake sink: a batch of change envelopes from the lake queue -> one S3 object per partition.

Writing one object per change would cost a PUT each and leave Athena millions of tiny files, so, as the
relational sink does, this processor works in two phases inside ``process()``:

1. ``parse_record`` (the record handler) reads each envelope, resolving claim checks. A malformed envelope
   or an unreadable claim check fails that record only; SQS retries it, and the lake queue's redrive policy
   finally moves it, whole, to LakeDeadLetterQueue (DESIGN invariant 4).
2. The parsed changes are grouped by partition (entity, UTC date and hour of the event time), and each group
   is written as one object whose key and bytes follow from its changes alone (layout.py). A group whose
   write fails fails only its own records; the other groups' objects stand.

A retried record lands again in an object keyed by its group's event ids: the same key when SQS redelivers
the same batch, and at worst a second copy of the change (same event id) when SQS regroups the messages.
Readers deduplicate on ``event_id``, which the latest-state view does anyway (latest version per key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import EventType

from prism.batch import QueueSinkProcessor, TwoPhaseBatchProcessor
from prism.changes.envelope import ChangeEvent
from prism.errors import ClaimCheckError, LakeWriteError, MalformedChangeError
from prism.lake.layout import LAKE_PREFIX, encode_object, object_key, partition_of
from prism.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from prism.changes.reader import ChangeReader
    from prism.lake.layout import Partition
    from prism.lake.objects import LakeObjectStore


@dataclass
class LakeSinkSummary:
    """What one invocation did with its batch; the handler turns it into metrics."""

    records: int = 0
    changes: int = 0  # records that parsed into a change
    objects_written: int = 0
    bytes_written: int = 0
    groups_failed: int = 0
    write_failures: int = 0  # records failed because their group's object could not be written
    malformed: int = 0
    claim_check_failed: int = 0
    other_failures: int = 0


class LakeSinkProcessor(QueueSinkProcessor, TwoPhaseBatchProcessor):
    """BatchProcessor for lake-queue batches; ``parse_record`` is its record handler."""

    queue_label = "Lake-queue"
    failure_counters = (
        (LakeWriteError, "write_failures"),
        (MalformedChangeError, "malformed"),
        (ClaimCheckError, "claim_check_failed"),
    )

    def __init__(self, reader: ChangeReader, objects: LakeObjectStore, *, prefix: str = LAKE_PREFIX) -> None:
        # Failures are reported item by item even when all records fail (S3 down): SQS then retries each
        # message on its own and counts its receives toward the DLQ.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._reader = reader
        self._objects = objects
        self._prefix = prefix
        self.summary = LakeSinkSummary()

    def parse_record(self, record: SQSRecord) -> ChangeEvent:
        """The change in one record. Raises MalformedChangeError and ClaimCheckError, each of which fails
        this record only."""
        return self._reader.read(record.body)

    def process(self) -> list[tuple[Any, ...]]:
        self.summary = LakeSinkSummary(records=len(self.records))
        results: list[tuple[Any, ...]] = super().process()
        groups: dict[Partition, list[tuple[int, ChangeEvent, dict[str, Any]]]] = {}
        for position, result in enumerate(results):
            if result[0] == "success" and isinstance(result[1], ChangeEvent):
                change = result[1]
                groups.setdefault(partition_of(change.entity, change.event_time), []).append(
                    (position, change, result[2])
                )
                self.summary.changes += 1
        for partition, members in sorted(groups.items()):
            changes = [change for _, change, _ in members]
            key = object_key(self._prefix, partition, (c.event_id for c in changes))
            body = encode_object(changes)
            try:
                self._objects.put(key, body)
            except LakeWriteError as exc:
                self.summary.groups_failed += 1
                logger.warning(
                    "Could not write a lake object; failing its records",
                    extra={"key": key, "changes": len(changes), "error": repr(exc)},
                )
                for position, _, raw in members:
                    results[position] = self.fail_after_handler(raw, exc)
                continue
            self.summary.objects_written += 1
            self.summary.bytes_written += len(body)
            logger.debug("Wrote a lake object", extra={"key": key, "changes": len(changes), "bytes": len(body)})
        return results
