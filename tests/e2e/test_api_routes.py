"""Every route of docs/openapi.json over HTTP, through `start-api`, the real api function and the local stack:
CRUD of each entity, pagination, ETag/If-Match, idempotent retries, concurrent writes, error bodies and the
read-through cache."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import pytest

from prism.store.keys import product_key
from tests.e2e.conftest import OPENAPI
from tests.support.http import assert_error_shape
from tests.support.pipeline import client as aws_client

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from http.client import HTTPConnection

    from tests.e2e.conftest import RunningApi
    from tests.support.http import ApiClient, Reply

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    """A name no other test (or module: the session's Redis is shared by every stack) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_customer(client: ApiClient, **fields: Any) -> dict[str, Any]:
    reply = client.post("/customers", {"email": f"{unique('c')}@example.com", "name": "Ada Lovelace", **fields})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def new_product(client: ApiClient, *, category: str = "books", price: str = "12.50", **fields: Any) -> dict[str, Any]:
    document = {"sku": unique("SKU"), "name": "A book", "category": category, "price": price, "stock": 5, **fields}
    reply = client.post("/products", document)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def new_order(client: ApiClient, customer_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    reply = client.post("/orders", {"customer_id": customer_id, "lines": lines})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def etag(version: int) -> str:
    return f'"{version}"'


def assert_etag_is_the_version(reply: Reply) -> None:
    assert reply.header("ETag") == etag(reply.body["version"])


# ---------------------------------------------------------------- every entity's routes


def test_health_answers_ok(api: RunningApi) -> None:
    reply = api.client.get("/health")

    assert reply.status == 200
    assert reply.body == {"status": "ok"}


def test_a_customer_is_created_read_listed_patched_and_deleted(api: RunningApi) -> None:
    email = f"{unique('ada')}@example.com"

    created = api.client.post("/customers", {"email": email, "name": "Ada", "tier": "gold"})
    customer_id = created.body["id"]
    read = api.client.get(f"/customers/{customer_id}")
    listed = all_items(api.client, "/customers?limit=100")
    patched = api.client.patch(f"/customers/{customer_id}", {"name": "Ada L."}, if_match=created.header("ETag"))
    deleted = api.client.delete(f"/customers/{customer_id}", if_match=patched.header("ETag"))
    after = api.client.get(f"/customers/{customer_id}")

    assert created.status == 201
    assert created.header("Location") == f"/customers/{customer_id}"
    assert created.body["email"] == email
    assert created.body["tier"] == "gold"
    assert_etag_is_the_version(created)
    assert read.status == 200
    assert read.body == created.body
    assert_etag_is_the_version(read)
    assert customer_id in [item["id"] for item in listed]
    assert patched.status == 200
    assert patched.body["name"] == "Ada L."
    assert patched.body["version"] > created.body["version"]
    assert patched.body["updated_at"] >= created.body["updated_at"]
    assert_etag_is_the_version(patched)
    assert deleted.status == 204
    assert deleted.raw == b""
    assert after.status == 404
    assert after.error_code == "not_found"


def test_a_product_is_keyed_by_the_clients_sku_and_listed_by_category(api: RunningApi) -> None:
    category, other = unique("cat"), unique("cat")
    sku = unique("BOOK")

    created = api.client.post(
        "/products",
        {"sku": sku, "name": "Notes", "category": category, "price": "19.90", "stock": 3, "tags": ["maths"]},
    )
    same_category = [new_product(api.client, category=category)["id"] for _ in range(2)]
    new_product(api.client, category=other)
    listed = all_items(api.client, f"/products?category={category}&limit=2")
    read = api.client.get(f"/products/{sku}")
    patched = api.client.patch(f"/products/{sku}", {"price": "17.00", "stock": 2}, if_match=read.header("ETag"))
    deleted = api.client.delete(f"/products/{sku}", if_match=patched.header("ETag"))
    relisted = all_items(api.client, f"/products?category={category}")

    assert created.status == 201
    assert created.body["id"] == created.body["sku"] == sku
    assert created.header("Location") == f"/products/{sku}"
    assert Decimal(created.body["price"]) == Decimal("19.90")
    assert_etag_is_the_version(created)
    assert sorted(item["id"] for item in listed) == sorted([sku, *same_category])
    assert {item["category"] for item in listed} == {category}
    assert read.body == created.body
    assert patched.status == 200
    assert Decimal(patched.body["price"]) == Decimal("17.00")
    assert patched.body["stock"] == 2
    assert_etag_is_the_version(patched)
    assert deleted.status == 204
    assert sorted(item["id"] for item in relisted) == sorted(same_category)


def test_an_orders_total_is_computed_by_the_server(api: RunningApi) -> None:
    customer = new_customer(api.client)
    book, pen = new_product(api.client, price="12.50"), new_product(api.client, price="3.10")
    lines = [{"sku": book["sku"], "qty": 2}, {"sku": pen["sku"], "qty": 3}]

    created = api.client.post("/orders", {"customer_id": customer["id"], "lines": lines})
    with_a_total = api.client.post("/orders", {"customer_id": customer["id"], "lines": lines, "total": "0.01"})
    read = api.client.get(f"/orders/{created.body['id']}")
    listed = all_items(api.client, "/orders?limit=100")

    assert created.status == 201
    assert created.header("Location") == f"/orders/{created.body['id']}"
    assert created.body["status"] == "PENDING"
    assert created.body["customer_id"] == customer["id"]
    assert [(line["sku"], line["qty"], Decimal(line["unit_price"])) for line in created.body["lines"]] == [
        (book["sku"], 2, Decimal("12.50")),
        (pen["sku"], 3, Decimal("3.10")),
    ]
    assert Decimal(created.body["total"]) == Decimal("34.30")
    assert_etag_is_the_version(created)
    assert with_a_total.status == 422, "the client cannot set the total"
    assert read.body == created.body
    assert created.body["id"] in [item["id"] for item in listed]


def test_an_order_moves_pending_paid_shipped_and_never_back(api: RunningApi) -> None:
    customer = new_customer(api.client)
    order = new_order(api.client, customer["id"], [{"sku": new_product(api.client)["sku"], "qty": 1}])
    path = f"/orders/{order['id']}"

    paid = api.client.patch(path, {"status": "PAID"}, if_match=etag(order["version"]))
    shipped = api.client.patch(path, {"status": "SHIPPED"}, if_match=paid.header("ETag"))
    back = api.client.patch(path, {"status": "PAID"}, if_match=shipped.header("ETag"))
    relined = api.client.patch(path, {"lines": [{"sku": order["lines"][0]["sku"], "qty": 2}]}, if_match="*")

    assert (paid.status, paid.body["status"]) == (200, "PAID")
    assert (shipped.status, shipped.body["status"]) == (200, "SHIPPED")
    assert paid.body["version"] < shipped.body["version"]
    assert back.status == 409
    assert back.error_code == "invalid_transition"
    assert back.body["error"]["details"]["from"] == "SHIPPED"
    assert relined.status == 409
    assert relined.error_code == "order_not_pending"
    assert api.client.get(path).body["status"] == "SHIPPED"


def test_an_order_is_deleted_with_its_etag(api: RunningApi) -> None:
    customer = new_customer(api.client)
    order = new_order(api.client, customer["id"], [{"sku": new_product(api.client)["sku"], "qty": 1}])

    deleted = api.client.delete(f"/orders/{order['id']}", if_match=etag(order["version"]))

    assert deleted.status == 204
    assert api.client.get(f"/orders/{order['id']}").status == 404
    assert api.client.get(f"/customers/{customer['id']}/orders").body["items"] == []


# ---------------------------------------------------------------- pagination


def all_items(client: ApiClient, first_page: str) -> list[dict[str, Any]]:
    """Every item of a listing, following next_cursor page by page."""
    items: list[dict[str, Any]] = []
    separator = "&" if "?" in first_page else "?"
    reply = client.get(first_page)
    while True:
        assert reply.status == 200, reply.body
        items.extend(reply.body["items"])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return items
        reply = client.get(f"{first_page}{separator}cursor={quote(cursor)}")


def test_a_customers_orders_come_newest_first_across_pages(api: RunningApi) -> None:
    customer, other = new_customer(api.client), new_customer(api.client)
    sku = new_product(api.client)["sku"]
    placed = [new_order(api.client, customer["id"], [{"sku": sku, "qty": qty}])["id"] for qty in range(1, 6)]
    new_order(api.client, other["id"], [{"sku": sku, "qty": 1}])

    pages: list[list[str]] = []
    reply = api.client.get(f"/customers/{customer['id']}/orders?limit=2")
    while True:
        pages.append([item["id"] for item in reply.body["items"]])
        if reply.body["next_cursor"] is None:
            break
        reply = api.client.get(f"/customers/{customer['id']}/orders?limit=2&cursor={quote(reply.body['next_cursor'])}")

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [order_id for page in pages for order_id in page] == placed[::-1], "newest first, no gap, no repeat"


def test_a_tampered_or_foreign_cursor_is_a_400(api: RunningApi) -> None:
    customer = new_customer(api.client)
    sku = new_product(api.client)["sku"]
    for _ in range(3):
        new_order(api.client, customer["id"], [{"sku": sku, "qty": 1}])
    path = f"/customers/{customer['id']}/orders"
    cursor = api.client.get(f"{path}?limit=1").body["next_cursor"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    foreign = api.client.get("/orders?limit=1").body["next_cursor"]

    replies = [api.client.get(f"{path}?limit=1&cursor={quote(value)}") for value in (tampered, foreign, "not-a-cursor")]

    assert api.client.get(f"{path}?limit=1&cursor={quote(cursor)}").status == 200
    for reply in replies:
        assert reply.status == 400, reply.body
        assert reply.error_code == "invalid_cursor"


# ---------------------------------------------------------------- ETag and If-Match


def test_writes_need_a_matching_if_match(api: RunningApi) -> None:
    customer = new_customer(api.client)
    path = f"/customers/{customer['id']}"

    without = api.client.patch(path, {"name": "B"})
    stale = api.client.patch(path, {"name": "B"}, if_match=etag(customer["version"] - 1))
    not_an_etag = api.client.patch(path, {"name": "B"}, if_match="yesterday's")
    delete_without = api.client.delete(path)
    current = api.client.patch(path, {"name": "B"}, if_match=etag(customer["version"]))
    delete_stale = api.client.delete(path, if_match=etag(customer["version"]))
    anything = api.client.patch(path, {"name": "C"}, if_match="*")
    delete_anything = api.client.delete(path, if_match="*")

    assert (without.status, without.error_code) == (428, "precondition_required")
    assert (stale.status, stale.error_code) == (412, "precondition_failed")
    assert not_an_etag.status == 412
    assert delete_without.status == 428
    assert current.status == 200
    assert (delete_stale.status, delete_stale.error_code) == (412, "precondition_failed")
    assert anything.status == 200
    assert anything.body["version"] > current.body["version"]
    assert delete_anything.status == 204


def test_of_two_concurrent_patches_from_one_version_exactly_one_wins(api: RunningApi) -> None:
    customer = new_customer(api.client)
    path, if_match = f"/customers/{customer['id']}", {"If-Match": etag(customer["version"])}
    connections = [api.client.connect() for _ in range(2)]
    start = threading.Barrier(2)

    def rename(name: str, connection: HTTPConnection) -> Reply:
        start.wait()
        return api.client.request("PATCH", path, {"name": name}, if_match, connection=connection)

    with ThreadPoolExecutor(2) as pool, closing_all(connections):
        replies = list(pool.map(rename, ["Left", "Right"], connections))

    assert sorted(reply.status for reply in replies) == [200, 412]
    winner = next(reply for reply in replies if reply.status == 200)
    loser = next(reply for reply in replies if reply.status == 412)
    assert loser.error_code == "precondition_failed"
    assert api.client.get(f"/customers/{customer['id']}").body == winner.body


@contextlib.contextmanager
def closing_all(connections: list[HTTPConnection]) -> Iterator[None]:
    try:
        yield
    finally:
        for connection in connections:
            connection.close()


# ---------------------------------------------------------------- idempotent and concurrent creates


def test_a_retried_create_answers_the_first_response_and_creates_once(api: RunningApi) -> None:
    customer = new_customer(api.client)
    document = {"customer_id": customer["id"], "lines": [{"sku": new_product(api.client)["sku"], "qty": 2}]}
    key = {"Idempotency-Key": unique("order-retry")}

    first = api.client.post("/orders", document, key)
    retried = api.client.post("/orders", document, key)
    orders = all_items(api.client, f"/customers/{customer['id']}/orders")

    assert first.status == retried.status == 201
    assert retried.body == first.body
    assert retried.header("ETag") == first.header("ETag")
    assert retried.header("Location") == first.header("Location")
    assert [order["id"] for order in orders] == [first.body["id"]]


def test_an_idempotency_key_reused_with_another_body_is_a_422(api: RunningApi) -> None:
    key = {"Idempotency-Key": unique("customer-key")}
    api.client.post("/customers", {"email": f"{unique('k')}@example.com", "name": "First"}, key)

    reused = api.client.post("/customers", {"email": f"{unique('k')}@example.com", "name": "Second"}, key)

    assert reused.status == 422
    assert reused.error_code == "idempotency_key_reused"


def test_of_twenty_concurrent_creates_with_one_email_exactly_one_wins(api: RunningApi) -> None:
    email = f"{unique('race')}@example.com"
    connections = [api.client.connect() for _ in range(20)]
    start = threading.Barrier(20)

    def sign_up(index: int, connection: HTTPConnection) -> Reply:
        start.wait()
        return api.client.request(
            "POST", "/customers", {"email": email, "name": f"Racer {index}"}, connection=connection
        )

    with ThreadPoolExecutor(20) as pool, closing_all(connections):
        replies = list(pool.map(sign_up, range(20), connections))

    statuses = sorted(reply.status for reply in replies)
    assert statuses == [201] + [409] * 19, statuses
    assert {reply.error_code for reply in replies if reply.status == 409} == {"email_taken"}
    winner = next(reply for reply in replies if reply.status == 201)
    owners = [item for item in all_items(api.client, "/customers?limit=100") if item["email"] == email]
    assert owners == [winner.body]


def test_a_re_created_product_is_newer_than_the_deleted_one(api: RunningApi) -> None:
    product = new_product(api.client)
    sku = product["sku"]

    deleted = api.client.delete(f"/products/{sku}", if_match=etag(product["version"]))
    tombstone = table_item(api, product_key(sku).pk, product_key(sku).sk)
    gone = api.client.get(f"/products/{sku}")
    again = api.client.post("/products", {"sku": sku, "name": "Again", "category": "books", "price": "1.00"})

    assert deleted.status == 204
    assert gone.status == 404
    assert tombstone["deleted"] == {"BOOL": True}
    assert int(tombstone["version"]["N"]) > product["version"]
    assert again.status == 201
    assert again.body["version"] > int(tombstone["version"]["N"])
    assert api.client.get(f"/products/{sku}").body == again.body


def table_item(api: RunningApi, pk: str, sk: str) -> dict[str, Any]:
    dynamodb: Any = aws_client(api.config, "dynamodb")
    item = dynamodb.get_item(
        TableName=api.stack.ref("Table"), Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return dict(item["Item"])


# ---------------------------------------------------------------- errors


def _bad_request(api: RunningApi) -> Reply:
    return api.client.request("POST", "/customers", data=b'{"email": ', headers={"Content-Type": "application/json"})


def _not_found(api: RunningApi) -> Reply:
    return api.client.get(f"/products/{unique('NOPE')}")


def _conflict(api: RunningApi) -> Reply:
    product = new_product(api.client)
    return api.client.post("/products", {k: product[k] for k in ("sku", "name", "category", "price")})


def _precondition_failed(api: RunningApi) -> Reply:
    customer = new_customer(api.client)
    return api.client.patch(f"/customers/{customer['id']}", {"name": "X"}, if_match=etag(customer["version"] + 1))


def _too_large(api: RunningApi) -> Reply:
    return api.client.post("/customers", {"email": "big@example.com", "name": "x" * (64 * 1024)})


def _unsupported_media_type(api: RunningApi) -> Reply:
    return api.client.request("POST", "/customers", data=b"email=a@example.com", headers={"Content-Type": "text/plain"})


def _invalid(api: RunningApi) -> Reply:
    return api.client.post("/customers", {"email": "not an email", "name": "X"})


def _precondition_required(api: RunningApi) -> Reply:
    return api.client.delete(f"/customers/{new_customer(api.client)['id']}")


ERRORS: dict[int, tuple[Callable[[RunningApi], Reply], str]] = {
    400: (_bad_request, "malformed_body"),
    404: (_not_found, "not_found"),
    409: (_conflict, "sku_taken"),
    412: (_precondition_failed, "precondition_failed"),
    413: (_too_large, "payload_too_large"),
    415: (_unsupported_media_type, "unsupported_media_type"),
    422: (_invalid, "invalid_request"),
    428: (_precondition_required, "precondition_required"),
}


@pytest.mark.parametrize("status", sorted(ERRORS))
def test_every_error_is_a_json_error_body(api: RunningApi, status: int) -> None:
    make_error, code = ERRORS[status]

    reply = make_error(api)

    assert reply.status == status, reply.body
    assert_error_shape(reply)
    assert reply.error_code == code


def test_a_body_that_is_not_utf8_is_a_400_not_a_500(api: RunningApi) -> None:
    reply = api.client.request(
        "POST", "/customers", data=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}
    )

    assert reply.status == 400
    assert reply.error_code == "malformed_body"


def test_a_schema_error_names_the_field(api: RunningApi) -> None:
    reply = api.client.post("/customers", {"email": "not an email", "name": "X", "extra": 1})

    assert reply.status == 422
    locations = {problem["location"] for problem in reply.body["error"]["details"]}
    assert any(location.endswith("email") for location in locations), locations
    assert any(location.endswith("extra") for location in locations), locations


# ---------------------------------------------------------------- the read-through cache


def test_reads_fill_the_cache_hit_it_and_see_a_patch_at_once(api: RunningApi) -> None:
    product = new_product(api.client)
    path = f"/products/{product['sku']}"

    first, second = api.client.get(path), api.client.get(path)
    patched = api.client.patch(path, {"stock": 99}, if_match=second.header("ETag"))
    after_patch, then = api.client.get(path), api.client.get(path)

    assert first.header("X-Cache") in {"loaded", "shared"}
    assert second.header("X-Cache") == "hit"
    assert first.body == second.body == product
    assert_etag_is_the_version(second)
    assert after_patch.header("X-Cache") in {"loaded", "shared"}
    assert after_patch.body == patched.body
    assert after_patch.body["stock"] == 99
    assert after_patch.body["version"] > product["version"]
    assert then.header("X-Cache") == "hit"
    assert then.header("ETag") == patched.header("ETag")


def test_a_missing_entity_is_a_404_from_the_cache_too(api: RunningApi) -> None:
    path = f"/customers/c_{uuid.uuid4().hex[:20]}"

    replies = [api.client.get(path) for _ in range(2)]

    assert [reply.status for reply in replies] == [404, 404]
    for reply in replies:
        assert reply.error_code == "not_found"


# ---------------------------------------------------------------- search
def test_a_created_product_becomes_searchable_through_the_pipeline(api: RunningApi) -> None:
    """The write goes through the stream, the fanout and the search sink into osmem, then GET /search finds
    it (the pipeline is asynchronous: polled). Filters, paging and errors: tests/e2e/test_api_search.py."""
    word = unique("findme")
    product = new_product(api.client, category="searchable", name=f"Lamp {word}", price="19.90")
    path = "/search?" + urlencode({"q": word, "entity": "product"})

    deadline = time.monotonic() + 60.0
    reply = api.client.get(path)
    while reply.status == 200 and not reply.body["items"] and time.monotonic() < deadline:
        time.sleep(0.2)
        reply = api.client.get(path)

    assert reply.status == 200, reply.body
    assert [item["id"] for item in reply.body["items"]] == [product["id"]]
    assert reply.body["facets"]["category"] == {"searchable": 1}
    assert reply.body["next_cursor"] is None
    refused = api.client.get("/search?sort=cheapest")
    assert (refused.status, refused.error_code) == (400, "invalid_search")


# ---------------------------------------------------------------- coverage of the document


def test_every_documented_operation_was_exercised(api: RunningApi, request: pytest.FixtureRequest) -> None:
    """Runs last: checks the requests this module sent cover every operation of docs/openapi.json."""
    module_tests = {name for name in vars(request.module) if name.startswith("test_")}
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    if not module_tests <= selected:
        pytest.skip("only meaningful when the whole module runs")
    document = json.loads(OPENAPI.read_text())
    operations = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}

    def exercised(method: str, template: str) -> bool:
        pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
        return any(sent_method == method and pattern.match(path) for sent_method, path in api.client.sent)

    assert sorted(op for op in operations if not exercised(*op)) == []
