"""What the cache stores under a key, and what a lookup answers.

Each entity is one Redis string, so a lookup is a single GET and a hit needs no parsing beyond its header:

    B<version>:<body>   the API's serialized body of the entity at <version>
    F<version>          fence: a change at <version> was applied and the body dropped (reads miss)
    D<version>          delete fence: the entity was deleted at <version> (reads get a cached absence)
    A                   absence without a version: a read found nothing (kept only briefly)

Versions are decimal without leading zeros, so the Lua scripts compare them exactly as strings (by length,
then bytes), whatever their size; see ``prism.cache.scripts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

BODY: Final = b"B"
FENCE: Final = b"F"
DELETE_FENCE: Final = b"D"
ABSENT: Final = b"A"


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """Where an entity's entry and its fill lock live: ``prism:{entity}:{id}`` and ``prism-lock:{entity}:{id}``.

    The lock has its own prefix rather than a suffix, so no entity id (which may contain ``:``) can name
    another entity's lock. Entity names never contain ``:`` (they are ``prism.entities.ENTITY_TYPES``).
    """

    prefix: str = "prism"

    def entry(self, entity: str, entity_id: str) -> str:
        return f"{self.prefix}:{entity}:{entity_id}"

    def fill_lock(self, entity: str, entity_id: str) -> str:
        return f"{self.prefix}-lock:{entity}:{entity_id}"


@dataclass(frozen=True, slots=True)
class CacheHit:
    """The cached body, exactly as the API serialized it, and the version it was read at."""

    body: bytes
    version: int


@dataclass(frozen=True, slots=True)
class CachedAbsence:
    """The entity is known not to exist: deleted at ``version``, or not found by a recent read (``None``)."""

    version: int | None = None


@dataclass(frozen=True, slots=True)
class Bypass:
    """Redis could not be asked (down, slow, circuit open, or no cache configured); treat it as a miss."""

    reason: str


Lookup: TypeAlias = CacheHit | CachedAbsence | Bypass | None
"""What ``EntityCache.get`` answers; ``None`` is a miss (no entry, or a fence)."""


class Source(StrEnum):
    """Where a read-through answer came from; the API reports it (header, hit ratio)."""

    HIT = "hit"  # the cache held the body or the absence
    LOADED = "loaded"  # a miss: this caller ran the loader (and filled the cache)
    SHARED = "shared"  # a miss: another caller loaded and filled it while this one waited
    BYPASS = "bypass"  # Redis was not usable: the loader answered and nothing was cached


@dataclass(frozen=True, slots=True)
class CacheResult:
    """The answer of ``read_through``: the body and version, or ``body is None`` when the entity does not exist."""

    body: bytes | None
    version: int | None
    source: Source

    @property
    def found(self) -> bool:
        return self.body is not None


def encode_body(version: int, body: bytes) -> bytes:
    return b"B%d:%b" % (version, body)


def encode_fence(version: int, *, deleted: bool) -> bytes:
    return (DELETE_FENCE if deleted else FENCE) + b"%d" % version


def decode_entry(raw: bytes) -> CacheHit | CachedAbsence | None:
    """The lookup answer for a stored entry; a fence, or anything unreadable, is a miss."""
    kind = raw[:1]
    if kind == BODY:
        separator = raw.find(b":", 1)
        version = raw[1:separator]
        if separator > 1 and version.isdigit():
            return CacheHit(raw[separator + 1 :], int(version))
        return None
    if kind == DELETE_FENCE and raw[1:].isdigit():
        return CachedAbsence(int(raw[1:]))
    if raw == ABSENT:
        return CachedAbsence(None)
    return None
