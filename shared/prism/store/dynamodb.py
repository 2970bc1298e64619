"""The EntityStore on one DynamoDB table (see docs/data-model.md for its keys and access patterns)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prism.domain.cursor import CursorCodec
from prism.store.customers import DynamoCustomers
from prism.store.items import bind_items
from prism.store.listings import DEFAULT_PAGE_SIZE
from prism.store.orders import DynamoOrders
from prism.store.products import DynamoProducts

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


class DynamoEntityStore:
    """Customers, products and orders in ``table_name``; ``host`` is the endpoint (None: AWS itself), and
    ``cursor_key`` signs pagination cursors (at least 16 bytes; rotating it invalidates open cursors)."""

    def __init__(self, table_name: str, cursor_key: bytes | str, *, host: str | None = None, region: str) -> None:
        items = bind_items(table_name, region=region, host=host)
        cursors = CursorCodec(cursor_key)
        self._customers = DynamoCustomers(items, cursors)
        self._products = DynamoProducts(items, cursors)
        self._orders = DynamoOrders(items, cursors, self._customers)

    # ------------------------------------------------------------ customers
    def create_customer(self, data: CustomerCreate) -> Customer:
        return self._customers.create(data)

    def get_customer(self, customer_id: str) -> Customer:
        return self._customers.get(customer_id)

    def update_customer(self, customer_id: str, patch: CustomerPatch, expected_version: int | None = None) -> Customer:
        return self._customers.update(customer_id, patch, expected_version)

    def delete_customer(self, customer_id: str, expected_version: int | None = None) -> int:
        return self._customers.delete(customer_id, expected_version)

    def list_customers(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[Customer]:
        return self._customers.list_page(limit, cursor)

    # ------------------------------------------------------------ products
    def create_product(self, data: ProductCreate) -> Product:
        return self._products.create(data)

    def get_product(self, sku: str) -> Product:
        return self._products.get(sku)

    def update_product(self, sku: str, patch: ProductPatch, expected_version: int | None = None) -> Product:
        return self._products.update(sku, patch, expected_version)

    def delete_product(self, sku: str, expected_version: int | None = None) -> int:
        return self._products.delete(sku, expected_version)

    def list_products(
        self, category: str | None = None, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Product]:
        return self._products.list_page(category, limit, cursor)

    # ------------------------------------------------------------ orders
    def create_order(self, data: OrderCreate) -> Order:
        return self._orders.create(data)

    def get_order(self, order_id: str) -> Order:
        return self._orders.get(order_id)

    def update_order(self, order_id: str, patch: OrderPatch, expected_version: int | None = None) -> Order:
        return self._orders.update(order_id, patch, expected_version)

    def delete_order(self, order_id: str, expected_version: int | None = None) -> int:
        return self._orders.delete(order_id, expected_version)

    def list_orders(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page[Order]:
        return self._orders.list_page(limit, cursor)

    def list_customer_orders(
        self, customer_id: str, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Order]:
        return self._orders.list_customer_page(customer_id, limit, cursor)
