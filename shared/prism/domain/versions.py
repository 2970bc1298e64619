"""The version rules of every write (DESIGN invariant 2), apart from any store.

Versions come from ``prism.versioning.next_version`` (a hybrid logical clock), so each write to a key,
including a delete's tombstone and a later re-create, gets a version above every earlier one. A caller's
``expected_version`` (the If-Match of the API) must equal the current version, or nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from prism.domain.errors import ConflictError, PreconditionFailedError
from prism.versioning import next_version

TOMBSTONE_LIFETIME: Final = timedelta(days=30)


@dataclass(frozen=True)
class StoredVersion:
    """What a key holds before a write: the version of its item, and whether that item is a tombstone."""

    version: int
    deleted: bool


def version_for_create(existing: StoredVersion | None, *, taken: ConflictError) -> int:
    """The version of a new item at a key that holds ``existing``.

    A live item means the key is taken (``taken`` is raised); a tombstone is replaced by a version newer than
    it, so the sinks see the re-create as newer than the delete.
    """
    if existing is None:
        return next_version(None)
    if not existing.deleted:
        raise taken
    return next_version(existing.version)


def version_after(current: int) -> int:
    """The version of an update, or of a delete's tombstone, of an item at ``current``."""
    return next_version(current)


def check_expected_version(what: str, current: int, expected: int | None) -> None:
    """Raise PreconditionFailedError when the caller expects a version other than ``current``."""
    if expected is not None and expected != current:
        raise PreconditionFailedError(
            f"{what} is at version {current}, not {expected}: it changed since you read it; "
            "read it again and retry with its current ETag",
            details={"expected_version": expected, "current_version": current},
        )


def tombstone_expiry(now: datetime) -> int:
    """When a tombstone written at ``now`` may be removed by the table's TTL, in Unix seconds."""
    return int((now + TOMBSTONE_LIFETIME).timestamp())
