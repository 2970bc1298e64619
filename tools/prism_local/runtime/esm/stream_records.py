"""DynamoDB stream records as Lambda delivers them, from what boto3's GetRecords returns.

Lambda's event (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, "Example event") differs from
boto3's parsed GetRecords output in three ways this module undoes: ``ApproximateCreationDateTime`` is epoch
seconds (a number, rounded down to the second) rather than a datetime, binary attribute values (``B``,
``BS``, also inside ``M`` and ``L``) are base64 strings rather than bytes, and each record carries
``eventSourceARN`` and ``eventVersion`` "1.1".
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Lambda's synchronous invocation payload limit, which bounds a batch
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_EVENT_BYTES = 6 * 1024 * 1024
_EVENT_ENVELOPE_BYTES = len(b'{"Records": []}')


@dataclass(frozen=True)
class StreamRecord:
    """One stream record: its position, its age, and the JSON object the function receives."""

    sequence_number: str
    created_at: float  # epoch seconds (ApproximateCreationDateTime)
    payload: dict[str, Any]
    size: int  # bytes of ``payload`` as JSON, separators included

    @property
    def position(self) -> int:
        """Sequence numbers are decimal strings of varying length; order them as integers."""
        return int(self.sequence_number)


def lambda_stream_record(raw: Mapping[str, Any], *, stream_arn: str) -> StreamRecord:
    """Turn one boto3 GetRecords record into the record Lambda would put in the event."""
    dynamodb = dict(raw.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    created_at = _epoch_seconds(created)
    dynamodb["ApproximateCreationDateTime"] = float(math.floor(created_at))
    for image in ("Keys", "NewImage", "OldImage"):
        if image in dynamodb:
            dynamodb[image] = {name: lambda_attribute_value(value) for name, value in dynamodb[image].items()}
    payload: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # TTL deletions carry the DynamoDB service principal
        payload["userIdentity"] = dict(raw["userIdentity"])
    return StreamRecord(
        sequence_number=str(dynamodb["SequenceNumber"]),
        created_at=created_at,
        payload=payload,
        size=len(json.dumps(payload).encode()) + 2,  # ", " between records
    )


def lambda_attribute_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB attribute value in Lambda's JSON: bytes as base64 text, recursively through maps and lists."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": _base64(inner)}
    if kind == "BS":
        return {"BS": [_base64(item) for item in inner]}
    if kind == "M":
        return {"M": {name: lambda_attribute_value(item) for name, item in inner.items()}}
    if kind == "L":
        return {"L": [lambda_attribute_value(item) for item in inner]}
    return {kind: inner}


def stream_event(records: Sequence[StreamRecord]) -> dict[str, Any]:
    """The event one invocation receives."""
    return {"Records": [record.payload for record in records]}


def event_bytes(records: Sequence[StreamRecord]) -> int:
    """An upper bound of ``len(json.dumps(stream_event(records)))``, kept under :data:`MAX_EVENT_BYTES`."""
    return _EVENT_ENVELOPE_BYTES + sum(record.size for record in records)


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float | str):
        return float(value)
    raise ValueError(f"unreadable ApproximateCreationDateTime {value!r}")


def _base64(value: bytes | str) -> str:
    if isinstance(value, str):  # already encoded (a record built by hand, or a future boto3)
        return value
    return base64.b64encode(value).decode("ascii")
