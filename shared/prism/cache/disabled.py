"""The cache when none is configured (``CACHE_URL`` empty): every read goes to the loader and counts a bypass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aws_lambda_powertools.metrics import MetricUnit

from prism.cache.entries import Bypass, CacheResult, Source
from prism.cache.port import ApplyOutcome
from prism.cache.redis_cache import BYPASS_METRIC

if TYPE_CHECKING:
    from prism.cache.port import Loader, MetricsSink
    from prism.changes.envelope import ChangeEvent

DISABLED: Final = "disabled"


class DisabledEntityCache:
    """``EntityCache`` and ``ChangeApplier`` without Redis: reads bypass, writes and changes are no-ops.

    With no cache there is nothing that could go stale, so the cache sink succeeds on every change.
    """

    def __init__(self, *, metrics_sink: MetricsSink) -> None:
        self._metrics = metrics_sink

    def get(self, entity: str, entity_id: str) -> Bypass:
        self._metrics.add_metric(name=BYPASS_METRIC, unit=MetricUnit.Count, value=1)
        return Bypass(DISABLED)

    def fill(self, entity: str, entity_id: str, version: int, body: bytes | str) -> bool:
        return False

    def fill_absent(self, entity: str, entity_id: str) -> bool:
        return False

    def invalidate(self, entity: str, entity_id: str, version: int, *, deleted: bool = False) -> bool:
        return False

    def read_through(self, entity: str, entity_id: str, loader: Loader) -> CacheResult:
        self.get(entity, entity_id)
        loaded = loader()
        if loaded is None:
            return CacheResult(None, None, Source.BYPASS)
        return CacheResult(loaded[1], loaded[0], Source.BYPASS)

    def apply_change(self, change: ChangeEvent) -> ApplyOutcome:
        return ApplyOutcome.NO_CACHE
