"""Where a change lands in the lake and the exact bytes of an object (pure: no I/O).

An object is a pure function of the set of changes it holds: its key hashes their event ids and its body is
their lines in a fixed order, gzipped with a fixed mtime. A batch that SQS delivers again therefore rewrites
the same object with the same bytes, and the lake never holds a change twice from a retry (DESIGN invariant 3).

Each line is one change. ``item`` is the new image's exact JSON *text* (null for a delete), not a nested
object: Athena's OpenX JSON SerDe reads it as a string column and DuckDB as VARCHAR, and both take fields out
with ``json_extract`` without a SerDe turning DynamoDB's exact numbers into doubles on the way in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from prism.changes import exact_json

if TYPE_CHECKING:
    from collections.abc import Iterable

    from prism.changes.envelope import ChangeEvent

LAKE_PREFIX: Final = "lake/"
CONTENT_TYPE: Final = "application/x-ndjson"
CONTENT_ENCODING: Final = "gzip"
#: Hex digits of the SHA-256 of the event ids kept in a key: 128 bits, collision-free at any lake's size.
_KEY_HASH_LENGTH: Final = 32
#: A line holds only strings, integers and null (the image is already exact JSON text in ``item``), so the C
#: encoder writes it exactly, and as exact_json would: compact, non-ASCII kept.
_LINE: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Partition(NamedTuple):
    """One Hive-style partition: an entity and the UTC hour of its changes' event times."""

    entity: str
    dt: str  # YYYY-MM-DD
    hour: str  # HH

    @property
    def path(self) -> str:
        return f"entity={self.entity}/dt={self.dt}/hour={self.hour}"


def partition_of(entity: str, event_time: datetime) -> Partition:
    """The partition of a change to ``entity`` at ``event_time`` (aware; converted to UTC)."""
    moment = event_time.astimezone(UTC)
    return Partition(entity, moment.strftime("%Y-%m-%d"), moment.strftime("%H"))


def partition_path(entity: str, event_time: datetime) -> str:
    """``entity=<entity>/dt=YYYY-MM-DD/hour=HH``, in UTC: the layout the Glue table's projection expects."""
    return partition_of(entity, event_time).path


def object_key(prefix: str, partition: Partition, event_ids: Iterable[str]) -> str:
    """The key of the object holding the changes ``event_ids`` of ``partition``: the same set of ids (in
    any order, repeated or not) always gives the same key."""
    digest = hashlib.sha256("\n".join(sorted(set(event_ids))).encode()).hexdigest()[:_KEY_HASH_LENGTH]
    return f"{prefix}{partition.path}/part-{digest}.json.gz"


def lake_row(change: ChangeEvent) -> dict[str, Any]:
    """The line of ``change``: its identity, order, time, and the new image as exact JSON text."""
    image = change.image
    return {
        "event_id": change.event_id,
        "op": change.op.value,
        "version": change.version,
        "event_time": iso_time(change.event_time),
        "entity": change.entity,
        "id": change.id,
        "item": None if image is None else exact_json.dumps(image),
    }


def encode_object(changes: Iterable[ChangeEvent]) -> bytes:
    """The gzipped NDJSON of ``changes``, one line per distinct event id, ordered by (id, version, event_id);
    byte-identical for the same set of changes."""
    distinct = {change.event_id: change for change in changes}
    ordered = sorted(distinct.values(), key=lambda c: (c.id, c.version, c.event_id))
    text = "".join(_LINE.encode(lake_row(change)) + "\n" for change in ordered)
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


def iso_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the envelope writes ``event_time``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
