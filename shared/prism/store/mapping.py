"""Between storage items and API models: the only place that knows both shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prism.domain.models import Customer, CustomerTier, Order, OrderLine, OrderStatus, Product
from prism.domain.versions import tombstone_expiry

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from prism.store.items import CustomerItem, EntityItem, OrderItem, ProductItem, TableItems, TombstoneItem


def customer_from_item(item: CustomerItem) -> Customer:
    return Customer(
        id=item.id,
        email=item.email,
        name=item.name,
        tier=CustomerTier(item.tier),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=item.version,
    )


def product_from_item(item: ProductItem) -> Product:
    return Product(
        id=item.id,
        sku=item.id,
        name=item.name,
        description=item.description,
        category=item.category,
        price=item.price,
        stock=item.stock,
        tags=list(item.tags),
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=item.version,
    )


def order_from_item(item: OrderItem) -> Order:
    return Order(
        id=item.id,
        customer_id=item.customer_id,
        status=OrderStatus(item.status),
        lines=[OrderLine(sku=line.sku, qty=line.qty, unit_price=line.unit_price) for line in item.lines],
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=item.version,
    )


def tombstone_for(items: TableItems, item: EntityItem, *, version: int, now: datetime) -> TombstoneItem:
    """The tombstone that replaces ``item``: same key, a newer version, no data, no index keys."""
    return items.tombstone(
        pk=item.pk,
        sk=item.sk,
        entity=item.entity,
        id=item.id,
        version=version,
        created_at=item.created_at,
        updated_at=now,
        deleted=True,
        expires_at=tombstone_expiry(now),
    )


def apply_changes(item: EntityItem, changes: Mapping[str, object]) -> bool:
    """Set each change that is not None on ``item``; True when any of them differs from the stored value."""
    changed = False
    for name, value in changes.items():
        if value is not None and getattr(item, name) != value:
            setattr(item, name, value)
            changed = True
    return changed
