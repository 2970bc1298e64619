"""GET /search without OpenSearch: the query a request builds (filters, entities, sort and tiebreaker), the
signed cursors (round trip, refusal of tampered and foreign ones), bad parameters as 400s, and the
adapter's translation of OpenSearch's errors. Against osmem: tests/e2e/test_api_search.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from prism.api.app import create_app
from prism.api.cached_reads import CachedReads
from prism.api.wiring import search_index
from prism.domain.cursor import CursorCodec
from prism.domain.errors import InvalidCursorError, InvalidSearchError, SearchIndexUnavailableError
from prism.errors import ConfigurationError
from prism.search.opensearch_index import OpenSearchIndex, UnconfiguredSearchIndex
from prism.search.port import SearchHit, SearchResult
from prism.search.query import search_query
from prism.search.service import SearchService
from prism.settings import SearchReadSettings
from prism_local.openapi import offline_creates
from tests.support.api_events import rest_event
from tests.unit.prism.test_api_errors import NoCache, RaisingStore

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

KEY = b"search-cursor-key-0123456789"


class FakeSearchIndex:
    """Holds hits already in sort order and answers ``search_after`` by position; records every request."""

    def __init__(self, count: int = 0) -> None:
        self.hits = [
            SearchHit({"id": f"p_{n:03d}", "entity": "product"}, [n, f"p_{n:03d}", "product"]) for n in range(count)
        ]
        self.facets = {"category": {"books": count}, "entity": {"product": count}}
        self.requests: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def search(self, entities: Sequence[str], body: Mapping[str, Any]) -> SearchResult:
        self.requests.append((tuple(entities), dict(body)))
        after = body.get("search_after")
        start = 0 if after is None else next(n for n, hit in enumerate(self.hits) if hit.sort == after) + 1
        return SearchResult(self.hits[start : start + int(body["size"])], self.facets)


def filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["query"]["bool"]["filter"])


def answer(index: Any, **params: Any) -> tuple[int, Any]:
    store: Any = RaisingStore(RuntimeError("no store"))  # no store operation is reached by /search
    cache: Any = NoCache()
    app = create_app(store, CachedReads(cache), offline_creates(), SearchService(index, CursorCodec(KEY)))
    path = "/search" + (f"?{urlencode(params)}" if params else "")
    response = app.resolve(rest_event("GET", path), None)  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


# ---------------------------------------------------------------- the query
def test_every_query_filters_out_tombstones_and_sorts_with_the_tiebreaker() -> None:
    body = search_query().body(21)

    assert filters(body) == [{"term": {"deleted": False}}]
    assert body["sort"] == [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}, {"entity": {"order": "asc"}}]
    assert body["size"] == 21
    assert set(body["aggs"]) == {"category", "status", "entity"}
    assert "must" not in body["query"]["bool"]


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("created_at", {"created_at": {"order": "asc"}}),
        ("-created_at", {"created_at": {"order": "desc"}}),
        ("price", {"price": {"order": "asc"}}),
        ("-price", {"price": {"order": "desc"}}),
        ("name", {"name.keyword": {"order": "asc"}}),
    ],
)
def test_each_sort_leads_and_the_tiebreaker_follows(sort: str, first: dict[str, Any]) -> None:
    assert search_query(sort=sort).body(5)["sort"] == [first, {"id": {"order": "asc"}}, {"entity": {"order": "asc"}}]


def test_filters_become_exact_terms_and_ranges() -> None:
    query = search_query(
        category="books", price_min=1.5, price_max=20, created_from="2026-01-01", created_to="2026-01-31T12:00:00+02:00"
    )

    assert query.entities == ("product",)
    assert filters(query.body(5))[1:] == [
        {"term": {"category.keyword": "books"}},
        {"range": {"price": {"gte": "1.5", "lte": "20"}}},
        {"range": {"created_at": {"gte": "2026-01-01T00:00:00.000000Z", "lte": "2026-01-31T10:00:00.000000Z"}}},
    ]


def test_a_date_only_end_covers_its_whole_day() -> None:
    created = filters(search_query(created_to="2026-01-31").body(5))[1]

    assert created == {"range": {"created_at": {"lt": "2026-02-01T00:00:00.000000Z"}}}


def test_the_text_matches_the_words_of_the_text_fields_or_an_exact_id() -> None:
    must = search_query(q="  ada  ").body(5)["query"]["bool"]["must"]

    should = must[0]["bool"]["should"]
    assert should[0]["multi_match"]["query"] == "ada"
    assert set(should[0]["multi_match"]["fields"]) == {"name", "email", "category", "status", "tier"}
    assert should[1] == {"term": {"id": "ada"}}


@pytest.mark.parametrize(
    ("params", "entities"),
    [
        ({}, ("customer", "product", "order")),
        ({"entity": "order"}, ("order",)),
        ({"status": "paid"}, ("order",)),
        ({"tier": "gold"}, ("customer",)),
        ({"price_min": 1}, ("product",)),
        ({"sort": "name"}, ("customer", "product")),
        ({"sort": "-price"}, ("product",)),
    ],
)
def test_filters_and_sorts_narrow_the_entities_to_those_having_their_fields(
    params: dict[str, Any], entities: tuple[str, ...]
) -> None:
    assert search_query(**params).entities == entities


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"sort": "popularity"}, "sort"),
        ({"entity": "invoice"}, "entity"),
        ({"price_min": 10, "price_max": 5}, "price_min"),
        ({"price_min": -1}, "price_min"),
        ({"price_max": float("inf")}, "price_max"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": "2026-02-30"}, "created_to"),
        ({"created_to": "9999-12-31"}, "created_to"),
        ({"created_from": "2026-02-01", "created_to": "2026-01-31"}, "created_from"),
        ({"category": "books", "status": "paid"}, "status"),
        ({"entity": "customer", "sort": "price"}, "sort=price"),
    ],
)
def test_bad_parameters_are_invalid_searches_naming_the_parameter(params: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidSearchError) as raised:
        search_query(**params)

    details = raised.value.details
    assert details.get("parameter") == parameter or parameter in details["parameters"]


def test_a_range_within_one_day_is_valid() -> None:
    query = search_query(created_from="2026-01-31T12:00:00Z", created_to="2026-01-31")

    assert query.created_from is not None


# ---------------------------------------------------------------- pages and cursors
def test_pages_follow_each_other_through_the_cursor_without_gaps_or_repeats() -> None:
    index = FakeSearchIndex(count=7)
    service = SearchService(index, CursorCodec(KEY))
    query = search_query(entity="product", sort="price")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = service.search(query, 3, cursor)
        seen += [item["id"] for item in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [f"p_{n:03d}" for n in range(7)]
    assert pages == 3
    assert [body["size"] for _, body in index.requests] == [4, 4, 4]
    assert index.requests[1][1]["search_after"] == [2, "p_002", "product"]
    assert index.requests[0][0] == ("product",)


def test_a_full_last_page_has_no_next_cursor() -> None:
    page = SearchService(FakeSearchIndex(count=3), CursorCodec(KEY)).search(search_query(), 3)

    assert len(page.items) == 3
    assert page.next_cursor is None
    assert page.facets == {"category": {"books": 3}, "status": {}, "entity": {"product": 3}}


def test_a_cursor_is_refused_with_another_query_or_when_changed() -> None:
    service = SearchService(FakeSearchIndex(count=5), CursorCodec(KEY))
    cursor = service.search(search_query(q="book"), 2).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursorError, match="another listing"):
        service.search(search_query(q="books"), 2, cursor)
    with pytest.raises(InvalidCursorError):
        service.search(search_query(q="book"), 2, cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1])
    assert service.search(search_query(q="book"), 4, cursor).items[0]["id"] == "p_002"


def test_a_listing_cursor_is_refused_by_search() -> None:
    listing_cursor = CursorCodec(KEY).encode("products:category=books", {"pk": "PRODUCT#1"})

    with pytest.raises(InvalidCursorError):
        SearchService(FakeSearchIndex(count=5), CursorCodec(KEY)).search(search_query(), 2, listing_cursor)


# ---------------------------------------------------------------- through the resolver
@pytest.mark.parametrize(
    "params",
    [
        {"sort": "cheapest"},
        {"price_min": "9", "price_max": "1"},
        {"created_from": "31/01/2026"},
        {"limit": "0"},
        {"limit": "101"},
        {"cursor": "not-a-cursor"},
        {"entity": "customer", "category": "books"},
    ],
)
def test_bad_parameters_are_a_400_with_the_error_shape(params: dict[str, str]) -> None:
    status, body = answer(FakeSearchIndex(count=3), **params)

    assert status == 400
    assert body["error"]["code"] in {"invalid_search", "invalid_cursor"}
    assert body["error"]["message"]


def test_a_search_answers_items_cursor_and_facets() -> None:
    status, body = answer(FakeSearchIndex(count=3), q="book", limit="2")

    assert status == 200
    assert [item["id"] for item in body["items"]] == ["p_000", "p_001"]
    assert isinstance(body["next_cursor"], str)
    assert body["facets"]["category"] == {"books": 3}


def test_search_unconfigured_is_a_503() -> None:
    status, body = answer(UnconfiguredSearchIndex())

    assert status == 503
    assert body["error"]["code"] == "search_unavailable"


# ---------------------------------------------------------------- the adapter
class FakeClient:
    def __init__(self, outcome: Exception | dict[str, Any]) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    def search(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_the_adapter_searches_the_prefixed_aliases_and_reads_items_sort_values_and_facets() -> None:
    response = {
        "hits": {
            "hits": [{"_source": {"id": "p1", "item": {"id": "p1", "price": 2.5}}, "sort": [2.5, "p1", "product"]}]
        },
        "aggregations": {"category": {"buckets": [{"key": "books", "doc_count": 4}]}},
    }
    client = FakeClient(response)

    result = OpenSearchIndex(client, "t1-").search(["customer", "product"], {"size": 1})  # type: ignore[arg-type]

    assert client.calls[0]["index"] == "t1-customers,t1-products"
    assert client.calls[0]["ignore_unavailable"] is True
    assert result.hits == [SearchHit({"id": "p1", "price": 2.5}, [2.5, "p1", "product"])]
    assert result.facets == {"category": {"books": 4}}


@pytest.mark.parametrize(
    "error",
    [
        OpenSearchConnectionError("N/A", "Connection refused", Exception("refused")),
        TransportError(503, "unavailable", {}),
        TransportError(429, "too_many_requests", {}),
    ],
)
def test_unreachable_or_overloaded_opensearch_is_search_unavailable(error: Exception) -> None:
    with pytest.raises(SearchIndexUnavailableError):
        OpenSearchIndex(FakeClient(error)).search(["product"], {})  # type: ignore[arg-type]


def test_a_query_opensearch_refuses_is_a_bug_and_propagates() -> None:
    with pytest.raises(TransportError):
        OpenSearchIndex(FakeClient(TransportError(400, "parsing_exception", {}))).search(["product"], {})  # type: ignore[arg-type]


# ---------------------------------------------------------------- settings and wiring
def test_an_empty_search_url_leaves_search_unconfigured_rather_than_failing_the_api() -> None:
    settings = SearchReadSettings.from_env({"SEARCH_URL": "", "AWS_REGION": "eu-west-1"})

    assert isinstance(search_index(settings), UnconfiguredSearchIndex)


def test_signed_search_needs_https() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        SearchReadSettings.from_env(
            {"SEARCH_URL": "http://search.example", "SEARCH_AUTH": "sigv4-es", "AWS_REGION": "eu-west-1"}
        )
