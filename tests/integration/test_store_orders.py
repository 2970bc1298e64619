"""Orders in the real table (moto, provisioned from template.yaml): server-side pricing, the state machine,
a customer's orders newest first, and the Scan-based listing of all orders."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from prism.domain.errors import ConflictError, InvalidTransitionError, NotFoundError, ValidationError
from prism.domain.models import (
    CustomerCreate,
    Order,
    OrderCreate,
    OrderLineInput,
    OrderPatch,
    OrderStatus,
    ProductCreate,
    ProductPatch,
)
from tests.support.entity_store import StoreUnderTest, provisioned_store, unique_email, unique_word

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(moto_endpoint: str) -> Iterator[StoreUnderTest]:
    with provisioned_store(moto_endpoint, "orders") as provisioned:
        yield provisioned


def new_customer_id(table: StoreUnderTest) -> str:
    return table.store.create_customer(CustomerCreate(email=unique_email(), name="Buyer")).id


def new_sku(table: StoreUnderTest, price: str) -> str:
    sku = unique_word("SKU")
    table.store.create_product(ProductCreate(sku=sku, name="Thing", category="things", price=price, stock=10))
    return sku


def place(table: StoreUnderTest, customer_id: str, *lines: tuple[str, int]) -> Order:
    data = OrderCreate(customer_id=customer_id, lines=[OrderLineInput(sku=sku, qty=qty) for sku, qty in lines])
    return table.store.create_order(data)


def test_an_order_is_priced_by_the_server_with_an_exact_total(table: StoreUnderTest) -> None:
    customer_id = new_customer_id(table)
    dime, book = new_sku(table, "0.10"), new_sku(table, "19.99")

    order = place(table, customer_id, (dime, 3), (book, 1))

    assert order.status is OrderStatus.PENDING
    assert [(line.sku, line.qty, line.unit_price) for line in order.lines] == [
        (dime, 3, Decimal("0.10")),
        (book, 1, Decimal("19.99")),
    ]
    assert order.total == Decimal("20.29")
    assert order.model_dump(mode="json")["total"] == "20.29"
    assert table.store.get_order(order.id) == order
    item = table.raw_item(f"ORDER#{order.id}")
    assert item is not None
    assert item["total"] == {"N": "20.29"}


def test_an_order_for_an_unknown_customer_or_sku_is_a_validation_error(table: StoreUnderTest) -> None:
    customer_id = new_customer_id(table)
    known, gone = new_sku(table, "1.00"), new_sku(table, "2.00")
    table.store.delete_product(gone)

    with pytest.raises(ValidationError) as no_customer:
        place(table, "c_00000000000000000000", (known, 1))
    with pytest.raises(ValidationError) as no_sku:
        place(table, customer_id, (known, 1), ("NO-SUCH-SKU", 2), (gone, 1))

    assert (no_customer.value.code, no_customer.value.details) == (
        "unknown_customer",
        {"customer_id": "c_00000000000000000000"},
    )
    assert (no_sku.value.code, no_sku.value.details) == ("unknown_sku", {"skus": ["NO-SUCH-SKU", gone]})


def test_the_state_machine_is_enforced_and_every_move_is_a_newer_version(table: StoreUnderTest) -> None:
    order = place(table, new_customer_id(table), (new_sku(table, "5.00"), 1))

    with pytest.raises(InvalidTransitionError) as skipped_payment:
        table.store.update_order(order.id, OrderPatch(status=OrderStatus.SHIPPED))
    paid = table.store.update_order(order.id, OrderPatch(status=OrderStatus.PAID), expected_version=order.version)
    again = table.store.update_order(order.id, OrderPatch(status=OrderStatus.PAID))
    shipped = table.store.update_order(order.id, OrderPatch(status=OrderStatus.SHIPPED))
    with pytest.raises(InvalidTransitionError) as after_shipping:
        table.store.update_order(order.id, OrderPatch(status=OrderStatus.CANCELLED))

    assert skipped_payment.value.details == {"from": "PENDING", "to": "SHIPPED", "allowed": ["CANCELLED", "PAID"]}
    assert again == paid  # the same status again is a no-op: nothing written
    assert order.version < paid.version < shipped.version
    assert after_shipping.value.details["allowed"] == []
    assert table.store.get_order(order.id) == shipped


def test_lines_change_only_while_pending_and_at_current_prices(table: StoreUnderTest) -> None:
    sku = new_sku(table, "3.00")
    order = place(table, new_customer_id(table), (sku, 1))
    table.store.update_product(sku, ProductPatch(price=Decimal("4.50")))

    relined = table.store.update_order(order.id, OrderPatch(lines=[OrderLineInput(sku=sku, qty=2)]))
    table.store.update_order(order.id, OrderPatch(status=OrderStatus.CANCELLED))
    with pytest.raises(ConflictError) as locked:
        table.store.update_order(order.id, OrderPatch(lines=[OrderLineInput(sku=sku, qty=3)]))

    assert (relined.lines[0].unit_price, relined.total) == (Decimal("4.50"), Decimal("9.00"))
    assert locked.value.code == "order_not_pending"


def test_a_customers_orders_come_newest_first_across_pages_without_gaps_or_repeats(table: StoreUnderTest) -> None:
    customer_id, sku = new_customer_id(table), new_sku(table, "1.00")
    placed = [place(table, customer_id, (sku, qty)) for qty in range(1, 8)]
    place(table, new_customer_id(table), (sku, 1))  # someone else's
    table.store.delete_order(placed[2].id)

    pages, cursor = [], None
    while True:
        page = table.store.list_customer_orders(customer_id, limit=3, cursor=cursor)
        pages.append([order.id for order in page.items])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    newest_first = [order.id for order in reversed(placed) if order.id != placed[2].id]
    assert pages == [newest_first[0:3], newest_first[3:6]]


def test_the_orders_of_an_unknown_or_deleted_customer_are_not_found(table: StoreUnderTest) -> None:
    customer_id = new_customer_id(table)
    table.store.delete_customer(customer_id)

    with pytest.raises(NotFoundError):
        table.store.list_customer_orders(customer_id)
    with pytest.raises(NotFoundError):
        table.store.list_customer_orders("c_00000000000000000000")


def test_a_deleted_order_is_gone_but_its_key_holds_a_tombstone(table: StoreUnderTest) -> None:
    order = place(table, new_customer_id(table), (new_sku(table, "1.00"), 1))

    version = table.store.delete_order(order.id, expected_version=order.version)

    with pytest.raises(NotFoundError):
        table.store.get_order(order.id)
    with pytest.raises(NotFoundError):
        table.store.update_order(order.id, OrderPatch(status=OrderStatus.PAID))
    item = table.raw_item(f"ORDER#{order.id}")
    assert item is not None
    assert (item["deleted"], int(item["version"]["N"])) == ({"BOOL": True}, version)


def test_all_orders_are_listed_across_pages_without_deleted_ones_or_other_entities(moto_endpoint: str) -> None:
    with provisioned_store(moto_endpoint, "order-scan") as fresh:
        customer_id, sku = new_customer_id(fresh), new_sku(fresh, "2.50")
        placed = [place(fresh, customer_id, (sku, 1)).id for _ in range(6)]
        fresh.store.delete_order(placed[0])

        listed, cursor = [], None
        while True:
            page = fresh.store.list_orders(limit=2, cursor=cursor)
            listed.append([order.id for order in page.items])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

    assert sorted(order_id for page in listed for order_id in page) == sorted(placed[1:])
    assert [len(page) for page in listed] == [2, 2, 1]
