"""A burst of concurrent misses for one key makes one read of the source, not N: within one process (threads
sharing a client) and across execution environments (threads with a client each), through the Redis lock."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import redis

from prism.cache.entries import CacheResult, Source
from prism.cache.redis_cache import RedisEntityCache
from tests.support.cache import CountingMetrics, delete_prefix, unique_prefix

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

BURST = 50
BODY = b'{"id":"p-1","name":"Analytical Engine","version":7}'


class CountingLoader:
    """A slow source read (like a DynamoDB GetItem under load) that counts how often it runs."""

    def __init__(self, answer: tuple[int, bytes] | None, seconds: float = 0.05) -> None:
        self.answer = answer
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> tuple[int, bytes] | None:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        return self.answer


@pytest.fixture
def prefix(local_servers: LocalConfig) -> Iterator[str]:
    prefix = unique_prefix()
    yield prefix
    client = redis.Redis.from_url(local_servers.redis_url)
    delete_prefix(client, prefix)
    client.close()


def make_cache(client: redis.Redis, prefix: str, **options: int) -> RedisEntityCache:
    return RedisEntityCache(
        client, ttl_s=60, negative_ttl_s=5, metrics_sink=CountingMetrics(), key_prefix=prefix, **options
    )


def burst(reads: list[Callable[[], CacheResult]]) -> list[CacheResult]:
    """Run every read at once (released together by a barrier) and collect the answers."""
    start = threading.Barrier(len(reads))

    def run(read: Callable[[], CacheResult]) -> CacheResult:
        start.wait()
        return read()

    with ThreadPoolExecutor(max_workers=len(reads)) as pool:
        return list(pool.map(run, reads))


def test_concurrent_misses_in_one_process_load_once(local_servers: LocalConfig, prefix: str) -> None:
    client = redis.Redis.from_url(local_servers.redis_url, max_connections=BURST)
    cache, loader = make_cache(client, prefix), CountingLoader((7, BODY))

    results = burst([lambda: cache.read_through("product", "p-1", loader)] * BURST)

    assert loader.calls == 1
    assert {(r.body, r.version) for r in results} == {(BODY, 7)}
    sources = Counter(r.source for r in results)
    assert sources[Source.LOADED] == 1
    assert sources[Source.SHARED] + sources[Source.HIT] == BURST - 1, "the rest waited for the fill, or came after"
    client.close()


def test_concurrent_misses_across_environments_load_once(local_servers: LocalConfig, prefix: str) -> None:
    clients = [redis.Redis.from_url(local_servers.redis_url) for _ in range(BURST)]
    for client in clients:
        client.ping()  # each "environment" is warm: its connection is open before the burst
    caches, loader = [make_cache(client, prefix) for client in clients], CountingLoader((7, BODY))

    results = burst([lambda c=c: c.read_through("product", "p-1", loader) for c in caches])

    assert loader.calls == 1
    assert all(r.body == BODY for r in results)
    for client in clients:
        client.close()


def test_concurrent_misses_for_a_missing_entity_load_once(local_servers: LocalConfig, prefix: str) -> None:
    client = redis.Redis.from_url(local_servers.redis_url)
    cache, loader = make_cache(client, prefix), CountingLoader(None)

    results = burst([lambda: cache.read_through("product", "ghost", loader)] * 20)

    assert loader.calls == 1
    assert not any(r.found for r in results)
    client.close()


def test_a_lock_released_without_a_fill_is_taken_over_at_once(local_servers: LocalConfig, prefix: str) -> None:
    client = redis.Redis.from_url(local_servers.redis_url)
    cache, loader = make_cache(client, prefix, lock_wait_ms=5000), CountingLoader((7, BODY), seconds=0)
    client.set(f"{prefix}-lock:product:p-1", "someone-else", px=10_000)
    threading.Timer(0.05, lambda: client.delete(f"{prefix}-lock:product:p-1")).start()  # the holder gave up

    started = time.monotonic()
    result = cache.read_through("product", "p-1", loader)

    assert result == CacheResult(BODY, 7, Source.LOADED)
    assert time.monotonic() - started < 1.0
    assert cache.get("product", "p-1") is not None
    client.close()


def test_a_holder_that_never_fills_delays_a_reader_only_until_the_wait_ends(
    local_servers: LocalConfig, prefix: str
) -> None:
    client = redis.Redis.from_url(local_servers.redis_url)
    cache, loader = make_cache(client, prefix, lock_wait_ms=150), CountingLoader((7, BODY), seconds=0)
    client.set(f"{prefix}-lock:product:p-1", "stuck-holder", px=10_000)

    started = time.monotonic()
    result = cache.read_through("product", "p-1", loader)

    assert result == CacheResult(BODY, 7, Source.LOADED)
    assert 0.15 <= time.monotonic() - started < 0.6
    assert client.get(f"{prefix}-lock:product:p-1") == b"stuck-holder", "only its holder releases a lock"
    client.close()


def test_a_failing_load_releases_the_lock_and_surfaces_its_error(local_servers: LocalConfig, prefix: str) -> None:
    client = redis.Redis.from_url(local_servers.redis_url)
    cache = make_cache(client, prefix)

    def broken() -> tuple[int, bytes]:
        raise LookupError("table unavailable")

    with pytest.raises(LookupError):
        cache.read_through("product", "p-1", broken)

    assert client.exists(f"{prefix}-lock:product:p-1") == 0
    client.close()
