"""The change envelope: one plain-JSON document per change to a Prism entity, the only thing sinks see.

Sinks apply an envelope only when its ``version`` is newer than what they hold (DESIGN invariant 3), so
envelopes may arrive duplicated, late or out of order without harm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prism.changes import exact_json
from prism.errors import MalformedChangeError

SCHEMA: Final = "prism.change.v1"


class Op(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class ChangeEvent(BaseModel):
    """One change, as the fanout publishes it and every sink reads it.

    ``version`` orders changes to one key: a sink keeps the change with the highest version. A delete
    carries a version newer than the item it deleted, so a late upsert cannot bring the item back.
    Images are plain JSON with exact numbers (``int`` or ``Decimal``, never ``float``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["prism.change.v1"] = Field(default=SCHEMA, alias="schema")
    event_id: str = Field(min_length=1)
    entity: str = Field(min_length=1)
    id: str = Field(min_length=1)
    key: dict[str, Any]
    op: Op
    version: int = Field(ge=0)
    event_name: Literal["INSERT", "MODIFY", "REMOVE"]
    sequence_number: str = Field(min_length=1)
    event_time: datetime
    source_arn: str = Field(min_length=1)
    new_image: dict[str, Any] | None = None
    old_image: dict[str, Any] | None = None

    @property
    def image(self) -> dict[str, Any] | None:
        """The item as this change leaves it: the new image of an upsert, nothing for a delete."""
        return self.new_image if self.op is Op.UPSERT else None

    def to_document(self) -> dict[str, Any]:
        return {
            "schema": self.schema_,
            "event_id": self.event_id,
            "entity": self.entity,
            "id": self.id,
            "key": self.key,
            "op": self.op.value,
            "version": self.version,
            "event_name": self.event_name,
            "sequence_number": self.sequence_number,
            "event_time": _iso(self.event_time),
            "source_arn": self.source_arn,
            "new_image": self.new_image,
            "old_image": self.old_image,
        }

    def to_json(self) -> str:
        """The envelope as compact JSON with exact numbers."""
        return exact_json.dumps(self.to_document())

    @classmethod
    def from_document(cls, document: Any) -> ChangeEvent:
        """Validate a decoded envelope; anything that is not a valid envelope is MalformedChangeError."""
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            raise MalformedChangeError(f"not a {SCHEMA} envelope: {_summary(exc)}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ChangeEvent:
        try:
            document = exact_json.loads(text)
        except ValueError as exc:
            raise MalformedChangeError(f"envelope is not JSON: {exc}") from exc
        return cls.from_document(document)

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes that subscriptions filter on (``entity``, ``op``)."""
        return {
            "entity": {"DataType": "String", "StringValue": self.entity},
            "op": {"DataType": "String", "StringValue": self.op.value},
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5])
