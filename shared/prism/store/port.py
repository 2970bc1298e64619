"""The port the API depends on: create, read, update, delete and list customers, products and orders.

Every write gives the entity a new ``version`` (DESIGN invariant 2), which the API exposes as the ETag.
``expected_version`` is the API's If-Match: None writes over whatever version is current (still guarded
against a concurrent writer, which gets ConflictError ``version_conflict``); a number that is not the
current version is PreconditionFailedError. Whether If-Match is required (428) is the API's decision.
A deleted entity is a tombstone: reading, updating or deleting it again is NotFoundError.

Listings take ``limit`` (1 to MAX_PAGE_SIZE) and the ``next_cursor`` of the previous page; a page may hold
fewer items than ``limit`` and still have a next_cursor (Scan-based listings bound the work per page), so
only a null next_cursor means the end. A bad cursor is InvalidCursorError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from prism.store.listings import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

if TYPE_CHECKING:
    from prism.domain.models import (
        Customer,
        CustomerCreate,
        CustomerPatch,
        Order,
        OrderCreate,
        OrderPatch,
        Page,
        Product,
        ProductCreate,
        ProductPatch,
    )

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "EntityStore"]


class EntityStore(Protocol):
    # ------------------------------------------------------------ customers
    def create_customer(self, data: CustomerCreate) -> Customer:
        """A new customer with a server id; ConflictError ``email_taken`` when another customer has the email."""
        ...

    def get_customer(self, customer_id: str) -> Customer: ...

    def update_customer(self, customer_id: str, patch: CustomerPatch, expected_version: int | None = None) -> Customer:
        """Apply ``patch``; a new email is reserved and the old one released in the same transaction."""
        ...

    def delete_customer(self, customer_id: str, expected_version: int | None = None) -> int:
        """Tombstone the customer and release its email; returns the tombstone's version. Orders are kept."""
        ...

    def list_customers(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[Customer]:
        """Customers, oldest first."""
        ...

    # ------------------------------------------------------------ products
    def create_product(self, data: ProductCreate) -> Product:
        """A product at the client's sku; ConflictError ``sku_taken`` when a live product has it."""
        ...

    def get_product(self, sku: str) -> Product: ...

    def update_product(self, sku: str, patch: ProductPatch, expected_version: int | None = None) -> Product: ...

    def delete_product(self, sku: str, expected_version: int | None = None) -> int:
        """Tombstone the product (the sku may be created again later); returns the tombstone's version."""
        ...

    def list_products(
        self, category: str | None = None, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Product]:
        """Products of ``category`` by sku, or all products (in no particular order) without one."""
        ...

    # ------------------------------------------------------------ orders
    def create_order(self, data: OrderCreate) -> Order:
        """A PENDING order priced at the products' current prices; ValidationError (``unknown_customer``,
        ``unknown_sku``) when the customer or a sku does not exist."""
        ...

    def get_order(self, order_id: str) -> Order: ...

    def update_order(self, order_id: str, patch: OrderPatch, expected_version: int | None = None) -> Order:
        """Move the status (InvalidTransitionError when the state machine forbids it) and/or replace the lines
        (ConflictError ``order_not_pending`` unless the order is PENDING)."""
        ...

    def delete_order(self, order_id: str, expected_version: int | None = None) -> int:
        """Tombstone the order; returns the tombstone's version."""
        ...

    def list_orders(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[Order]:
        """Every order, in no particular order (a filtered Scan; see docs/data-model.md)."""
        ...

    def list_customer_orders(
        self, customer_id: str, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Order]:
        """The customer's orders, newest first; NotFoundError when the customer does not exist."""
        ...
