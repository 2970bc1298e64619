"""GET /search over HTTP, through `start-api` and the real api function, against the stack's osmem: documents
land through the real search sink, then filters, sorting, pagination across pages (no gaps, no repeats),
facets, the hits' representation (the entity routes', money as strings) and bad input are checked through
the API."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest

from prism.domain.models import Customer, Order, Product
from tests.support.http import assert_error_shape
from tests.support.relational import change
from tests.support.search import deliver, search_sink

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningApi
    from tests.support.http import ApiClient

pytestmark = pytest.mark.e2e

DAY0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PRODUCTS = 23  # not a multiple of any page size used below


def created(day: int) -> str:
    return (DAY0 + timedelta(days=day)).isoformat().replace("+00:00", "Z")


def product_fields(n: int) -> dict[str, Any]:
    return {
        "name": f"{'Ada' if n % 5 == 0 else 'Plain'} book {n}",
        "description": "",
        "category": "books" if n % 3 else "garden",
        "price": Decimal(n % 7) + Decimal("0.25"),  # repeated prices: the tiebreaker decides their order
        "tags": ["paper"],
        "created_at": created(n),
    }


#: What a hit of each entity holds: its model's fields as GET /{collection}/{id} answers them, and ``entity``.
HIT_FIELDS = {
    model.__name__.lower(): {*model.model_fields, *model.model_computed_fields, "entity"}
    for model in (Customer, Product, Order)
}


@pytest.fixture(scope="module")
def searchable(api: RunningApi) -> RunningApi:
    """The module's stack indexed with products, customers and orders (and one tombstone) by the real sink."""
    changes = [change("product", f"p_{n:02d}", 1, **product_fields(n)) for n in range(PRODUCTS)]
    changes += [
        change("customer", "c_ada", 1, name="Ada Lovelace", tier="gold", created_at=created(1)),
        change("customer", "c_bob", 1, name="Bob Babbage", tier="silver", created_at=created(2)),
        change("order", "o_1", 1, status="PAID", created_at=created(3)),
        change("order", "o_2", 1, status="PENDING", created_at=created(4)),
        change("product", "p_gone", 1, name="Ada deleted", category="books", description="", tags=[]),
        change("product", "p_gone", 2, deleted=True),
    ]
    with search_sink(api.config) as sink:
        assert deliver(sink, changes) == []
    return api


def search(client: ApiClient, **params: Any) -> Any:
    reply = client.get("/search?" + urlencode(params))
    assert reply.status == 200, reply.body
    return reply.body


def every_page(client: ApiClient, **params: Any) -> tuple[list[str], int]:
    """The ids of every page of a search, in order, and how many pages it took."""
    ids: list[str] = []
    pages = 0
    cursor = None
    while True:
        body = search(client, **params, **({"cursor": cursor} if cursor else {}))
        ids += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages


def test_price_sorted_pages_hold_every_live_product_once_in_order(searchable: RunningApi) -> None:
    ids, pages = every_page(searchable.client, entity="product", sort="price", limit=5)

    expected = sorted((product_fields(n)["price"], f"p_{n:02d}") for n in range(PRODUCTS))
    assert ids == [product_id for _, product_id in expected]
    assert pages == 5
    assert "p_gone" not in ids


def test_pages_of_everything_have_no_gaps_or_repeats(searchable: RunningApi) -> None:
    ids, _ = every_page(searchable.client, limit=4)

    assert len(ids) == len(set(ids)) == PRODUCTS + 4


def test_newest_first(searchable: RunningApi) -> None:
    body = search(searchable.client, sort="-created_at", limit=3)

    assert [item["id"] for item in body["items"]] == ["p_22", "p_21", "p_20"]


def test_filters_combine(searchable: RunningApi) -> None:
    body = search(
        searchable.client,
        category="books",
        price_min="2",
        price_max="4.25",
        created_from=created(0)[:10],
        created_to=created(12)[:10],
        sort="name",
        limit=100,
    )

    expected = sorted(
        (str(product_fields(n)["name"]), f"p_{n:02d}")
        for n in range(13)
        if n % 3 and Decimal(2) <= product_fields(n)["price"] <= Decimal("4.25")
    )
    assert [item["id"] for item in body["items"]] == [product_id for _, product_id in expected]
    assert {item["category"] for item in body["items"]} == {"books"}
    assert body["next_cursor"] is None


