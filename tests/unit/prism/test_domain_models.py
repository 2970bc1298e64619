"""The API models: strict inputs with messages that name the problem, exact money, server-computed totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from prism.domain.models import (
    MAX_ORDER_LINES,
    Customer,
    CustomerCreate,
    CustomerPatch,
    CustomerTier,
    Order,
    OrderCreate,
    OrderLine,
    OrderPatch,
    OrderStatus,
    Page,
    Product,
    ProductCreate,
    ProductPatch,
)

NOW = datetime(2025, 1, 31, 9, 5, tzinfo=UTC)
PRODUCT = {"sku": "BOOK-1", "name": "Dune", "category": "books", "price": "19.99"}


def problems(model: type[Any], data: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return {error["loc"]: error["msg"] for error in raised.value.errors()}


def order(*lines: tuple[str, int, str]) -> Order:
    return Order(
        id="o_0000000000000000abcd",
        customer_id="c_0000000000000000abcd",
        status=OrderStatus.PENDING,
        lines=[OrderLine(sku=sku, qty=qty, unit_price=Decimal(price)) for sku, qty, price in lines],
        created_at=NOW,
        updated_at=NOW,
        version=1,
    )


def test_a_customer_needs_a_plausible_email_and_a_name() -> None:
    assert CustomerCreate(email="ada@example.com", name="Ada").tier is CustomerTier.STANDARD

    found = problems(CustomerCreate, {"email": "ada@", "name": "   ", "tier": "diamond", "admin": True})

    assert "must be an email address" in found[("email",)]
    assert "must not be blank" in found[("name",)]
    assert ("tier",) in found
    assert found[("admin",)] == "Extra inputs are not permitted"


@pytest.mark.parametrize("email", ["plain", "a@b", "a b@example.com", "a@-example.com", "@example.com", "a@ex..com"])
def test_implausible_emails_are_refused(email: str) -> None:
    assert ("email",) in problems(CustomerCreate, {"email": email, "name": "X"})


def test_strings_and_lists_are_bounded() -> None:
    found = problems(
        ProductCreate,
        {**PRODUCT, "name": "n" * 201, "description": "d" * 2001, "tags": [f"t{n}" for n in range(21)]},
    )

    assert set(found) == {("name",), ("description",), ("tags",)}


def test_money_stays_exact_and_serializes_as_a_string_with_two_decimals() -> None:
    product = ProductCreate.model_validate({**PRODUCT, "price": 0.1})

    assert product.price == Decimal("0.10")
    assert ProductCreate.model_validate({**PRODUCT, "price": "20"}).model_dump(mode="json")["price"] == "20.00"
    assert ProductCreate.model_validate_json('{"sku":"A","name":"n","category":"c","price":19.99}').price == Decimal(
        "19.99"
    )


@pytest.mark.parametrize("price", [0, "0.00", -1, "19.999", "NaN", "Infinity", True, "12345678901.00", "abc"])
def test_prices_must_be_positive_with_at_most_two_decimals(price: object) -> None:
    assert ("price",) in problems(ProductCreate, {**PRODUCT, "price": price})


def test_skus_categories_and_stock_follow_their_rules() -> None:
    found = problems(ProductCreate, {**PRODUCT, "sku": "has space", "category": "Books!", "stock": -1})

    assert set(found) == {("sku",), ("category",), ("stock",)}
    assert ("stock",) in problems(ProductCreate, {**PRODUCT, "stock": "5"})  # a string is not a number here


def test_an_order_has_one_to_a_hundred_lines_of_distinct_skus_with_positive_quantities() -> None:
    customer = "c_0000000000000000abcd"

    assert ("lines",) in problems(OrderCreate, {"customer_id": customer, "lines": []})
    too_many = [{"sku": f"S{n}", "qty": 1} for n in range(MAX_ORDER_LINES + 1)]
    assert ("lines",) in problems(OrderCreate, {"customer_id": customer, "lines": too_many})
    repeated = problems(
        OrderCreate, {"customer_id": customer, "lines": [{"sku": "A", "qty": 1}, {"sku": "A", "qty": 2}]}
    )
    assert "repeated: A" in repeated[("lines",)]
    assert ("lines", 0, "qty") in problems(OrderCreate, {"customer_id": customer, "lines": [{"sku": "A", "qty": 0}]})
    unit_price = problems(OrderCreate, {"customer_id": customer, "lines": [{"sku": "A", "qty": 1, "unit_price": 1}]})
    assert unit_price[("lines", 0, "unit_price")] == "Extra inputs are not permitted"
    assert ("customer_id",) in problems(OrderCreate, {"customer_id": "bob", "lines": [{"sku": "A", "qty": 1}]})


def test_the_total_is_computed_exactly_from_the_lines() -> None:
    placed = order(("A", 3, "0.10"), ("B", 1, "19.99"), ("C", 7, "0.01"))

    assert placed.total == Decimal("20.36")
    assert placed.model_dump(mode="json")["total"] == "20.36"
    assert "total" not in OrderCreate.model_fields


@given(
    st.lists(
        st.tuples(st.integers(1, 10_000), st.decimals(min_value="0.01", max_value="99999999.99", places=2)),
        min_size=1,
        max_size=100,
    )
)
def test_totals_never_drift_from_the_exact_sum(lines: list[tuple[int, Decimal]]) -> None:
    placed = order(*((f"S{n}", qty, str(price)) for n, (qty, price) in enumerate(lines)))

    assert placed.total == sum(qty * price for qty, price in lines)
    assert placed.model_dump(mode="json")["total"] == f"{placed.total:.2f}"


def test_a_patch_must_set_something_and_may_not_null_a_field() -> None:
    assert "at least one of: email, name, tier" in problems(CustomerPatch, {})[()]
    assert "name cannot be null" in problems(CustomerPatch, {"name": None})[()]
    assert ProductPatch(price="2.5").model_fields_set == {"price"}
    assert OrderPatch.model_validate({"status": "PAID"}).status is OrderStatus.PAID
    assert ("status",) in problems(OrderPatch, {"status": "LOST"})


def test_outputs_serialize_timestamps_in_utc_and_versions_as_integers() -> None:
    customer = Customer(
        id="c_1", email="a@example.com", name="A", tier="gold", created_at=NOW, updated_at=NOW, version=17
    )

    document = customer.model_dump(mode="json")

    assert document["created_at"] == "2025-01-31T09:05:00Z"
    assert document["version"] == 17


def test_a_page_serializes_its_items_by_their_own_model() -> None:
    product = Product(
        id="A", sku="A", name="n", description="", category="c", price=Decimal("1.5"), stock=0, tags=[],
        created_at=NOW, updated_at=NOW, version=1,
    )  # fmt: skip

    document = Page[Product](items=[product], next_cursor="abc").model_dump(mode="json")

    assert document["items"][0]["price"] == "1.50"
    assert document["next_cursor"] == "abc"
