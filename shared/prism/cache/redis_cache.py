"""The Redis adapter of the cache ports: version-tagged entries, guarded writes, single-flight read-through.

Redis is never required (DESIGN invariant 5). Every API-side operation catches Redis's errors, counts a
``CacheBypass`` metric, logs the reason, and answers as if the cache were empty; after a connection error or
a timeout a circuit breaker skips Redis for a short cool-down, so a dead Redis costs one timeout per cool-down
rather than one per request. Only ``apply_change`` (the cache sink) raises instead: see docs/cache.md.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools.metrics import MetricUnit
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from prism.cache import scripts
from prism.cache.breaker import CircuitBreaker
from prism.cache.entries import (
    ABSENT,
    Bypass,
    CachedAbsence,
    CacheHit,
    CacheResult,
    KeyLayout,
    Lookup,
    Source,
    decode_entry,
    encode_body,
    encode_fence,
)
from prism.cache.port import ApplyOutcome, CacheUnavailableError
from prism.changes.envelope import Op
from prism.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis import Redis

    from prism.cache.port import Loader, MetricsSink
    from prism.changes.envelope import ChangeEvent

BYPASS_METRIC: Final = "CacheBypass"
CIRCUIT_OPEN: Final = "circuit_open"
_REDIS_FAILURES: Final = (RedisError, OSError)
_FIRST_POLL_S: Final = 0.002
_MAX_POLL_S: Final = 0.025


class RedisEntityCache:
    """``EntityCache`` and ``ChangeApplier`` on one Redis (ElastiCache, or the local redis-server).

    Single-flight uses a Redis lock (``SET NX PX``), not an in-process one: Lambda runs one request per
    execution environment at a time, so the bursts that matter arrive in different environments, which only
    a shared lock can serialise. Callers that lose the lock poll the entry briefly (2 ms doubling to 25 ms)
    and take the lock over if it is released without a fill; past ``lock_wait_ms`` they load on their own.
    The same lock also serialises threads of one process, so no second mechanism is needed.

    ``client`` must not retry on timeouts (see ``prism.cache.wiring.connect``); the scripts are registered
    once here and run by SHA afterwards.
    """

    def __init__(
        self,
        client: Redis,
        *,
        ttl_s: int,
        negative_ttl_s: int,
        metrics_sink: MetricsSink,
        breaker: CircuitBreaker | None = None,
        key_prefix: str = "prism",
        lock_ttl_ms: int = 1000,
        lock_wait_ms: int = 500,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_ms = ttl_s * 1000
        self._negative_ttl_ms = negative_ttl_s * 1000
        self._metrics = metrics_sink
        self._breaker = breaker if breaker is not None else CircuitBreaker(1.0)
        self._keys = KeyLayout(key_prefix)
        self._lock_ttl_ms = lock_ttl_ms
        self._lock_wait_s = lock_wait_ms / 1000
        self._sleep = sleep
        self._clock = clock
        self._fill_script = client.register_script(scripts.FILL)
        self._fence_script = client.register_script(scripts.FENCE)
        self._release_script = client.register_script(scripts.RELEASE_LOCK)

    # ------------------------------------------------------------------ EntityCache

    def get(self, entity: str, entity_id: str) -> Lookup:
        """One GET; a hit carries the stored body as it is (no parsing beyond the version header)."""
        if self._breaker.is_open:
            return self._skipped("get", entity, entity_id)
        try:
            raw = self._client.get(self._keys.entry(entity, entity_id))
        except _REDIS_FAILURES as exc:
            return self._failed("get", entity, entity_id, exc)
        if raw is None:
            return None
        return decode_entry(raw if isinstance(raw, bytes) else raw.encode())

    def fill(self, entity: str, entity_id: str, version: int, body: bytes | str) -> bool:
        _check_version(version)
        if self._breaker.is_open:
            self._skipped("fill", entity, entity_id)
            return False
        payload = body.encode() if isinstance(body, str) else body
        try:
            stored = self._fill_script(
                keys=[self._keys.entry(entity, entity_id)],
                args=[version, encode_body(version, payload), self._ttl_ms],
            )
        except _REDIS_FAILURES as exc:
            self._failed("fill", entity, entity_id, exc)
            return False
        return bool(stored)

    def fill_absent(self, entity: str, entity_id: str) -> bool:
        """A plain ``SET NX``: an absence has no version, so it may only go where nothing (not even a fence) is."""
        if self._breaker.is_open:
            self._skipped("fill_absent", entity, entity_id)
            return False
        try:
            stored = self._client.set(self._keys.entry(entity, entity_id), ABSENT, nx=True, px=self._negative_ttl_ms)
        except _REDIS_FAILURES as exc:
            self._failed("fill_absent", entity, entity_id, exc)
            return False
        return bool(stored)

    def invalidate(self, entity: str, entity_id: str, version: int, *, deleted: bool = False) -> bool:
        _check_version(version)
        if self._breaker.is_open:
            self._skipped("invalidate", entity, entity_id)
            return False
        try:
            return self._set_fence(entity, entity_id, version, deleted=deleted)
        except _REDIS_FAILURES as exc:
            self._failed("invalidate", entity, entity_id, exc)
            return False

    def read_through(self, entity: str, entity_id: str, loader: Loader) -> CacheResult:
        cached = self.get(entity, entity_id)
        if type(cached) is CacheHit:
            return CacheResult(cached.body, cached.version, Source.HIT)
        if type(cached) is CachedAbsence:
            return CacheResult(None, cached.version, Source.HIT)
        if cached is None:
            return self._load_once(entity, entity_id, loader)
        return _answer(loader(), Source.BYPASS)

    # ------------------------------------------------------------------ ChangeApplier

    def apply_change(self, change: ChangeEvent) -> ApplyOutcome:
        """Fence the entry at the change's version if it is newer. Raises CacheUnavailableError rather than
        skipping: a change that cannot be applied is retried by SQS, then dead-lettered (docs/cache.md)."""
        if self._breaker.is_open:
            raise CacheUnavailableError("Redis is skipped for a short cool-down after a recent failure")
        try:
            applied = self._set_fence(change.entity, change.id, change.version, deleted=change.op is Op.DELETE)
        except _REDIS_FAILURES as exc:
            if _is_unavailability(exc):
                self._breaker.trip()
            raise CacheUnavailableError(f"could not apply {change.entity} {change.id}: {exc!r}") from exc
        return ApplyOutcome.APPLIED if applied else ApplyOutcome.STALE

    # ------------------------------------------------------------------ internals

    def _set_fence(self, entity: str, entity_id: str, version: int, *, deleted: bool) -> bool:
        # A delete fence answers reads as an absence, so it lives only as long as a negative entry: a very late
        # duplicate of an old delete (say, a DLQ redrive) can then hide a re-created entity only that long.
        ttl_ms = self._negative_ttl_ms if deleted else self._ttl_ms
        applied = self._fence_script(
            keys=[self._keys.entry(entity, entity_id)],
            args=[version, encode_fence(version, deleted=deleted), ttl_ms],
        )
        return bool(applied)

    def _load_once(self, entity: str, entity_id: str, loader: Loader) -> CacheResult:
        """On a miss: load under the key's fill lock, or wait for the holder's fill and read it."""
        lock_key = self._keys.fill_lock(entity, entity_id)
        token = secrets.token_hex(8)
        deadline = self._clock() + self._lock_wait_s
        delay = _FIRST_POLL_S
        while True:
            attempt = self._try_lock(lock_key, token, entity, entity_id)
            if isinstance(attempt, Bypass):
                return _answer(loader(), Source.BYPASS)
            acquired, cached = attempt
            if cached is not None:
                # Filled meanwhile (by the holder this caller waited for, or one that finished just before).
                if acquired:
                    self._release(lock_key, token)
                return _cached_answer(cached, Source.SHARED)
            if acquired or self._clock() >= deadline:
                # Past the deadline the holder is slow or gone: answer from the source rather than keep waiting.
                return self._load_and_fill(entity, entity_id, loader, lock_key if acquired else None, token)
            self._sleep(delay)
            delay = min(delay * 2, _MAX_POLL_S)

    def _try_lock(
        self, lock_key: str, token: str, entity: str, entity_id: str
    ) -> tuple[bool, CacheHit | CachedAbsence | None] | Bypass:
        """Try to take the key's fill lock and re-read the entry, in one round trip.

        The re-read closes a race: a caller that missed just before the previous holder filled and released
        would otherwise take the free lock and load a second time.
        """
        if self._breaker.is_open:
            return self._skipped("lock", entity, entity_id)
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.set(lock_key, token, nx=True, px=self._lock_ttl_ms)
                pipe.get(self._keys.entry(entity, entity_id))
                acquired, raw = pipe.execute()
        except _REDIS_FAILURES as exc:
            return self._failed("lock", entity, entity_id, exc)
        return bool(acquired), None if raw is None else decode_entry(raw)

    def _load_and_fill(
        self, entity: str, entity_id: str, loader: Loader, lock_key: str | None, token: str
    ) -> CacheResult:
        try:
            loaded = loader()
            if loaded is None:
                self.fill_absent(entity, entity_id)
            else:
                self.fill(entity, entity_id, loaded[0], loaded[1])
        finally:
            if lock_key is not None:
                self._release(lock_key, token)
        return _answer(loaded, Source.LOADED)

    def _release(self, lock_key: str, token: str) -> None:
        """Let waiters take over at once if the fill did not happen; otherwise the lock would just expire."""
        if self._breaker.is_open:
            return
        try:
            self._release_script(keys=[lock_key], args=[token])
        except _REDIS_FAILURES as exc:
            # Harmless: the lock expires on its own within lock_ttl_ms.
            logger.info("Could not release a cache fill lock", extra={"lock": lock_key, "error": repr(exc)})

    def _failed(self, operation: str, entity: str, entity_id: str, exc: BaseException) -> Bypass:
        reason = _reason(exc)
        if _is_unavailability(exc):
            self._breaker.trip()
        logger.warning(
            "Cache bypassed: Redis failed",
            extra={
                "operation": operation,
                "reason": reason,
                "entity": entity,
                "entity_id": entity_id,
                "error": repr(exc),
            },
        )
        self._metrics.add_metric(name=BYPASS_METRIC, unit=MetricUnit.Count, value=1)
        return Bypass(reason)

    def _skipped(self, operation: str, entity: str, entity_id: str) -> Bypass:
        # Logged at debug: while the circuit is open every request passes here, and the failure that
        # opened it was already logged as a warning.
        logger.debug(
            "Cache bypassed: circuit open",
            extra={"operation": operation, "reason": CIRCUIT_OPEN, "entity": entity, "entity_id": entity_id},
        )
        self._metrics.add_metric(name=BYPASS_METRIC, unit=MetricUnit.Count, value=1)
        return Bypass(CIRCUIT_OPEN)


def _cached_answer(cached: CacheHit | CachedAbsence, source: Source) -> CacheResult:
    if isinstance(cached, CacheHit):
        return CacheResult(cached.body, cached.version, source)
    return CacheResult(None, cached.version, source)


def _answer(loaded: tuple[int, bytes] | None, source: Source) -> CacheResult:
    if loaded is None:
        return CacheResult(None, None, source)
    return CacheResult(loaded[1], loaded[0], source)


def _check_version(version: int) -> None:
    if version < 0:
        raise ValueError(f"versions are never negative, got {version}")


def _is_unavailability(exc: BaseException) -> bool:
    """Connection errors and timeouts open the circuit; a command error (e.g. READONLY) does not."""
    return isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (RedisTimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (RedisConnectionError, OSError)):
        return "connection_error"
    return "redis_error"
