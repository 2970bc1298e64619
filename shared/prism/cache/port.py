"""The cache's ports: what the API reads and invalidates through, and what the cache sink applies changes to."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeAlias

from prism.errors import PrismError

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import MetricUnit

    from prism.cache.entries import CacheResult, Lookup
    from prism.changes.envelope import ChangeEvent

Loader: TypeAlias = Callable[[], "tuple[int, bytes] | None"]
"""Reads the entity from the source of truth: its version and serialized body, or ``None`` if it does not exist."""


class CacheUnavailableError(PrismError):
    """Redis could not be reached or did not answer in time. Only the cache sink raises it (so SQS retries the
    change); the read path degrades to the loader instead."""


class ApplyOutcome(StrEnum):
    APPLIED = "applied"  # the change was newer: the entry is now a fence at its version
    STALE = "stale"  # the cache already holds this version or a newer one: nothing changed
    NO_CACHE = "no_cache"  # no cache is configured, so there is nothing to invalidate


class MetricsSink(Protocol):
    """Where the cache counts bypasses: Powertools ``Metrics`` in a function, a fake in tests."""

    def add_metric(self, name: str, unit: MetricUnit | str, value: float) -> None: ...


class EntityCache(Protocol):
    """The API's read cache. Every operation degrades instead of raising when Redis fails (DESIGN invariant 5).

    Entries are tagged with the entity's version; a write never replaces a newer entry or fence.
    """

    def get(self, entity: str, entity_id: str) -> Lookup:
        """A hit, a cached absence, a ``Bypass`` when Redis is unusable, or ``None`` on a miss."""
        ...

    def fill(self, entity: str, entity_id: str, version: int, body: bytes | str) -> bool:
        """Cache ``body`` (already serialized) at ``version`` unless something newer is there; True if stored."""
        ...

    def fill_absent(self, entity: str, entity_id: str) -> bool:
        """Remember briefly that the entity does not exist, only where nothing is cached; True if stored."""
        ...

    def invalidate(self, entity: str, entity_id: str, version: int, *, deleted: bool = False) -> bool:
        """Drop the body after a write at ``version``, leaving a fence so an older in-flight read cannot refill it.
        ``deleted`` makes the fence answer reads as an absence. True if the fence was set."""
        ...

    def read_through(self, entity: str, entity_id: str, loader: Loader) -> CacheResult:
        """The cached answer, or ``loader``'s (then cached); concurrent misses for one key share one load."""
        ...


class ChangeApplier(Protocol):
    """The cache sink's port: apply a change only if it is newer than what the cache holds."""

    def apply_change(self, change: ChangeEvent) -> ApplyOutcome:
        """Fence the entry at the change's version if it is newer; CacheUnavailableError if Redis fails."""
        ...
