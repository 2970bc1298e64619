"""What the search indices hold: every document's (entity, id) -> (version, deleted), read back from osmem
through the stack's aliases, page by page with ``search_after``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opensearchpy import OpenSearch

from prism.search.indices import INDICES

if TYPE_CHECKING:
    from prism_local.config import LocalConfig

#: Documents per page when reading an index back.
PAGE = 1000


def search_client(config: LocalConfig) -> OpenSearch:
    return OpenSearch(hosts=[config.opensearch_url], timeout=10, max_retries=0)


def read_indices(client: OpenSearch, prefix: str) -> dict[tuple[str, str], tuple[int, bool]]:
    """Every document of every entity index (live and tombstone) as (version, deleted)."""
    documents: dict[tuple[str, str], tuple[int, bool]] = {}
    for index in INDICES.values():
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"match_all": {}},
                "size": PAGE,
                "sort": [{"id": "asc"}],
                "_source": ["id", "version", "deleted"],
            }
            if after is not None:
                body["search_after"] = after
            hits = client.search(index=index.alias(prefix), body=body)["hits"]["hits"]
            for hit in hits:
                source = hit["_source"]
                documents[(index.entity, str(source["id"]))] = (int(source["version"]), source["deleted"] is True)
            if len(hits) < PAGE:
                break
            after = hits[-1]["sort"]
    return documents
