"""What the search indices hold: every document's (entity, id) -> (version, deleted), read back from osmem
through the stack's aliases, page by page with ``search_after``; and the demo's one search through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from opensearchpy import OpenSearch

from prism.search.indices import INDICES
from prism_local.demo.api_workload import ApiClient, ApiTraffic
from prism_local.demo.report import SearchExample

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


#: The demo's one search through the API. Every product the demo creates is named "Product <n>", so the word
#: "product" matches them all: the five dearest come first, and the facets count every demo product.
EXAMPLE_SEARCH: Final = "/search?" + urlencode({"q": "product", "entity": "product", "sort": "-price", "limit": 5})


def example_search(base_url: str) -> SearchExample:
    """GET ``EXAMPLE_SEARCH`` from the API at ``base_url``, as any client would (its traffic is not the workload's)."""
    answer = ApiClient(base_url, ApiTraffic()).call("GET", EXAMPLE_SEARCH)
    body = answer.body if isinstance(answer.body, dict) else {}
    return SearchExample(EXAMPLE_SEARCH, answer.status, tuple(body.get("items", [])), dict(body.get("facets", {})))
