"""Builds the API once per execution environment: settings validated, clients created, the cursor key fetched
(through Powertools parameters, cached), then reused by every invocation."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from prism.api.app import create_app
from prism.api.cached_reads import CachedReads
from prism.api.idempotency import IdempotentCreates
from prism.cache.wiring import entity_cache
from prism.domain.cursor import CursorCodec
from prism.search.client import search_client
from prism.search.opensearch_index import OpenSearchIndex, UnconfiguredSearchIndex
from prism.search.service import SearchService
from prism.settings import ApiSettings, SearchReadSettings
from prism.store.dynamodb import DynamoEntityStore

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from prism.search.port import SearchIndex

CURSOR_KEY_MAX_AGE_S = 3600


@dataclass(frozen=True)
class Api:
    app: APIGatewayRestResolver
    reads: CachedReads
    creates: IdempotentCreates


@lru_cache(maxsize=1)
def api() -> Api:
    settings = ApiSettings.from_env()
    cursor_key = parameters.get_secret(settings.cursor_secret_arn, max_age=CURSOR_KEY_MAX_AGE_S)
    store = DynamoEntityStore(settings.table_name, str(cursor_key).encode(), region=settings.aws_region)
    reads = CachedReads(entity_cache())
    creates = IdempotentCreates(DynamoDBPersistenceLayer(table_name=settings.idempotency_table))
    search = SearchService(search_index(SearchReadSettings.from_env()), CursorCodec(str(cursor_key)))
    return Api(create_app(store, reads, creates, search), reads, creates)


def search_index(settings: SearchReadSettings) -> SearchIndex:
    """OpenSearch through the settings' client, or a stand-in answering 503 when SEARCH_URL is empty."""
    if not settings.search_url:
        return UnconfiguredSearchIndex()
    return OpenSearchIndex(search_client(settings), settings.search_index_prefix)
