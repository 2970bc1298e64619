"""Where each item lives in the single table, and the names of the listings its cursors belong to.

See docs/data-model.md for the access patterns these keys serve. Every entity item has ``sk = "A"``; the
sort key leaves room for items that belong to an entity later (an order's history, say) without a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

ENTITY_SK: Final = "A"
GUARD_SK: Final = "GUARD"
CUSTOMERS_PARTITION: Final = "CUSTOMERS"

CUSTOMERS_LISTING: Final = "customers"
ORDERS_LISTING: Final = "orders"


@dataclass(frozen=True)
class Key:
    pk: str
    sk: str


@dataclass(frozen=True)
class IndexKey:
    """An item's key in the ``gsi1`` index; tombstones have none, so listings skip them."""

    gsi1pk: str
    gsi1sk: str


def sortable_timestamp(moment: datetime) -> str:
    """``moment`` in UTC as fixed-width ISO 8601 with microseconds (``2025-01-31T09:05:00.000123Z``), so that
    text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def customer_key(customer_id: str) -> Key:
    return Key(f"CUSTOMER#{customer_id}", ENTITY_SK)


def product_key(sku: str) -> Key:
    return Key(f"PRODUCT#{sku}", ENTITY_SK)


def order_key(order_id: str) -> Key:
    return Key(f"ORDER#{order_id}", ENTITY_SK)


def email_guard_key(email: str) -> Key:
    """The guard that reserves an email for one customer; emails differing only in case are the same email."""
    return Key(f"EMAIL#{email.lower()}", GUARD_SK)


def customers_index_key(created_at: datetime, customer_id: str) -> IndexKey:
    return IndexKey(CUSTOMERS_PARTITION, f"{sortable_timestamp(created_at)}#{customer_id}")


def category_partition(category: str) -> str:
    return f"CATEGORY#{category}"


def category_index_key(category: str, sku: str) -> IndexKey:
    return IndexKey(category_partition(category), sku)


def customer_orders_partition(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}#ORDERS"


def customer_orders_index_key(customer_id: str, created_at: datetime, order_id: str) -> IndexKey:
    return IndexKey(customer_orders_partition(customer_id), f"{sortable_timestamp(created_at)}#{order_id}")


def products_listing(category: str | None) -> str:
    return "products" if category is None else f"products:category={category}"


def customer_orders_listing(customer_id: str) -> str:
    return f"orders:customer={customer_id}"
