"""The cache is never required (DESIGN invariant 5): with Redis failing, every API-side operation degrades,
counts a bypass, and the loader answers; only the cache sink's apply raises, so SQS retries the change."""

from __future__ import annotations

import pytest
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from prism.cache.breaker import CircuitBreaker
from prism.cache.disabled import DisabledEntityCache
from prism.cache.entries import Bypass, CacheResult, Source
from prism.cache.port import ApplyOutcome, CacheUnavailableError
from prism.cache.redis_cache import RedisEntityCache
from tests.support.cache import CountingMetrics, FailingRedis, change


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cache_on(client: FailingRedis, metrics: CountingMetrics, clock: FakeClock | None = None) -> RedisEntityCache:
    clock = clock or FakeClock()
    return RedisEntityCache(
        client,  # type: ignore[arg-type]
        ttl_s=60,
        negative_ttl_s=5,
        metrics_sink=metrics,
        breaker=CircuitBreaker(1.0, clock=clock),
        clock=clock,
        sleep=lambda _s: None,
    )


def test_a_refused_connection_is_a_counted_bypass_and_opens_the_circuit() -> None:
    redis, metrics = FailingRedis(), CountingMetrics()
    cache = cache_on(redis, metrics)

    first = cache.get("customer", "c-1")
    second = cache.get("customer", "c-1")

    assert first == Bypass("connection_error")
    assert second == Bypass("circuit_open")
    assert redis.calls == 1, "the open circuit kept the second call away from Redis"
    assert metrics["CacheBypass"] == 2


def test_after_the_cooldown_redis_is_asked_again() -> None:
    redis, clock = FailingRedis(), FakeClock()
    cache = cache_on(redis, CountingMetrics(), clock)
    cache.get("customer", "c-1")

    clock.now += 1.0
    cache.get("customer", "c-1")

    assert redis.calls == 2


def test_a_timeout_is_reported_as_such_and_opens_the_circuit() -> None:
    redis = FailingRedis(RedisTimeoutError("Timeout reading from socket"))
    cache = cache_on(redis, CountingMetrics())

    assert cache.get("customer", "c-1") == Bypass("timeout")
    assert cache.get("customer", "c-1") == Bypass("circuit_open")


def test_a_command_error_bypasses_that_call_only() -> None:
    redis = FailingRedis(ReadOnlyError("You can't write against a read only replica."))
    cache = cache_on(redis, CountingMetrics())

    assert cache.fill("customer", "c-1", 3, b"{}") is False
    assert cache.get("customer", "c-1") == Bypass("redis_error")
    assert redis.calls == 2, "a command error is not an outage: the circuit stays closed"


def test_read_through_answers_from_the_loader_and_counts_one_bypass_per_read() -> None:
    redis, metrics = FailingRedis(), CountingMetrics()
    cache = cache_on(redis, metrics)
    loads: list[str] = []

    def loader() -> tuple[int, bytes]:
        loads.append("c-1")
        return 4, b'{"id":"c-1"}'

    results = [cache.read_through("customer", "c-1", loader) for _ in range(3)]

    assert results == [CacheResult(b'{"id":"c-1"}', 4, Source.BYPASS)] * 3
    assert len(loads) == 3
    assert metrics["CacheBypass"] == 3


def test_read_through_of_a_missing_entity_still_answers_not_found() -> None:
    cache = cache_on(FailingRedis(), CountingMetrics())

    assert cache.read_through("customer", "nope", lambda: None) == CacheResult(None, None, Source.BYPASS)


def test_a_loader_error_is_not_the_cache_s_to_hide() -> None:
    cache = cache_on(FailingRedis(), CountingMetrics())

    def loader() -> tuple[int, bytes]:
        raise LookupError("the table is unreachable too")

    with pytest.raises(LookupError, match="unreachable"):
        cache.read_through("customer", "c-1", loader)


def test_writes_to_the_cache_are_skipped_not_raised() -> None:
    metrics = CountingMetrics()
    cache = cache_on(FailingRedis(), metrics)

    assert cache.fill("customer", "c-1", 3, "{}") is False
    assert cache.fill_absent("customer", "c-1") is False
    assert cache.invalidate("customer", "c-1", 4) is False
    assert metrics["CacheBypass"] == 3


def test_negative_versions_are_a_programming_error() -> None:
    cache = cache_on(FailingRedis(), CountingMetrics())

    with pytest.raises(ValueError, match="never negative"):
        cache.fill("customer", "c-1", -1, b"{}")


def test_the_sink_side_raises_so_the_change_is_retried_and_never_silently_dropped() -> None:
    redis = FailingRedis()
    cache = cache_on(redis, CountingMetrics())

    with pytest.raises(CacheUnavailableError, match="could not apply customer c-1"):
        cache.apply_change(change("customer", "c-1", 5))
    with pytest.raises(CacheUnavailableError, match="cool-down"):
        cache.apply_change(change("customer", "c-1", 5))
    assert redis.calls == 1


def test_without_a_configured_cache_reads_bypass_and_changes_have_nothing_to_invalidate() -> None:
    metrics = CountingMetrics()
    cache = DisabledEntityCache(metrics_sink=metrics)

    result = cache.read_through("customer", "c-1", lambda: (2, b"{}"))

    assert result == CacheResult(b"{}", 2, Source.BYPASS)
    assert metrics["CacheBypass"] == 1
    assert cache.apply_change(change("customer", "c-1", 5)) is ApplyOutcome.NO_CACHE
    assert cache.invalidate("customer", "c-1", 5) is False
