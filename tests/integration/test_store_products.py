"""Products in the real table (moto, provisioned from template.yaml): skus chosen by the client, exact money,
delete and re-create with growing versions, listings by category and over everything."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from prism.changes.envelope import Op
from prism.domain.errors import ConflictError, NotFoundError, PreconditionFailedError
from prism.domain.models import CustomerCreate, Product, ProductCreate, ProductPatch
from tests.support.entity_store import StoreUnderTest, provisioned_store, unique_word

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prism.domain.models import Page

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(moto_endpoint: str) -> Iterator[StoreUnderTest]:
    with provisioned_store(moto_endpoint, "products") as provisioned:
        yield provisioned


def new_product(
    table: StoreUnderTest, category: str = "books", price: str = "19.99", sku: str | None = None
) -> Product:
    data = ProductCreate(sku=sku or unique_word("SKU"), name="A product", category=category, price=price, stock=5)
    return table.store.create_product(data)


def every_page(fetch: Callable[[str | None], Page[Product]]) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = fetch(cursor)
        pages.append([item.id for item in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_a_product_keeps_its_sku_and_exact_money_through_every_write(table: StoreUnderTest) -> None:
    sku = unique_word("BOOK")
    created = table.store.create_product(
        ProductCreate(sku=sku, name="Dune", category="books", price="0.10", stock=0, tags=["sf", "classic"])
    )

    updated = table.store.update_product(sku, ProductPatch(price=Decimal("1234567890.01"), stock=7), created.version)
    read = table.store.get_product(sku)

    assert (created.id, created.sku, created.price, created.tags) == (sku, sku, Decimal("0.10"), ["sf", "classic"])
    assert read == updated
    assert (read.price, read.stock, read.name) == (Decimal("1234567890.01"), 7, "Dune")
    assert read.model_dump(mode="json")["price"] == "1234567890.01"
    item = table.raw_item(f"PRODUCT#{sku}")
    assert item is not None
    assert item["price"] == {"N": "1234567890.01"}
    assert created.version < updated.version


def test_a_live_sku_cannot_be_created_twice(table: StoreUnderTest) -> None:
    product = new_product(table)

    with pytest.raises(ConflictError) as raised:
        new_product(table, sku=product.id)

    assert (raised.value.code, raised.value.details) == ("sku_taken", {"sku": product.id})


def test_a_deleted_sku_can_be_created_again_at_a_version_above_its_tombstone(table: StoreUnderTest) -> None:
    product = new_product(table, category="games")

    tombstone_version = table.store.delete_product(product.id, expected_version=product.version)
    with pytest.raises(NotFoundError):
        table.store.get_product(product.id)
    again = new_product(table, category="garden", price="5.00", sku=product.id)

    assert product.version < tombstone_version < again.version
    assert table.store.get_product(product.id) == again
    changes = table.changes_of(f"PRODUCT#{product.id}")
    assert [(change.op, change.version) for change in changes] == [
        (Op.UPSERT, product.version),
        (Op.DELETE, tombstone_version),
        (Op.UPSERT, again.version),
    ]


def test_an_if_match_for_another_version_leaves_the_product_alone(table: StoreUnderTest) -> None:
    product = new_product(table)

    with pytest.raises(PreconditionFailedError):
        table.store.delete_product(product.id, expected_version=product.version + 1)
    with pytest.raises(PreconditionFailedError):
        table.store.update_product(product.id, ProductPatch(stock=1), expected_version=0)

    assert table.store.get_product(product.id) == product


def test_products_of_a_category_are_listed_by_sku_across_pages_and_follow_category_changes(
    table: StoreUnderTest,
) -> None:
    category, other = unique_word("cat"), unique_word("other")
    skus = sorted(new_product(table, category=category).id for _ in range(5))
    moved = table.store.update_product(skus[1], ProductPatch(category=other))
    table.store.delete_product(skus[3])

    pages = every_page(lambda cursor: table.store.list_products(category, limit=2, cursor=cursor))

    assert pages == [[skus[0], skus[2]], [skus[4]]]
    assert table.store.list_products(other).items == [moved]


def test_all_products_are_listed_across_pages_with_no_gap_no_repeat_and_nothing_else(moto_endpoint: str) -> None:
    with provisioned_store(moto_endpoint, "product-scan") as fresh:
        created = {new_product(fresh, category=f"c{n % 3}").id for n in range(9)}
        deleted = sorted(created)[4]
        fresh.store.delete_product(deleted)
        fresh.store.create_customer(CustomerCreate(email=f"{unique_word('x')}@example.com", name="Not a product"))

        pages = every_page(lambda cursor: fresh.store.list_products(None, limit=3, cursor=cursor))

    listed = [sku for page in pages for sku in page]
    assert sorted(listed) == sorted(created - {deleted})
    assert [len(page) for page in pages] == [3, 3, 2]
