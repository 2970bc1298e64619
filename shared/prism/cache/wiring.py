"""Builds the cache and the cache sink from their settings, once per execution environment."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from prism.cache.breaker import CircuitBreaker
from prism.cache.disabled import DisabledEntityCache
from prism.cache.redis_cache import RedisEntityCache
from prism.cache.sink import CacheSinkProcessor
from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.reader import ChangeReader
from prism.observability import metrics
from prism.settings import CacheSettings, CacheSinkSettings

if TYPE_CHECKING:
    from prism.cache.port import EntityCache, MetricsSink


def connect(settings: CacheSettings) -> Redis:
    """A client with the settings' tight timeouts that never retries a timeout.

    It retries once, immediately, on a connection error only: a pooled connection that the server or the
    network dropped while the environment was frozen fails on first use, and a fresh one usually works. A
    refused connection fails in microseconds, so that retry costs a dead Redis nothing; a timeout is never
    repeated. The client connects lazily, at its first command.
    """
    return Redis.from_url(
        settings.cache_url,
        socket_connect_timeout=settings.cache_connect_timeout_ms / 1000,
        socket_timeout=settings.cache_timeout_ms / 1000,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        client_name="prism",
    )


def build_cache(settings: CacheSettings, metrics_sink: MetricsSink) -> RedisEntityCache | DisabledEntityCache:
    """The Redis cache of ``settings``, or the disabled one when ``CACHE_URL`` is empty."""
    if not settings.cache_url:
        return DisabledEntityCache(metrics_sink=metrics_sink)
    return RedisEntityCache(
        connect(settings),
        ttl_s=settings.cache_ttl_s,
        negative_ttl_s=settings.cache_negative_ttl_s,
        metrics_sink=metrics_sink,
        breaker=CircuitBreaker(settings.cache_breaker_cooldown_ms / 1000),
    )


@lru_cache(maxsize=1)
def entity_cache() -> EntityCache:
    """The API's read cache; created at the first invocation (settings validated then) and reused after."""
    return build_cache(CacheSettings.from_env(), metrics)


@lru_cache(maxsize=1)
def cache_sink_processor() -> CacheSinkProcessor:
    """The cache sink's processor with its Redis and S3 clients; created at the first invocation."""
    settings = CacheSinkSettings.from_env()
    reader = ChangeReader(S3ClaimCheckStore(boto3.client("s3"), settings.claim_check_bucket))
    return CacheSinkProcessor(reader, build_cache(settings, metrics))
