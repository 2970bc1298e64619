"""The store's pure parts: keys, item layout, mapping to API models, page collection, settings, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from prism.changes.stream_decoder import decode_stream_record
from prism.domain.ids import is_customer_id, is_order_id, is_sku, new_customer_id, new_order_id
from prism.domain.models import CustomerTier, OrderStatus
from prism.store.items import StoredLine, TimestampAttribute, bind_items
from prism.store.keys import (
    category_index_key,
    customer_key,
    customer_orders_index_key,
    customers_index_key,
    email_guard_key,
    order_key,
    product_key,
    sortable_timestamp,
)
from prism.store.mapping import customer_from_item, order_from_item, product_from_item, tombstone_for
from prism.store.table_access import collect_page
from tests.support.records import stream_record

NOW = datetime(2025, 1, 31, 9, 5, 0, 123, tzinfo=UTC)
ITEMS = bind_items("prism-unit", region="us-east-1", host="http://127.0.0.1:9")


def test_keys_follow_the_documented_layout() -> None:
    assert (customer_key("c_1").pk, customer_key("c_1").sk) == ("CUSTOMER#c_1", "A")
    assert product_key("BOOK-1").pk == "PRODUCT#BOOK-1"
    assert order_key("o_1").pk == "ORDER#o_1"
    assert (email_guard_key("Ada@Example.COM").pk, email_guard_key("x@y.z").sk) == ("EMAIL#ada@example.com", "GUARD")
    assert customers_index_key(NOW, "c_1").gsi1pk == "CUSTOMERS"
    assert customers_index_key(NOW, "c_1").gsi1sk == "2025-01-31T09:05:00.000123Z#c_1"
    assert (category_index_key("books", "B-1").gsi1pk, category_index_key("books", "B-1").gsi1sk) == (
        "CATEGORY#books",
        "B-1",
    )
    assert customer_orders_index_key("c_1", NOW, "o_9").gsi1pk == "CUSTOMER#c_1#ORDERS"


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_timestamps_sort_as_text_in_time_order_and_read_back_exactly(first: datetime, second: datetime) -> None:
    attribute = TimestampAttribute()

    assert (sortable_timestamp(first) < sortable_timestamp(second)) == (first < second)
    assert attribute.deserialize(attribute.serialize(first)) == first


def test_server_ids_sort_by_creation_time_and_are_recognised() -> None:
    earlier, later = new_customer_id(now_ms=1_000), new_customer_id(now_ms=1_001)

    assert earlier < later
    assert is_customer_id(earlier)
    assert is_order_id(new_order_id())
    assert not is_customer_id(new_order_id())
    assert is_sku("BOOK_1-a")
    assert not is_sku("no/slash")
    assert not is_sku("x" * 65)


def product_item(**overrides: Any) -> Any:
    values = {
        "pk": "PRODUCT#B-1", "sk": "A", "entity": "product", "id": "B-1", "version": 7, "created_at": NOW,
        "updated_at": NOW, "name": "Dune", "description": "", "category": "books", "price": Decimal("19.90"),
        "stock": 3, "tags": ["sf"], "gsi1pk": "CATEGORY#books", "gsi1sk": "B-1",
    }  # fmt: skip
    return ITEMS.product(**{**values, **overrides})


def test_a_product_item_stores_money_and_integers_as_exact_numbers() -> None:
    serialized = product_item().serialize()

    assert serialized["price"] == {"N": "19.90"}
    assert serialized["version"] == {"N": "7"}
    assert serialized["tags"] == {"L": [{"S": "sf"}]}
    assert serialized["created_at"] == {"S": "2025-01-31T09:05:00.000123Z"}
    assert "deleted" not in serialized
    assert "expires_at" not in serialized


def test_items_map_to_api_models_and_back_without_loss() -> None:
    item = ITEMS.product.from_raw_data(product_item(price=Decimal("19.9")).serialize())

    product = product_from_item(item)

    assert (product.id, product.sku, product.price, product.tags, product.created_at) == (
        "B-1", "B-1", Decimal("19.90"), ["sf"], NOW,
    )  # fmt: skip
    customer = customer_from_item(
        ITEMS.customer(id="c_1", email="a@b.co", name="A", tier="gold", created_at=NOW, updated_at=NOW, version=3)
    )
    assert customer.tier is CustomerTier.GOLD
    order = order_from_item(
        ITEMS.order.from_raw_data(
            ITEMS.order(
                pk="ORDER#o_1", sk="A", entity="order", id="o_1", version=1, created_at=NOW, updated_at=NOW,
                customer_id="c_1", status="PAID", lines=[StoredLine("B-1", 3, Decimal("0.1"))], total=Decimal("0.3"),
            ).serialize()
        )
    )  # fmt: skip
    assert (order.status, order.lines[0].unit_price, order.total) == (
        OrderStatus.PAID,
        Decimal("0.10"),
        Decimal("0.30"),
    )


def test_a_tombstone_is_read_by_the_change_pipeline_as_a_delete_at_its_newer_version() -> None:
    live = product_item()
    tombstone = tombstone_for(ITEMS, live, version=8, now=NOW)
    new_image = {name: value for name, value in tombstone.serialize().items()}

    change = decode_stream_record(stream_record("MODIFY", raw_new=new_image, old={"pk": "PRODUCT#B-1", "sk": "A"}))

    assert set(new_image) == {
        "pk",
        "sk",
        "entity",
        "id",
        "version",
        "created_at",
        "updated_at",
        "deleted",
        "expires_at",
    }
    assert int(new_image["expires_at"]["N"]) == int((NOW + timedelta(days=30)).timestamp())
    assert (change.op.value, change.version, change.id) == ("delete", 8, "B-1")  # type: ignore[union-attr]


class FakeResults:
    """Stands in for pynamodb's ResultIterator: raw pages as DynamoDB returns them, counting requests."""

    def __init__(self, pages: list[list[str]], *, last_key_of_full_pages: bool = True) -> None:
        self._pages = pages
        self.requests = 0
        self._last = last_key_of_full_pages

    @property
    def page_iter(self) -> Any:
        for number, skus in enumerate(self._pages):
            self.requests += 1
            page: dict[str, Any] = {"Items": [product_item(pk=f"PRODUCT#{s}", id=s).serialize() for s in skus]}
            if number < len(self._pages) - 1:
                page["LastEvaluatedKey"] = {"pk": {"S": f"PRODUCT#{skus[-1] if skus else 'scanned'}"}, "sk": {"S": "A"}}
            yield page


