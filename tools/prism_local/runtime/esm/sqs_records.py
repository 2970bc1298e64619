"""SQS messages as Lambda delivers them, and the view of them that filter patterns see.

The record shape is Lambda's (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, "Example standard
queue message event"): camelCase keys, message attributes with ``stringValue``/``binaryValue`` (base64) and
always-present ``stringListValues``/``binaryListValues``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prism_local.runtime.esm.stream_records import MAX_EVENT_BYTES

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

_EVENT_ENVELOPE_BYTES = len(b'{"Records": []}')


@dataclass(frozen=True)
class QueueRecord:
    message_id: str
    receipt_handle: str
    payload: dict[str, Any]
    size: int  # bytes of ``payload`` as JSON, separators included


def lambda_sqs_record(message: Mapping[str, Any], *, queue_arn: str) -> QueueRecord:
    """Turn one boto3 ReceiveMessage message into the record Lambda would put in the event."""
    payload: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in message:
        payload["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return QueueRecord(
        message_id=payload["messageId"],
        receipt_handle=payload["receiptHandle"],
        payload=payload,
        size=len(json.dumps(payload).encode()) + 2,
    )


def filter_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The record as filter patterns see it: ``body`` decoded when it is a JSON object.

    Lambda filters on the body's keys only when the message is valid JSON
    (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html); otherwise a pattern sees the
    plain string, so ``{"body": [{"prefix": "..."}]}`` works on text and a key pattern never matches it.
    """
    body = payload.get("body")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            return dict(payload)
        if isinstance(decoded, dict):
            return {**payload, "body": decoded}
    return dict(payload)


def queue_event(records: Sequence[QueueRecord]) -> dict[str, Any]:
    return {"Records": [record.payload for record in records]}


def event_chunks(records: Sequence[QueueRecord]) -> Iterator[list[QueueRecord]]:
    """Split received records into events under Lambda's 6 MB payload limit, in order.

    Locally the messages are already received when their size is known, so rather than return the excess to
    the queue (which would count a receive against maxReceiveCount) they go in a second invocation.
    """
    chunk: list[QueueRecord] = []
    size = _EVENT_ENVELOPE_BYTES
    for record in records:
        if chunk and size + record.size > MAX_EVENT_BYTES:
            yield chunk
            chunk, size = [], _EVENT_ENVELOPE_BYTES
        chunk.append(record)
        size += record.size
    if chunk:
        yield chunk


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues", [])]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def _base64(value: bytes | str) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode("ascii")
