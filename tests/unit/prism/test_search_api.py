"""GET /search without OpenSearch: the query a request builds (filters, entities, sort and tiebreaker), the
signed cursors (round trip, refusal of tampered and foreign ones), bad parameters as 400s, hits in the entity
routes' representation, and the adapter's translation of OpenSearch's errors. Against osmem:
tests/e2e/test_api_search.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from jsonschema import Draft202012Validator
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from prism.api.app import create_app
from prism.api.cached_reads import CachedReads
from prism.api.wiring import search_index
from prism.changes import exact_json
from prism.changes.attribute_values import item_to_plain
from prism.domain.cursor import CursorCodec
from prism.domain.errors import (
    InvalidCursorError,
    InvalidSearchError,
    SearchIndexUnavailableError,
    SearchItemUnreadableError,
)
from prism.errors import ConfigurationError
from prism.search.client import ExactJSONSerializer
from prism.search.opensearch_index import OpenSearchIndex, UnconfiguredSearchIndex
from prism.search.port import SearchHit, SearchResult
from prism.search.query import search_query
from prism.search.service import SearchService, entity_from_stored
from prism.settings import SearchReadSettings
from prism.store.items import CustomerItem, EntityItem, OrderItem, ProductItem, StoredLine
from prism.store.mapping import customer_from_item, order_from_item, product_from_item
from prism_local.openapi import offline_creates, render
from tests.support.api_events import rest_event
from tests.unit.prism.test_api_errors import NoCache, RaisingStore

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

KEY = b"search-cursor-key-0123456789"
WRITTEN = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def product_item(sku: str, price: str = "19.99") -> ProductItem:
    return ProductItem(
        pk=f"PRODUCT#{sku}", sk="A", gsi1pk="CATEGORY#books", gsi1sk=f"{sku}", entity="product", id=sku, version=3,
        created_at=WRITTEN, updated_at=WRITTEN, name=f"Book {sku}", description="", category="books",
        price=Decimal(price), stock=7, tags=["paper"],
    )  # fmt: skip


def customer_item(customer_id: str) -> CustomerItem:
    return CustomerItem(
        pk=f"CUSTOMER#{customer_id}", sk="A", entity="customer", id=customer_id, version=1, created_at=WRITTEN,
        updated_at=WRITTEN, email=f"{customer_id}@example.com", name="Ada Lovelace", tier="gold",
    )  # fmt: skip


def order_item(order_id: str) -> OrderItem:
    lines = [StoredLine("BOOK-1", 2, Decimal("19.99")), StoredLine("PEN-2", 1, Decimal("0.50"))]
    return OrderItem(
        pk=f"ORDER#{order_id}", sk="A", entity="order", id=order_id, version=2, created_at=WRITTEN,
        updated_at=WRITTEN, customer_id="c_ada", status="PAID", lines=lines, total=Decimal("40.48"),
    )  # fmt: skip


def stored(item: EntityItem) -> dict[str, Any]:
    """``item`` as a search hit carries it: the stream image of the write (plain JSON, exact numbers), written
    to OpenSearch as exact JSON and parsed back by the client's ExactJSONSerializer (fractions as Decimal)."""
    image = item_to_plain(item.to_dynamodb_dict(), "NewImage")
    return dict(ExactJSONSerializer().loads(exact_json.dumps(image)))


class FakeSearchIndex:
    """Holds hits already in sort order and answers ``search_after`` by position; records every request."""

    def __init__(self, count: int = 0, items: Sequence[EntityItem] = ()) -> None:
        entities = list(items) or [product_item(f"p_{n:03d}") for n in range(count)]
        # Sort values as the exact client reads them: a price is a Decimal, the tiebreakers strings.
        self.hits = [
            SearchHit(stored(item), [Decimal(f"{n}.25"), item.id, item.entity]) for n, item in enumerate(entities)
        ]
        count = len(entities)
        self.facets = {"category": {"books": count}, "entity": {"product": count}}
        self.requests: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def search(self, entities: Sequence[str], body: Mapping[str, Any]) -> SearchResult:
        self.requests.append((tuple(entities), dict(body)))
        after = body.get("search_after")
        start = 0 if after is None else next(n for n, hit in enumerate(self.hits) if hit.sort == after) + 1
        return SearchResult(self.hits[start : start + int(body["size"])], self.facets)


def filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["query"]["bool"]["filter"])


class StoredEntities:
    """A store whose reads map these storage items as the real store does (``prism.store.mapping``)."""

    def __init__(self, *items: EntityItem) -> None:
        self.items = {item.id: item for item in items}

    def get_customer(self, customer_id: str) -> Any:
        return customer_from_item(self.items[customer_id])  # type: ignore[arg-type]

    def get_product(self, sku: str) -> Any:
        return product_from_item(self.items[sku])  # type: ignore[arg-type]

    def get_order(self, order_id: str) -> Any:
        return order_from_item(self.items[order_id])  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return RaisingStore(RuntimeError("not used by these tests")).__getattr__(name)


