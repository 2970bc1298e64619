"""DESIGN invariant 3 for the cache, under hypothesis, against the real redis-server: whatever the order,
duplication and mix of fills (reads filling the cache), API invalidations and sink changes, the cache never
serves anything but the newest version delivered so far (or a miss)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prism.cache.entries import CachedAbsence, CacheHit
from prism.cache.redis_cache import RedisEntityCache
from tests.support.cache import CountingMetrics, change, delete_prefix, unique_prefix

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

VERSIONS = st.integers(min_value=1, max_value=40)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("fill"), VERSIONS),
        st.tuples(st.just("sink"), VERSIONS),
        st.tuples(st.just("invalidate"), VERSIONS),
        st.tuples(st.just("fill_absent"), st.just(0)),
    ),
    max_size=30,
)


def is_delete(version: int) -> bool:
    """Each version is one write: every fourth is a delete (its fill would be a not-found read)."""
    return version % 4 == 0


def body(version: int) -> bytes:
    return b'{"id":"p","version":%d}' % version


@pytest.fixture(scope="module")
def cache(local_servers: LocalConfig) -> Iterator[RedisEntityCache]:
    client = redis.Redis.from_url(local_servers.redis_url)
    prefix = unique_prefix()
    yield RedisEntityCache(client, ttl_s=60, negative_ttl_s=60, metrics_sink=CountingMetrics(), key_prefix=prefix)
    delete_prefix(client, prefix)
    client.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_the_cache_never_serves_anything_older_than_the_newest_delivered_version(
    cache: RedisEntityCache, steps: list[tuple[str, int]]
) -> None:
    entity_id = uuid.uuid4().hex
    newest: int | None = None

    for action, version in steps:
        if action == "fill" and not is_delete(version):
            cache.fill("product", entity_id, version, body(version))
        elif action == "fill":
            continue  # a read of a deleted version finds nothing: that is fill_absent, below
        elif action == "sink":
            cache.apply_change(change("product", entity_id, version, deleted=is_delete(version)))
        elif action == "invalidate":
            cache.invalidate("product", entity_id, version, deleted=is_delete(version))
        else:
            cache.fill_absent("product", entity_id)
        if action != "fill_absent":
            newest = version if newest is None else max(newest, version)

        served = cache.get("product", entity_id)

        if newest is None:
            assert served in (None, CachedAbsence(None))
        elif is_delete(newest):
            assert served in (None, CachedAbsence(newest)), (steps, served)
        else:
            assert served in (None, CacheHit(body(newest), newest)), (steps, served)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(versions=st.lists(VERSIONS, min_size=1, max_size=20))
def test_once_the_newest_version_is_filled_it_is_served_whatever_came_before(
    cache: RedisEntityCache, versions: list[int]
) -> None:
    entity_id = uuid.uuid4().hex
    for version in versions:
        cache.apply_change(change("product", entity_id, version, deleted=is_delete(version)))
    newest = max(versions)

    if is_delete(newest):
        assert cache.get("product", entity_id) == CachedAbsence(newest)
    else:
        assert cache.fill("product", entity_id, newest, body(newest))
        assert cache.get("product", entity_id) == CacheHit(body(newest), newest)
