"""The storage models: how customers, products and orders are laid out as items of the single table.

These are pynamodb models, separate from the API's pydantic models; the store maps between the two. Items
follow ``prism.entities``: ``entity``, ``id``, an integer ``version``, and on tombstones ``deleted = true``
plus ``expires_at`` (the table's TTL attribute). Money is a DynamoDB Number written from the exact Decimal,
never through a float. The table name and endpoint are only known at run time, so the classes here name no
table: ``bind_items`` makes subclasses bound to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar, cast

from pynamodb.attributes import Attribute, BooleanAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.constants import LIST, NUMBER, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from prism.store.keys import sortable_timestamp

CONNECT_TIMEOUT_SECONDS: Final = 3
READ_TIMEOUT_SECONDS: Final = 10
MAX_RETRY_ATTEMPTS: Final = 3


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB Number read and written as an exact Decimal (pynamodb's NumberAttribute goes through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"money must be a finite Decimal, got {value!r}")
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class IntegerAttribute(Attribute[int]):
    """A DynamoDB Number that is always an integer (versions, quantities, stock, TTL seconds)."""

    attr_type = NUMBER

    def serialize(self, value: int) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        return str(value)

    def deserialize(self, value: str) -> int:
        number = Decimal(value)
        if number != number.to_integral_value():
            raise ValueError(f"expected an integer, got {value}")
        return int(number)


class TimestampAttribute(Attribute[datetime]):
    """A UTC instant as fixed-width ISO 8601 text, readable by every sink and sortable as text."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return sortable_timestamp(value)

    def deserialize(self, value: str) -> datetime:
        return datetime.fromisoformat(value).astimezone(UTC)


class StringListAttribute(Attribute[list[str]]):
    """A DynamoDB List of Strings: ordered, may be empty, may repeat (unlike a String Set)."""

    attr_type = LIST

    def serialize(self, value: list[str]) -> list[dict[str, str]]:
        return [{STRING: element} for element in value]

    def deserialize(self, value: list[dict[str, str]]) -> list[str]:
        return [element[STRING] for element in value]


@dataclass(frozen=True)
class StoredLine:
    sku: str
    qty: int
    unit_price: Decimal


class OrderLinesAttribute(Attribute[list[StoredLine]]):
    """An order's lines: a List of Maps ``{sku: S, qty: N, unit_price: N}``, with exact numbers."""

    attr_type = LIST

    def serialize(self, value: list[StoredLine]) -> list[dict[str, Any]]:
        return [
            {
                "M": {
                    "sku": {STRING: line.sku},
                    "qty": {NUMBER: str(line.qty)},
                    "unit_price": {NUMBER: DecimalAttribute().serialize(line.unit_price)},
                }
            }
            for line in value
        ]

    def deserialize(self, value: list[dict[str, Any]]) -> list[StoredLine]:
        return [
            StoredLine(
                sku=line["M"]["sku"][STRING],
                qty=int(line["M"]["qty"][NUMBER]),
                unit_price=Decimal(line["M"]["unit_price"][NUMBER]),
            )
            for line in value
        ]


ModelT = TypeVar("ModelT", bound=Model)


class Gsi1(GlobalSecondaryIndex[ModelT]):  # type: ignore[no-untyped-call]  # pynamodb's __init_subclass__
    """The one secondary index: customers by creation, products by category, a customer's orders by creation."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class KeyedItem(Model):
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class EntityItem(KeyedItem):
    """What every entity item carries. Data attributes of a subclass are absent (None) on a tombstone, so
    code reads them only after checking ``deleted``."""

    entity = UnicodeAttribute()
    id = UnicodeAttribute()
    version = IntegerAttribute()
    created_at = TimestampAttribute()
    updated_at = TimestampAttribute()
    deleted = BooleanAttribute(null=True)
    expires_at = IntegerAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)

    @property
    def is_tombstone(self) -> bool:
        return self.deleted is True


class TombstoneItem(EntityItem):
    """A deleted entity: its key, ``entity``, ``id``, a newer ``version``, ``deleted`` and ``expires_at``;
    no data and no index keys, so listings skip it and the change pipeline sees a delete."""


class CustomerItem(EntityItem):
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    tier = UnicodeAttribute()
    gsi1: Gsi1[CustomerItem] = Gsi1()


class ProductItem(EntityItem):
    name = UnicodeAttribute()
    description = UnicodeAttribute()
    category = UnicodeAttribute()
    price = DecimalAttribute()
    stock = IntegerAttribute()
    tags = StringListAttribute()
    gsi1: Gsi1[ProductItem] = Gsi1()


class OrderItem(EntityItem):
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute()
    lines = OrderLinesAttribute()
    total = DecimalAttribute()
    gsi1: Gsi1[OrderItem] = Gsi1()


class EmailGuardItem(KeyedItem):
    """Reserves an email for one customer. Not an entity (no ``entity`` attribute): the fanout skips it."""

    owner = UnicodeAttribute()


@dataclass(frozen=True)
class TableItems:
    """The storage models bound to one table, and a connection to it for transactions."""

    customer: type[CustomerItem]
    product: type[ProductItem]
    order: type[OrderItem]
    tombstone: type[TombstoneItem]
    email_guard: type[EmailGuardItem]
    connection: Connection


def bind_items(table_name: str, *, region: str, host: str | None = None) -> TableItems:
    """Subclasses of the storage models that use ``table_name`` at ``host`` (None: the AWS endpoint).

    Binding makes new classes rather than setting ``Meta`` on shared ones, so two stores (two tests, say)
    never overwrite each other's table.
    """
    settings: dict[str, Any] = {
        "table_name": table_name,
        "region": region,
        "host": host,
        "connect_timeout_seconds": CONNECT_TIMEOUT_SECONDS,
        "read_timeout_seconds": READ_TIMEOUT_SECONDS,
        "max_retry_attempts": MAX_RETRY_ATTEMPTS,
    }

    def bound(model: type[ModelT]) -> type[ModelT]:
        meta = type("Meta", (), dict(settings))
        return cast("type[ModelT]", type(model.__name__, (model,), {"Meta": meta, "__module__": __name__}))

    return TableItems(
        customer=bound(CustomerItem),
        product=bound(ProductItem),
        order=bound(OrderItem),
        tombstone=bound(TombstoneItem),
        email_guard=bound(EmailGuardItem),
        connection=Connection(
            region=region,
            host=host,
            connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
            read_timeout_seconds=READ_TIMEOUT_SECONDS,
            max_retry_attempts=MAX_RETRY_ATTEMPTS,
        ),
    )
