"""What reached the sink queues: every envelope read back through the sinks' own ChangeReader (so claim
checks are resolved as a sink would), matched against the writes that should have produced it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.reader import ChangeReader
from prism.errors import PrismError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: The sink queues of template.yaml that have no consumer yet, by sink name: the demo reads them itself.
#: (CacheQueue, RelationalQueue and LakeQueue are consumed by the cache, relational and lake sink functions,
#: which the event source runner runs like any other; the report shows their own figures, compares MySQL
#: with DynamoDB, and reads the lake's objects back.)
SINK_QUEUES = {
    "search": "SearchQueue",
}
#: Where anything that failed ends up.
FAILURE_QUEUES = {
    "fanout on-failure": "FanoutFailureQueue",
    "SNS delivery failures": "DeliveryFailureQueue",
    "relational DLQ": "RelationalDeadLetterQueue",
    "search DLQ": "SearchDeadLetterQueue",
    "lake DLQ": "LakeDeadLetterQueue",
    "cache DLQ": "CacheDeadLetterQueue",
}


@dataclass
class QueueDelivery:
    """The envelopes one sink queue received: each (entity, id, version) with its SQS SentTimestamp."""

    received: int = 0
    sent_ms: dict[tuple[str, str, int], float] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - len(self.sent_ms) - len(self.unreadable)


def drain(
    sqs: SQSClient,
    s3: S3Client,
    *,
    queue_url: str,
    claim_check_bucket: str,
    expected: int,
    progress: Callable[[int], None],
    settle_s: float = 2.0,
) -> QueueDelivery:
    """Receive and delete everything in ``queue_url`` until ``expected`` distinct envelopes arrived and the
    queue stayed empty for ``settle_s`` (so late duplicates are counted too)."""
    reader = ChangeReader(S3ClaimCheckStore(s3, claim_check_bucket))
    delivery = QueueDelivery()
    quiet_since: float | None = None
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        messages = response.get("Messages", [])
        if not messages:
            now = time.monotonic()
            quiet_since = quiet_since or now
            if len(delivery.sent_ms) >= expected and now - quiet_since >= settle_s:
                return delivery
            if now - quiet_since >= max(settle_s, 10.0):
                return delivery  # nothing more is coming; the report shows what is missing
            continue
        quiet_since = None
        for message in messages:
            delivery.received += 1
            try:
                change = reader.read(message["Body"])
            except PrismError as exc:  # reported in the demo's result, never dropped
                delivery.unreadable.append(f"{message['MessageId']}: {exc}")
                continue
            sent = float(message["Attributes"]["SentTimestamp"])
            delivery.sent_ms.setdefault((change.entity, change.id, change.version), sent)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        progress(len(delivery.sent_ms))


def depth(sqs: SQSClient, queue_url: str) -> int:
    """Messages in a queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