def get(index: Any, path: str, store: Any = None) -> tuple[int, Any]:
    store = store or RaisingStore(RuntimeError("no store"))  # no store operation is reached by /search
    cache: Any = NoCache()
    app = create_app(store, CachedReads(cache), offline_creates(), SearchService(index, CursorCodec(KEY)))
    response = app.resolve(rest_event("GET", path), None)  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


def answer(index: Any, **params: Any) -> tuple[int, Any]:
    return get(index, "/search" + (f"?{urlencode(params)}" if params else ""))


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
        seen += [item.id for item in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [f"p_{n:03d}" for n in range(7)]
    assert pages == 3
    assert [body["size"] for _, body in index.requests] == [4, 4, 4]
    assert index.requests[1][1]["search_after"] == [Decimal("2.25"), "p_002", "product"]
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
    assert service.search(search_query(q="book"), 4, cursor).items[0].id == "p_002"


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


# ---------------------------------------------------------------- hits: the entity routes' representation
def test_a_hit_is_what_get_by_id_answers_plus_its_entity() -> None:
    items = [customer_item("c_ada"), product_item("BOOK-1"), order_item("o_1")]
    index = FakeSearchIndex(items=items)
    store = StoredEntities(*items)

    status, body = answer(index)

    assert status == 200
    for hit, item in zip(body["items"], items, strict=True):
        collection = f"{item.entity}s"
        got = get(index, f"/{collection}/{item.id}", store)
        assert got[0] == 200
        assert hit == got[1] | {"entity": item.entity}


def test_money_is_strings_with_two_decimals_and_no_storage_attribute_leaks() -> None:
    status, body = answer(FakeSearchIndex(items=[product_item("BOOK-1", "20"), order_item("o_1")]))

    product, order = body["items"]
    assert status == 200
    assert product["price"] == "20.00"
    assert (order["total"], [line["unit_price"] for line in order["lines"]]) == ("40.48", ["19.99", "0.50"])
    assert product["sku"] == product["id"] == "BOOK-1"
    assert not {"pk", "sk", "gsi1pk", "gsi1sk"} & (set(product) | set(order))


def test_a_price_travels_exactly_through_the_search_client() -> None:
    item = stored(product_item("BOOK-1", "1234567890.01"))
    assert item["price"] == Decimal("1234567890.01")

    assert entity_from_stored(item).price == Decimal("1234567890.01")  # type: ignore[union-attr]


def test_a_float_in_a_stored_item_is_refused_not_rounded() -> None:
    item = stored(product_item("BOOK-1", "19.99")) | {"price": 19.99}

    with pytest.raises(SearchItemUnreadableError):
        entity_from_stored(item)


def test_every_hit_conforms_to_the_documented_search_results() -> None:
    components = json.loads(render())["components"]
    validator = Draft202012Validator({"$ref": "#/components/schemas/SearchResults", "components": components})
    _, body = answer(FakeSearchIndex(items=[customer_item("c_ada"), product_item("BOOK-1"), order_item("o_1")]))

    assert not list(validator.iter_errors(body))
    assert list(validator.iter_errors({**body, "items": [{**body["items"][1], "entity": "order"}]}))


def test_the_document_types_items_by_entity_with_the_entity_models() -> None:
    schemas = json.loads(render())["components"]["schemas"]

    items = schemas["SearchResults"]["properties"]["items"]["items"]
    assert items["discriminator"]["propertyName"] == "entity"
    assert items["discriminator"]["mapping"] == {
        entity: f"#/components/schemas/{entity.title()}Hit" for entity in ("customer", "product", "order")
    }
    for entity in ("Customer", "Product", "Order"):
        reference, discriminator = schemas[f"{entity}Hit"]["allOf"]
        assert reference == {"$ref": f"#/components/schemas/{entity}"}
        assert discriminator["properties"]["entity"]["const"] == entity.lower()


@pytest.mark.parametrize(
    "item",
    [
        {"entity": "product", "id": "BOOK-1", "version": 1},  # no data fields
        {**stored(product_item("BOOK-1")), "price": "free"},
        {**stored(customer_item("c_ada")), "tier": "diamond"},
        {**stored(order_item("o_1")), "lines": [{"sku": "BOOK-1"}]},
        {**stored(product_item("BOOK-1")), "created_at": "yesterday"},
        {**stored(product_item("BOOK-1")), "entity": "invoice"},
    ],
)
def test_a_stored_item_that_does_not_map_fails_the_search_loudly(
    item: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    index = FakeSearchIndex(count=2)
    index.hits.insert(1, SearchHit(item, [9, item["id"], item["entity"]]))

    with pytest.raises(SearchItemUnreadableError, match=item["id"]):
        SearchService(index, CursorCodec(KEY)).search(search_query(), 5)
    status, body = answer(index)

    assert (status, body["error"]["code"]) == (500, "search_item_unreadable")
    logged = next(r for r in caplog.records if r.getMessage() == "A search hit does not map to its API model")
    assert (vars(logged)["entity"], vars(logged)["id"]) == (item["entity"], item["id"])
    assert vars(logged)["reason"]


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
