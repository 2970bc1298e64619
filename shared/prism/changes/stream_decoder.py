"""A DynamoDB stream record (as Lambda delivers it) to a ChangeEvent, or a reason to skip it.

Rules (see ``prism.entities``):
- INSERT/MODIFY of an entity -> ``upsert`` at the new image's version, or ``delete`` when the new image is a
  tombstone (``deleted = true``).
- REMOVE of a tombstone (its TTL expired) -> ``delete`` at the tombstone's version, which the sinks already
  hold, so it changes nothing.
- REMOVE of a live entity (a hard delete) -> ``delete`` at version + 1: newer than the item it removed, so
  a late upsert of that item cannot resurrect it; a later re-create gets a clock-based version far above.
- An item whose ``entity`` is missing or not a Prism entity type -> ``Skipped`` (the caller counts it).
- Anything unreadable -> MalformedChangeError, which fails that record only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prism.changes.attribute_values import item_to_plain
from prism.changes.envelope import ChangeEvent, Op
from prism.entities import DELETED_ATTRIBUTE, ENTITY_ATTRIBUTE, ENTITY_TYPES, ID_ATTRIBUTE, VERSION_ATTRIBUTE
from prism.errors import MalformedChangeError

if TYPE_CHECKING:
    from collections.abc import Mapping

_EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")


@dataclass(frozen=True)
class Skipped:
    """A record that is not a change to a Prism entity; the fanout counts and logs it, and publishes nothing."""

    sequence_number: str
    keys: dict[str, Any]
    reason: str


def decode_stream_record(record: Mapping[str, Any]) -> ChangeEvent | Skipped:
    """Decode one stream record; raises MalformedChangeError when it cannot be read exactly."""
    event_name = record.get("eventName")
    if event_name not in _EVENT_NAMES:
        raise MalformedChangeError(f"eventName must be one of {_EVENT_NAMES}, got {event_name!r:.40}")
    stream = record.get("dynamodb")
    if not isinstance(stream, dict):
        raise MalformedChangeError("record has no 'dynamodb' section")
    sequence_number = stream.get("SequenceNumber")
    if not isinstance(sequence_number, str) or not sequence_number:
        raise MalformedChangeError("dynamodb.SequenceNumber is missing")
    keys = item_to_plain(_required(stream, "Keys"), "dynamodb.Keys")

    new_image = item_to_plain(stream["NewImage"], "dynamodb.NewImage") if "NewImage" in stream else None
    old_image = item_to_plain(stream["OldImage"], "dynamodb.OldImage") if "OldImage" in stream else None
    image = old_image if event_name == "REMOVE" else new_image
    if image is None:
        side = "OldImage" if event_name == "REMOVE" else "NewImage"
        raise MalformedChangeError(f"{event_name} record has no {side}: the stream must be NEW_AND_OLD_IMAGES")

    entity = image.get(ENTITY_ATTRIBUTE)
    if entity not in ENTITY_TYPES:
        return Skipped(sequence_number, keys, f"not a Prism entity ({ENTITY_ATTRIBUTE}={entity!r:.40})")

    version = _version(image)
    tombstone = image.get(DELETED_ATTRIBUTE) is True
    if event_name == "REMOVE":
        op, version = Op.DELETE, version if tombstone else version + 1
    else:
        op = Op.DELETE if tombstone else Op.UPSERT

    return ChangeEvent.from_document(
        {
            "event_id": record.get("eventID"),
            "entity": entity,
            "id": _entity_id(image),
            "key": keys,
            "op": op,
            "version": version,
            "event_name": event_name,
            "sequence_number": sequence_number,
            "event_time": _event_time(stream),
            "source_arn": record.get("eventSourceARN"),
            "new_image": new_image,
            "old_image": old_image,
        }
    )


def _required(section: Mapping[str, Any], name: str) -> Any:
    if name not in section:
        raise MalformedChangeError(f"dynamodb.{name} is missing")
    return section[name]


def _version(image: Mapping[str, Any]) -> int:
    version = image.get(VERSION_ATTRIBUTE)
    if isinstance(version, bool) or not isinstance(version, int | Decimal):
        raise MalformedChangeError(f"entity item has no numeric '{VERSION_ATTRIBUTE}' (got {version!r:.40})")
    if version != int(version) or version < 0:
        raise MalformedChangeError(f"'{VERSION_ATTRIBUTE}' must be a non-negative integer, got {version}")
    return int(version)


def _entity_id(image: Mapping[str, Any]) -> str:
    entity_id = image.get(ID_ATTRIBUTE)
    if not isinstance(entity_id, str) or not entity_id:
        raise MalformedChangeError(f"entity item has no string '{ID_ATTRIBUTE}' (got {entity_id!r:.40})")
    return entity_id


def _event_time(stream: Mapping[str, Any]) -> datetime:
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, bool) or not isinstance(created, int | float | Decimal):
        raise MalformedChangeError("dynamodb.ApproximateCreationDateTime must be epoch seconds")
    return datetime.fromtimestamp(float(created), tz=UTC)
