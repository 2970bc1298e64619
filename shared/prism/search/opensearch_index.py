"""The SearchIndex adapter on opensearch-py: the caller hands over the client (built from the settings by
``search_client``), and vendor errors become domain errors here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from prism.domain.errors import SearchIndexUnavailableError
from prism.search.indices import index_for
from prism.search.port import SearchHit, SearchResult

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from opensearchpy import OpenSearch

#: OpenSearch statuses that say "not now" rather than "never": throttling and server-side trouble.
_UNAVAILABLE: Final = frozenset({429, 500, 502, 503, 504})


class OpenSearchIndex:
    """Searches the entities' aliases (``<prefix>products``) of one OpenSearch."""

    def __init__(self, client: OpenSearch, index_prefix: str = "") -> None:
        self._client = client
        self._prefix = index_prefix

    def search(self, entities: Sequence[str], body: Mapping[str, Any]) -> SearchResult:
        aliases = ",".join(index_for(entity).alias(self._prefix) for entity in entities)
        try:
            # ignore_unavailable: an alias the sink has not created yet (no change seen) is an empty index.
            response = self._client.search(index=aliases, body=dict(body), ignore_unavailable=True)
        except OpenSearchConnectionError as exc:  # includes ConnectionTimeout
            raise SearchIndexUnavailableError("the search index cannot be reached; retry later") from exc
        except TransportError as exc:
            if exc.status_code in _UNAVAILABLE:
                raise SearchIndexUnavailableError(
                    f"the search index is unavailable (status {exc.status_code}); retry later"
                ) from exc
            raise
        hits = [SearchHit(dict(hit["_source"]["item"]), list(hit["sort"])) for hit in response["hits"]["hits"]]
        facets = {
            name: {str(bucket["key"]): int(bucket["doc_count"]) for bucket in aggregation["buckets"]}
            for name, aggregation in response.get("aggregations", {}).items()
        }
        return SearchResult(hits, facets)


class UnconfiguredSearchIndex:
    """Stands where OpenSearch would when SearchUrl is empty: the entity routes still work, search is a 503."""

    def search(self, entities: Sequence[str], body: Mapping[str, Any]) -> SearchResult:
        raise SearchIndexUnavailableError("search is not configured for this deployment (SearchUrl is empty)")
