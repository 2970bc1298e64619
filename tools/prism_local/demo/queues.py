"""The queues where anything that failed ends up, and how deep they are.

Every sink queue of template.yaml has its consumer now (the cache, relational, search and lake sink
functions, which the event source runner runs like any other), so the demo reads none of them itself: the
report compares each sink's store with DynamoDB instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: Where anything that failed ends up.
FAILURE_QUEUES = {
    "fanout on-failure": "FanoutFailureQueue",
    "SNS delivery failures": "DeliveryFailureQueue",
    "relational DLQ": "RelationalDeadLetterQueue",
    "search DLQ": "SearchDeadLetterQueue",
    "lake DLQ": "LakeDeadLetterQueue",
    "cache DLQ": "CacheDeadLetterQueue",
}


def depth(sqs: SQSClient, queue_url: str) -> int:
    """Messages in a queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
