"""Builders for DynamoDB stream records in the shape Lambda delivers them."""

from __future__ import annotations

import itertools
from typing import Any

from boto3.dynamodb.types import TypeSerializer

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/prism-test/stream/2026-11-23T00:00:00.000"
_sequence = itertools.count(1100000000000000000001)
_serializer = TypeSerializer()


def av(item: dict[str, Any]) -> dict[str, Any]:
    """A plain Python item (Decimal numbers) as DynamoDB AttributeValues."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def stream_record(
    event_name: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    raw_new: dict[str, Any] | None = None,
    created: float = 1795420800,
) -> dict[str, Any]:
    """A stream record for ``new``/``old`` items (plain Python); ``raw_new`` passes AttributeValues as they are."""
    image = new or old or {}
    keys = {"pk": {"S": str(image.get("pk", "PK#x"))}, "sk": {"S": str(image.get("sk", "A"))}}
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": created,
        "Keys": keys,
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if raw_new is not None:
        dynamodb["NewImage"] = raw_new
    elif new is not None:
        dynamodb["NewImage"] = av(new)
    if old is not None:
        dynamodb["OldImage"] = av(old)
    return {
        "eventID": f"evt-{dynamodb['SequenceNumber']}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }


def entity(kind: str, entity_id: str, version: int, **attributes: Any) -> dict[str, Any]:
    return {
        "pk": f"{kind.upper()}#{entity_id}",
        "sk": "A",
        "entity": kind,
        "id": entity_id,
        "version": version,
        **attributes,
    }
