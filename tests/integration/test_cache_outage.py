"""The cache is never required (DESIGN invariant 5), against real sockets: a closed port, a server that never
answers, and a redis-server of this test's own that is killed mid-test and restarted."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.cache.entries import Bypass, CacheHit, CacheResult, Source
from prism.cache.redis_cache import RedisEntityCache
from prism.cache.sink import CacheSinkProcessor
from prism.cache.wiring import build_cache
from prism.changes.reader import ChangeReader
from prism.settings import CacheSettings
from tests.support.cache import CountingMetrics, change, redis_process, sqs_record
from tests.support.fakes import InMemoryClaimCheckStore
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

BODY = b'{"id":"c-1","version":3}'


def cache_at(port: int, metrics: CountingMetrics, *, cooldown_ms: int = 5000) -> RedisEntityCache:
    """The cache exactly as the functions build it (wiring), pointed at ``port``."""
    settings = CacheSettings.from_env(
        {"CACHE_URL": f"redis://127.0.0.1:{port}/0", "CACHE_BREAKER_COOLDOWN_MS": str(cooldown_ms)}
    )
    cache = build_cache(settings, metrics)
    assert isinstance(cache, RedisEntityCache)
    return cache


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers: a hung or overloaded Redis."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in accepted:
            connection.close()
        listener.close()


def test_with_nothing_listening_reads_are_answered_by_the_loader_at_once() -> None:
    metrics = CountingMetrics()
    cache = cache_at(free_port(), metrics)

    started = time.monotonic()
    results = [cache.read_through("customer", f"c-{i}", lambda: (3, BODY)) for i in range(20)]
    elapsed = time.monotonic() - started

    assert results == [CacheResult(BODY, 3, Source.BYPASS)] * 20
    assert elapsed < 1.0
    assert metrics["CacheBypass"] == 20


def test_a_server_that_never_answers_costs_one_timeout_then_the_circuit_skips_it() -> None:
    metrics = CountingMetrics()
    with silent_server() as port:
        cache = cache_at(port, metrics)

        started = time.monotonic()
        first = cache.get("customer", "c-1")
        first_elapsed = time.monotonic() - started
        results = [cache.read_through("customer", "c-1", lambda: (3, BODY)) for _ in range(19)]
        elapsed = time.monotonic() - started

    assert first == Bypass("timeout")
    assert 0.05 <= first_elapsed < 0.5, "the 100 ms socket timeout, not redis-py's default 5 s"
    assert elapsed < 1.0
    assert all(r == CacheResult(BODY, 3, Source.BYPASS) for r in results)
    assert metrics["CacheBypass"] == 20


def test_redis_stopped_mid_test_degrades_then_recovers(tmp_path: Path) -> None:
    port, metrics = free_port(), CountingMetrics()
    with redis_process(port, tmp_path) as server:
        cache = cache_at(port, metrics, cooldown_ms=200)
        sink = CacheSinkProcessor(ChangeReader(InMemoryClaimCheckStore()), cache)
        assert cache.read_through("customer", "c-1", lambda: (3, BODY)).source is Source.LOADED
        assert cache.get("customer", "c-1") == CacheHit(BODY, 3)

        server.kill()

        degraded = cache.read_through("customer", "c-1", lambda: (3, BODY))
        assert degraded == CacheResult(BODY, 3, Source.BYPASS)
        assert cache.invalidate("customer", "c-1", 4) is False, "an API write still succeeds"
        records = [sqs_record(change("customer", "c-1", 4).to_json())]
        failed = process_partial_response({"Records": records}, sink.apply_record, sink)
        assert failed == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
        assert sink.summary.cache_unavailable == 1
        assert metrics["CacheBypass"] >= 2

        server.start()
        time.sleep(0.25)  # the breaker's cool-down

        retried = process_partial_response({"Records": records}, sink.apply_record, sink)
        assert retried == {"batchItemFailures": []}, "SQS's retry of the change succeeds"
        recovered = cache.read_through("customer", "c-1", lambda: (4, b'{"id":"c-1","version":4}'))
        assert recovered.source is Source.LOADED, "the fresh server is empty but for the sink's fence"
        assert cache.get("customer", "c-1") == CacheHit(b'{"id":"c-1","version":4}', 4)
