"""The Redis cache against the real private redis-server: fills, hits, fences, negative entries, the sink."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
import redis
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.cache.entries import CachedAbsence, CacheHit, CacheResult, Source
from prism.cache.port import ApplyOutcome
from prism.cache.redis_cache import RedisEntityCache
from prism.cache.sink import CacheSinkProcessor, CacheSinkSummary
from prism.changes.reader import ChangeReader
from tests.support.cache import CountingMetrics, change, delete_prefix, sqs_record, unique_prefix
from tests.support.fakes import InMemoryClaimCheckStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

BODY_V1 = b'{"id":"c-1","name":"Ada","version":1}'
BODY_V2 = b'{"id":"c-1","name":"Ada L.","version":2}'


@pytest.fixture
def client(local_servers: LocalConfig) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(local_servers.redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    prefix = unique_prefix()
    yield prefix
    delete_prefix(client, prefix)


@pytest.fixture
def metrics() -> CountingMetrics:
    return CountingMetrics()


@pytest.fixture
def cache(client: redis.Redis, prefix: str, metrics: CountingMetrics) -> RedisEntityCache:
    return RedisEntityCache(client, ttl_s=60, negative_ttl_s=1, metrics_sink=metrics, key_prefix=prefix)


def test_a_fill_is_served_byte_for_byte_with_its_version(cache: RedisEntityCache) -> None:
    assert cache.get("customer", "c-1") is None

    assert cache.fill("customer", "c-1", 1, BODY_V1)

    assert cache.get("customer", "c-1") == CacheHit(BODY_V1, 1)


def test_read_through_loads_on_a_miss_then_serves_the_cache(cache: RedisEntityCache) -> None:
    loads: list[int] = []

    def loader() -> tuple[int, bytes]:
        loads.append(1)
        return 1, BODY_V1

    first = cache.read_through("customer", "c-1", loader)
    second = cache.read_through("customer", "c-1", loader)

    assert first == CacheResult(BODY_V1, 1, Source.LOADED)
    assert second == CacheResult(BODY_V1, 1, Source.HIT)
    assert len(loads) == 1


def test_an_older_fill_never_replaces_a_newer_body(cache: RedisEntityCache) -> None:
    cache.fill("customer", "c-1", 2, BODY_V2)

    assert not cache.fill("customer", "c-1", 1, BODY_V1)
    assert cache.get("customer", "c-1") == CacheHit(BODY_V2, 2)


def test_invalidation_fences_out_an_in_flight_read_of_the_older_version(cache: RedisEntityCache) -> None:
    cache.fill("customer", "c-1", 1, BODY_V1)
    # A reader loads version 1 from the table; meanwhile the API writes version 2 and invalidates.
    assert cache.invalidate("customer", "c-1", 2)

    refilled = cache.fill("customer", "c-1", 1, BODY_V1)  # the slow reader's fill lands afterwards

    assert not refilled
    assert cache.get("customer", "c-1") is None, "a fence is a miss"
    assert cache.fill("customer", "c-1", 2, BODY_V2), "the next read fills the new version"
    assert cache.get("customer", "c-1") == CacheHit(BODY_V2, 2)


def test_an_invalidation_older_than_the_cached_body_changes_nothing(cache: RedisEntityCache) -> None:
    cache.fill("customer", "c-1", 2, BODY_V2)

    assert not cache.invalidate("customer", "c-1", 2)
    assert not cache.invalidate("customer", "c-1", 1)
    assert cache.get("customer", "c-1") == CacheHit(BODY_V2, 2)


def test_a_delete_fence_answers_not_found_until_a_newer_fill(cache: RedisEntityCache) -> None:
    cache.fill("customer", "c-1", 1, BODY_V1)

    cache.invalidate("customer", "c-1", 2, deleted=True)

    assert cache.get("customer", "c-1") == CachedAbsence(2)
    assert not cache.fill("customer", "c-1", 1, BODY_V1)
    assert cache.fill("customer", "c-1", 3, b'{"id":"c-1","version":3}'), "a re-create is newer"


def test_not_found_is_cached_briefly(cache: RedisEntityCache, client: redis.Redis, prefix: str) -> None:
    result = cache.read_through("customer", "ghost", lambda: None)

    assert result == CacheResult(None, None, Source.LOADED)
    assert cache.read_through("customer", "ghost", lambda: (9, b"{}")) == CacheResult(None, None, Source.HIT)
    assert 0 < client.pttl(f"{prefix}:customer:ghost") <= 1000
    time.sleep(1.1)
    assert cache.get("customer", "ghost") is None


def test_an_absence_never_replaces_an_entry_or_a_fence(cache: RedisEntityCache) -> None:
    cache.invalidate("customer", "c-1", 4)

    assert not cache.fill_absent("customer", "c-1"), "a read that found nothing may predate the write at 4"
    assert cache.get("customer", "c-1") is None


def test_a_fill_or_a_change_replaces_an_absence(cache: RedisEntityCache) -> None:
    cache.fill_absent("customer", "c-1")
    cache.fill("customer", "c-1", 1, BODY_V1)
    cache.fill_absent("customer", "c-2")
    cache.apply_change(change("customer", "c-2", 1))

    assert cache.get("customer", "c-1") == CacheHit(BODY_V1, 1)
    assert cache.get("customer", "c-2") is None


def test_every_key_the_cache_writes_expires(cache: RedisEntityCache, client: redis.Redis, prefix: str) -> None:
    cache.fill("customer", "body", 1, BODY_V1)
    cache.invalidate("customer", "fence", 1)
    cache.invalidate("customer", "deleted", 1, deleted=True)
    cache.fill_absent("customer", "absent")
    cache.apply_change(change("customer", "changed", 1))

    keys = list(client.scan_iter(match=f"{prefix}*"))

    assert len(keys) == 5
    assert all(client.pttl(key) > 0 for key in keys)


def test_versions_compare_exactly_beyond_a_double_s_precision(cache: RedisEntityCache) -> None:
    big = 2**63 + 1

    cache.fill("customer", "c-1", big, BODY_V2)

    assert not cache.fill("customer", "c-1", big - 1, BODY_V1)
    assert cache.invalidate("customer", "c-1", big + 1)
    assert cache.get("customer", "c-1") is None


def test_the_sink_applies_only_newer_changes(cache: RedisEntityCache) -> None:
    processor = CacheSinkProcessor(ChangeReader(InMemoryClaimCheckStore()), cache)
    cache.fill("product", "p-1", 10, b'{"id":"p-1","version":10}')
    cache.fill("product", "p-2", 30, b'{"id":"p-2","version":30}')
    changes = [
        change("product", "p-1", 20),  # newer: drops the body
        change("product", "p-2", 20),  # older than the cached body: ignored
        change("product", "p-3", 5, deleted=True),  # nothing cached: leaves a delete fence
        change("product", "p-1", 20),  # duplicate
        change("product", "p-1", 15),  # late
    ]
    poison = sqs_record("not an envelope")

    response = process_partial_response(
        {"Records": [*(sqs_record(c.to_json()) for c in changes), poison]}, processor.apply_record, processor
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}
    assert processor.summary == CacheSinkSummary(records=6, applied=2, stale=3, malformed=1)
    assert cache.get("product", "p-1") is None
    assert cache.get("product", "p-2") == CacheHit(b'{"id":"p-2","version":30}', 30)
    assert cache.get("product", "p-3") == CachedAbsence(5)
    assert not cache.fill("product", "p-1", 15, b"{}"), "the fence at 20 keeps out a stale read"


def test_a_change_and_an_api_invalidation_of_the_same_write_are_one_fence(cache: RedisEntityCache) -> None:
    assert cache.invalidate("order", "o-1", 7)

    assert cache.apply_change(change("order", "o-1", 7)) is ApplyOutcome.STALE