def collect(results: FakeResults, limit: int, max_requests: int = 10) -> tuple[list[str], dict[str, str] | None]:
    items, position = collect_page(
        results,  # type: ignore[arg-type]
        ITEMS.product,
        limit=limit,
        key_attributes=("pk", "sk"),
        max_requests=max_requests,
    )
    return [item.id for item in items], position


def test_a_page_stops_after_limit_and_resumes_after_its_last_item() -> None:
    assert collect(FakeResults([["a", "b", "c"]]), limit=2) == (["a", "b"], {"pk": "PRODUCT#b", "sk": "A"})


def test_a_page_that_exactly_empties_the_listing_has_no_cursor() -> None:
    assert collect(FakeResults([["a", "b"], []]), limit=2) == (["a", "b"], None)


def test_a_filtered_scan_gathers_items_over_several_requests() -> None:
    results = FakeResults([["a"], [], ["b"], ["c", "d"]])

    assert collect(results, limit=3) == (["a", "b", "c"], {"pk": "PRODUCT#c", "sk": "A"})
    assert results.requests == 4


def test_a_scan_that_reaches_its_request_budget_returns_a_short_page_with_a_cursor() -> None:
    results = FakeResults([["a"], [], [], ["b"]])

    assert collect(results, limit=5, max_requests=2) == (["a"], {"pk": "PRODUCT#scanned", "sk": "A"})
    assert results.requests == 2
