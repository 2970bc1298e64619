"""Orders in DynamoDB: priced by the server from the products' current prices, moved by the state machine.

Order creation checks that the customer exists and that every sku is a live product, then writes the order
alone. It does not lock the customer: an order placed while its customer is being deleted may outlive the
customer, as every order does (deleting a customer keeps its orders).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prism.domain.errors import ConflictError, NotFoundError, ValidationError
from prism.domain.ids import is_order_id, new_order_id
from prism.domain.models import (
    Order,
    OrderCreate,
    OrderLine,
    OrderLineInput,
    OrderPatch,
    OrderStatus,
    Page,
    order_total,
)
from prism.domain.state_machine import transition
from prism.domain.versions import check_expected_version, version_after
from prism.store.items import OrderItem, StoredLine
from prism.store.keys import (
    ORDERS_LISTING,
    customer_orders_index_key,
    customer_orders_listing,
    customer_orders_partition,
    order_key,
    product_key,
)
from prism.store.listings import SCAN_PAGE_SIZE, Listing, check_limit, page_of, start_position
from prism.store.mapping import order_from_item, tombstone_for
from prism.store.refusals import lost_race, not_found
from prism.store.table_access import WriteRefused, exclusive_start_key, put, read, read_many
from prism.versioning import next_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pynamodb.pagination import ResultIterator

    from prism.domain.cursor import CursorCodec
    from prism.store.customers import DynamoCustomers
    from prism.store.items import TableItems

ENTITY = "order"
ALL_ORDERS = Listing.over_scan(ORDERS_LISTING)


class DynamoOrders:
    def __init__(self, items: TableItems, cursors: CursorCodec, customers: DynamoCustomers) -> None:
        self._items = items
        self._cursors = cursors
        self._customers = customers

    def live_item(self, order_id: str) -> OrderItem:
        """The order's item; NotFoundError when there is none or it was deleted."""
        item = read(self._items.order, order_key(order_id)) if is_order_id(order_id) else None
        if item is None or item.is_tombstone:
            raise not_found(ENTITY, order_id)
        return item

    def create(self, data: OrderCreate) -> Order:
        """Place an order for an existing customer; unknown customers and skus are a ValidationError (422)."""
        try:
            self._customers.live_item(data.customer_id)
        except NotFoundError as exc:
            raise ValidationError(
                f"customer {data.customer_id} does not exist",
                code="unknown_customer",
                details={"customer_id": data.customer_id},
            ) from exc
        lines = self._priced(data.lines)
        now = datetime.now(UTC)
        order_id = new_order_id()
        key, index = order_key(order_id), customer_orders_index_key(data.customer_id, now, order_id)
        item = self._items.order(
            pk=key.pk,
            sk=key.sk,
            entity=ENTITY,
            id=order_id,
            version=next_version(None),
            created_at=now,
            updated_at=now,
            customer_id=data.customer_id,
            status=OrderStatus.PENDING.value,
            lines=_line_attributes(lines),
            total=order_total(lines),
            gsi1pk=index.gsi1pk,
            gsi1sk=index.gsi1sk,
        )
        try:
            put(item, OrderItem.pk.does_not_exist(), ENTITY)
        except WriteRefused as exc:
            raise ConflictError("an order id collided; retry the request", code="id_collision") from exc
        return order_from_item(item)

    def get(self, order_id: str) -> Order:
        return order_from_item(self.live_item(order_id))

    def update(self, order_id: str, patch: OrderPatch, expected_version: int | None) -> Order:
        """Change the status (by the state machine) and/or the lines (only while PENDING, re-priced now)."""
        item = self.live_item(order_id)
        check_expected_version(f"{ENTITY} {order_id}", item.version, expected_version)
        current = order_from_item(item)
        lines, status = current.lines, current.status
        if patch.lines is not None:
            if current.status is not OrderStatus.PENDING:
                raise ConflictError(
                    f"order {order_id} is {current.status}; its lines can change only while it is PENDING",
                    code="order_not_pending",
                    details={"status": current.status.value},
                )
            lines = self._priced(patch.lines)
        if patch.status is not None:
            status = transition(current.status, patch.status)
        if lines == current.lines and status is current.status:
            return current
        read_version = item.version
        item.lines, item.total, item.status = _line_attributes(lines), order_total(lines), status.value
        item.version, item.updated_at = version_after(read_version), datetime.now(UTC)
        try:
            put(item, OrderItem.version == read_version, ENTITY)
        except WriteRefused as exc:
            raise lost_race(ENTITY, order_id, expected_version) from exc
        return order_from_item(item)

    def delete(self, order_id: str, expected_version: int | None) -> int:
        item = self.live_item(order_id)
        check_expected_version(f"{ENTITY} {order_id}", item.version, expected_version)
        tombstone = tombstone_for(self._items, item, version=version_after(item.version), now=datetime.now(UTC))
        try:
            put(tombstone, OrderItem.version == item.version, ENTITY)
        except WriteRefused as exc:
            raise lost_race(ENTITY, order_id, expected_version) from exc
        return tombstone.version

    def list_page(self, limit: int, cursor: str | None) -> Page[Order]:
        """Every order, in Scan order (gsi1 serves a customer's orders, not all of them)."""
        check_limit(limit)
        start = start_position(self._cursors, ALL_ORDERS, cursor)
        results = self._items.order.scan(
            filter_condition=(OrderItem.entity == ENTITY) & OrderItem.deleted.does_not_exist(),
            page_size=SCAN_PAGE_SIZE,
            last_evaluated_key=exclusive_start_key(start),
        )
        return self._page(results, ALL_ORDERS, limit)

    def list_customer_page(self, customer_id: str, limit: int, cursor: str | None) -> Page[Order]:
        """The customer's orders, newest first; NotFoundError when the customer does not exist."""
        check_limit(limit)
        self._customers.live_item(customer_id)
        listing = Listing.over_index(customer_orders_listing(customer_id))
        start = start_position(self._cursors, listing, cursor)
        results = self._items.order.gsi1.query(
            customer_orders_partition(customer_id),
            scan_index_forward=False,
            page_size=limit + 1,
            last_evaluated_key=exclusive_start_key(start),
        )
        return self._page(results, listing, limit)

    def _page(self, results: ResultIterator[OrderItem], listing: Listing, limit: int) -> Page[Order]:
        return page_of(
            results,
            self._items.order,
            cursors=self._cursors,
            listing=listing,
            limit=limit,
            to_api=order_from_item,
            page_type=Page[Order],
        )

    def _priced(self, lines: Sequence[OrderLineInput]) -> list[OrderLine]:
        """``lines`` at the current price of each product; unknown or deleted skus are a ValidationError."""
        found = read_many(self._items.product, [product_key(line.sku) for line in lines])
        prices = {item.id: item.price for item in found.values() if not item.is_tombstone}
        unknown = [line.sku for line in lines if line.sku not in prices]
        if unknown:
            raise ValidationError(
                f"no product has the sku {', '.join(unknown)}", code="unknown_sku", details={"skus": unknown}
            )
        return [OrderLine(sku=line.sku, qty=line.qty, unit_price=prices[line.sku]) for line in lines]


def _line_attributes(lines: Sequence[OrderLine]) -> list[StoredLine]:
    return [StoredLine(sku=line.sku, qty=line.qty, unit_price=line.unit_price) for line in lines]
