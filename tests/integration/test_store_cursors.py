"""Cursors and limits at the store's edge: anything but an unchanged cursor of the same listing is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from prism.domain.errors import InvalidCursorError, ValidationError
from prism.domain.models import CustomerCreate, ProductCreate
from tests.support.entity_store import StoreUnderTest, provisioned_store, unique_email

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(moto_endpoint: str) -> Iterator[StoreUnderTest]:
    with provisioned_store(moto_endpoint, "cursors") as provisioned:
        for number in range(3):
            provisioned.store.create_customer(CustomerCreate(email=unique_email(), name=f"c{number}"))
            for category in ("books", "games"):
                sku = f"{category}-{number}"
                provisioned.store.create_product(ProductCreate(sku=sku, name=sku, category=category, price="1.00"))
        yield provisioned


@pytest.fixture(scope="module")
def books_cursor(table: StoreUnderTest) -> str:
    cursor = table.store.list_products("books", limit=1).next_cursor
    assert cursor is not None
    return cursor


def test_a_cursor_resumes_its_own_listing(table: StoreUnderTest, books_cursor: str) -> None:
    assert [product.id for product in table.store.list_products("books", limit=1, cursor=books_cursor).items] == [
        "books-1"
    ]


def test_a_cursor_of_another_listing_is_refused(table: StoreUnderTest, books_cursor: str) -> None:
    customer_id = table.store.list_customers(limit=1).items[0].id

    with pytest.raises(InvalidCursorError):
        table.store.list_products("games", limit=1, cursor=books_cursor)
    with pytest.raises(InvalidCursorError):
        table.store.list_products(None, limit=1, cursor=books_cursor)
    with pytest.raises(InvalidCursorError):
        table.store.list_customers(limit=1, cursor=books_cursor)
    with pytest.raises(InvalidCursorError):
        table.store.list_customer_orders(customer_id, limit=1, cursor=books_cursor)
    with pytest.raises(InvalidCursorError):
        table.store.list_orders(limit=1, cursor=books_cursor)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda cursor: cursor[:-1],
        lambda cursor: cursor[1:],
        lambda cursor: cursor.replace(".", ""),
        lambda cursor: cursor + "A",
        lambda cursor: "not a cursor",
        lambda cursor: "",
        lambda cursor: "%%%.$$$",
        lambda cursor: cursor * 40,
    ],
    ids=["truncated", "shifted", "unsigned", "extended", "garbage", "empty", "not-base64", "oversized"],
)
def test_a_tampered_cursor_is_refused(table: StoreUnderTest, books_cursor: str, mangle: Callable[[str], str]) -> None:
    with pytest.raises(InvalidCursorError) as raised:
        table.store.list_products("books", limit=1, cursor=mangle(books_cursor))

    assert raised.value.code == "invalid_cursor"


def test_a_cursor_signed_under_another_key_is_refused(table: StoreUnderTest, books_cursor: str) -> None:
    other = table.another_store(cursor_key="a-different-key-for-another-deployment")

    with pytest.raises(InvalidCursorError):
        other.list_products("books", limit=1, cursor=books_cursor)


@pytest.mark.parametrize("limit", [0, -1, 101, 10**6])
def test_a_limit_outside_one_to_a_hundred_is_refused(table: StoreUnderTest, limit: int) -> None:
    with pytest.raises(ValidationError) as raised:
        table.store.list_customers(limit=limit)

    assert raised.value.code == "invalid_limit"


def test_a_page_is_never_followed_by_an_empty_one(table: StoreUnderTest) -> None:
    page = table.store.list_products("games", limit=3)

    assert ([product.id for product in page.items], page.next_cursor) == (["games-0", "games-1", "games-2"], None)


def test_a_fresh_table_lists_nothing(moto_endpoint: str) -> None:
    with provisioned_store(moto_endpoint, "empty") as fresh:
        assert fresh.store.list_customers().items == []
        assert fresh.store.list_orders().next_cursor is None
        assert fresh.store.list_products(None).items == []
