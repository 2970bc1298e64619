from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from prism.cache.disabled import DisabledEntityCache
from prism.cache.redis_cache import RedisEntityCache
from prism.cache.wiring import build_cache, connect
from prism.errors import ConfigurationError
from prism.settings import CacheSettings, CacheSinkSettings
from tests.support.cache import CountingMetrics


def test_defaults_are_tight_timeouts_and_short_negative_entries() -> None:
    settings = CacheSettings.from_env({"CACHE_URL": "rediss://cache.example.internal:6379"})

    assert (settings.cache_connect_timeout_ms, settings.cache_timeout_ms) == (50, 100)
    assert settings.cache_negative_ttl_s < settings.cache_ttl_s


def test_an_empty_url_runs_without_a_cache_but_a_missing_one_is_an_error() -> None:
    assert isinstance(build_cache(CacheSettings.from_env({"CACHE_URL": ""}), CountingMetrics()), DisabledEntityCache)
    with pytest.raises(ConfigurationError, match="CACHE_URL is not set"):
        CacheSettings.from_env({})


def test_a_url_that_is_not_redis_is_named_in_the_error() -> None:
    with pytest.raises(ConfigurationError, match="CACHE_URL is invalid"):
        CacheSettings.from_env({"CACHE_URL": "memcached://cache:11211"})


def test_the_sink_also_needs_the_claim_check_bucket() -> None:
    with pytest.raises(ConfigurationError, match="CLAIM_CHECK_BUCKET is not set"):
        CacheSinkSettings.from_env({"CACHE_URL": "redis://127.0.0.1:6379/0"})


def test_the_client_never_retries_a_timeout_and_connects_lazily() -> None:
    settings = CacheSettings.from_env(
        {"CACHE_URL": "redis://127.0.0.1:1/0", "CACHE_CONNECT_TIMEOUT_MS": "20", "CACHE_TIMEOUT_MS": "40"}
    )

    client = connect(settings)  # no connection yet: the network is blocked in unit tests

    kwargs = client.get_connection_kwargs()
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.02, 0.04)
    retry = kwargs["retry"]
    assert retry.get_retries() == 1
    assert RedisConnectionError in retry._supported_errors
    assert RedisTimeoutError not in retry._supported_errors
    assert isinstance(build_cache(settings, CountingMetrics()), RedisEntityCache)
