"""Builds the search sink from its settings, once per execution environment."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3

from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.reader import ChangeReader
from prism.observability import logger
from prism.search.client import search_client
from prism.search.indices import ensure_indices
from prism.search.sink import RetryPolicy, SearchSinkProcessor
from prism.settings import SearchReindexSettings, SearchSinkSettings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


@lru_cache(maxsize=1)
def search_sink_processor() -> SearchSinkProcessor:
    """The search sink's processor; built at the first invocation (settings validated then).

    It also puts the index templates and creates any missing index and alias (``ensure_indices``): cheap and
    idempotent, so a new deployment needs no separate step to prepare OpenSearch.
    """
    settings = SearchSinkSettings.from_env()
    client = search_client(settings)
    created = ensure_indices(client, settings.search_index_prefix)
    if created:
        logger.info("Created search indices", extra={"aliases": created})
    reader = ChangeReader(S3ClaimCheckStore(boto3.client("s3"), settings.claim_check_bucket))
    retry = RetryPolicy(attempts=settings.search_max_attempts, base_delay_s=settings.search_backoff_s)
    return SearchSinkProcessor(reader, client, retry=retry, index_prefix=settings.search_index_prefix)


@lru_cache(maxsize=1)
def reindex_client() -> tuple[OpenSearch, str]:
    """The reindex function's client (the sink's settings, a longer timeout) and its index prefix."""
    settings = SearchReindexSettings.from_env()
    return search_client(settings), settings.search_index_prefix