def test_hits_have_their_entity_models_shape_with_money_as_strings(searchable: RunningApi) -> None:
    items = search(searchable.client, limit=100)["items"]
    orders = [item for item in items if item["entity"] == "order"]

    assert {item["entity"] for item in items} == set(HIT_FIELDS)
    assert all(set(item) == HIT_FIELDS[item["entity"]] for item in items)
    assert {item["id"]: item["price"] for item in items if item["entity"] == "product"} == {
        f"p_{n:02d}": f"{product_fields(n)['price']:.2f}" for n in range(PRODUCTS)
    }
    assert all(isinstance(order["total"], str) for order in orders)
    assert all(isinstance(line["unit_price"], str) for order in orders for line in order["lines"])


def test_text_finds_words_and_exact_ids_but_never_tombstones(searchable: RunningApi) -> None:
    words = search(searchable.client, q="ada", limit=100)
    exact = search(searchable.client, q="o_2")

    assert {item["id"] for item in words["items"]} == {"c_ada"} | {f"p_{n:02d}" for n in range(0, PRODUCTS, 5)}
    assert [item["id"] for item in exact["items"]] == ["o_2"]
    assert "pk" not in exact["items"][0]


def test_facets_count_the_whole_result(searchable: RunningApi) -> None:
    facets = search(searchable.client, limit=1)["facets"]
    products = search(searchable.client, entity="product", limit=1)["facets"]

    garden = len(range(0, PRODUCTS, 3))
    assert facets["entity"] == {"product": PRODUCTS, "customer": 2, "order": 2}
    assert facets["status"] == {"PAID": 1, "PENDING": 1}
    assert products["category"] == {"books": PRODUCTS - garden, "garden": garden}
    assert products["entity"] == {"product": PRODUCTS}


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "popularity"},
        {"price_min": "5", "price_max": "1"},
        {"created_from": "last tuesday"},
        {"limit": "0"},
        {"limit": "500"},
        {"entity": "order", "category": "books"},
        {"cursor": "forged.cursor"},
    ],
)
def test_bad_parameters_are_a_400_with_a_clear_message(searchable: RunningApi, params: dict[str, str]) -> None:
    reply = searchable.client.get("/search?" + urlencode(params))

    assert reply.status == 400, reply.body
    assert_error_shape(reply)


def test_a_cursor_belongs_to_its_query(searchable: RunningApi) -> None:
    cursor = search(searchable.client, entity="product", sort="price", limit=2)["next_cursor"]

    reused = searchable.client.get("/search?" + urlencode({"entity": "product", "sort": "-price", "cursor": cursor}))
    tampered = searchable.client.get(
        "/search?"
        + urlencode({"entity": "product", "sort": "price", "cursor": cursor[:-1] + ("A" if cursor[-1] != "A" else "B")})
    )

    assert (reused.status, reused.error_code) == (400, "invalid_cursor")
    assert (tampered.status, tampered.error_code) == (400, "invalid_cursor")


def searched(client: ApiClient, entity: str, entity_id: str, *, present: bool, wait_s: float = 60.0) -> Any:
    """The hit of ``entity_id`` once the pipeline has indexed it (``present``) or its tombstone (not)."""
    deadline = time.monotonic() + wait_s
    while True:
        items = search(client, entity=entity, q=entity_id)["items"]
        if bool(items) == present or time.monotonic() > deadline:
            assert bool(items) == present, f"{entity} {entity_id} {'never' if present else 'still'} in search"
            return items[0] if items else None
        time.sleep(0.2)


def test_a_hit_is_what_get_by_id_answers_for_the_same_entity(searchable: RunningApi) -> None:
    client = searchable.client
    suffix = uuid.uuid4().hex[:10]
    customer = client.post("/customers", {"email": f"probe-{suffix}@example.com", "name": "Probe Person"})
    product = client.post(
        "/products", {"sku": f"PROBE-{suffix}", "name": "Probe", "category": "probes", "price": "12.50", "tags": ["x"]}
    )
    assert (customer.status, product.status) == (201, 201)
    order = client.post(
        "/orders", {"customer_id": customer.body["id"], "lines": [{"sku": product.body["id"], "qty": 3}]}
    )
    assert order.status == 201
    created_entities = [("customer", customer), ("product", product), ("order", order)]

    try:
        for entity, reply in created_entities:
            hit = searched(client, entity, reply.body["id"], present=True)
            got = client.get(f"/{entity}s/{reply.body['id']}")
            assert got.status == 200
            assert hit == got.body | {"entity": entity}
        assert product.body["price"] == "12.50"
        assert order.body["total"] == "37.50"
    finally:
        # Leave the module's data as the other tests count it: tombstones never match.
        for entity, reply in reversed(created_entities):
            assert client.delete(f"/{entity}s/{reply.body['id']}", if_match="*").status == 204
            searched(client, entity, reply.body["id"], present=False)
