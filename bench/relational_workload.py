"""The relational benchmark's workload: changes as the API's writes make them, through the real stream decoder.

Customers, products, and orders of 1-6 lines of existing products for existing customers; first only creates,
then every 4th change updates (an order's status and quantities, a product's price and stock, a customer's
tier) or deletes (every 10th of those) a key created at least FIRST_UPDATE_AT changes earlier. So no batch of
the sink and no raw statement holds one key twice, and an order keeps its line count: the sink, the raw bulk
writer and the naive writer all end with the same rows, each key's newest change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from prism.changes.envelope import ChangeEvent
from prism.changes.stream_decoder import decode_stream_record
from prism.relational.rows import RowChange, row_change
from tests.support.records import entity, stream_record

#: The first this many changes are all creates; after them, every 4th change updates (or deletes) a key
#: created at least this many changes earlier.
FIRST_UPDATE_AT = 2000
EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BASE_VERSION = 1_795_420_800_000_000  # versions are hybrid-clock microseconds, as the API makes them

Record = dict[str, Any]


@dataclass
class Workload:
    """The changes, their SQS message bodies, and the typed rows they leave (built once, untimed)."""

    changes: list[ChangeEvent]
    bodies: list[str]
    rows: list[RowChange]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [change.id for change in self.changes]


class WorkloadBuilder:
    """Stream records as the API's writes produce them (NEW_AND_OLD_IMAGES), decoded as the fanout does:
    customers, products, and orders of 1-6 lines of existing products for existing customers; creates, then
    updates (an order's status and quantities, a product's price and stock, a customer's tier) and deletes."""

    KINDS = ("order", "customer", "product", "order", "product", "customer", "order", "customer", "order", "product")
    TIERS = ("free", "silver", "gold", "platinum")
    CATEGORIES = ("books", "garden", "kitchen", "toys", "audio", "sports", "office")
    STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")

    def __init__(self, seed: int = 20261102) -> None:
        self._random = random.Random(seed)
        self._items: list[tuple[str, str, dict[str, Any]]] = []  # every key created, in order: (kind, id, image)
        self._customers: list[str] = []
        self._products: list[tuple[str, Decimal]] = []
        self._updated = 0

    def build(self, count: int) -> Workload:
        changes: list[ChangeEvent] = []
        for position in range(count):
            if position >= FIRST_UPDATE_AT and position % 4 == 0:
                record = self._update(position)
            else:
                record = self._create(position)
            decoded = decode_stream_record(record)
            if not isinstance(decoded, ChangeEvent):
                raise TypeError(f"the workload makes only entity changes, got {decoded}")
            changes.append(decoded)
        rows = [row_change(change) for change in changes]
        kinds = [change.entity for change in changes]
        counts = {
            "changes": len(changes),
            "keys": len({change.id for change in changes}),
            "customers": kinds.count("customer"),
            "products": kinds.count("product"),
            "orders": kinds.count("order"),
            "order_lines": sum(len(row.lines) for row in rows),
            "updates": sum(
                1 for change, row in zip(changes, rows, strict=True) if change.old_image and not row.deleted
            ),
            "deletes": sum(1 for row in rows if row.deleted),
        }
        return Workload(changes, [change.to_json() for change in changes], rows, counts)

    def _create(self, position: int) -> Record:
        kind = self.KINDS[position % len(self.KINDS)]
        if kind == "order" and not (self._customers and self._products):
            kind = "customer" if not self._customers else "product"
        entity_id = f"{kind[0]}-{position:07d}-{self._random.getrandbits(24):06x}"
        created = EPOCH + timedelta(seconds=position, microseconds=self._random.randrange(1_000_000))
        image = entity(kind, entity_id, BASE_VERSION + position, **self._fields(kind, created))
        self._items.append((kind, entity_id, image))
        if kind == "customer":
            self._customers.append(entity_id)
        elif kind == "product":
            self._products.append((entity_id, image["price"]))
        return stream_record("INSERT", new=image)

    def _fields(self, kind: str, created: datetime) -> dict[str, Any]:
        stamp = created.isoformat(timespec="microseconds").replace("+00:00", "Z")
        fields: dict[str, Any] = {"created_at": stamp, "updated_at": stamp}
        pick = self._random
        if kind == "customer":
            number = pick.randrange(10**8)
            return fields | {
                "email": f"customer.{number}@example.com",
                "name": f"Customer {number} {pick.choice(('Smith', 'García', 'Müller', 'Okafor', 'Tanaka'))}",
                "tier": pick.choice(self.TIERS),
            }
        if kind == "product":
            return fields | {
                "name": f"{pick.choice(('Deluxe', 'Basic', 'Pro', 'Mini'))} product {pick.randrange(10**6)}",
                "category": pick.choice(self.CATEGORIES),
                "price": Decimal(pick.randrange(99, 99_999)) / 100,
                "stock": pick.randrange(0, 5000),
                "description": "A product description of ordinary length. " * pick.randint(1, 4),
            }
        lines: list[dict[str, Any]] = []
        for sku, price in pick.sample(self._products[-500:], k=min(len(self._products), pick.randint(1, 6))):
            lines.append({"sku": sku, "qty": pick.randint(1, 5), "unit_price": price})
        return fields | {
            "customer_id": pick.choice(self._customers[-500:]),
            "status": "pending",
            "lines": lines,
            "total": sum((line["qty"] * line["unit_price"] for line in lines), Decimal(0)),
            "shipping_address": {"street": f"{pick.randrange(1, 999)} Main Street", "city": "Springfield"},
        }

    def _update(self, position: int) -> Record:
        kind, entity_id, old = self._items[self._updated]
        self._updated += 1
        version = int(old["version"]) + 1_000_000 + position
        if self._updated % 10 == 0:
            return stream_record("MODIFY", new=entity(kind, entity_id, version, deleted=True), old=old)
        stamp = (EPOCH + timedelta(seconds=position)).isoformat(timespec="microseconds").replace("+00:00", "Z")
        new = old | {"version": version, "updated_at": stamp}
        if kind == "customer":
            new["tier"] = self._random.choice(self.TIERS)
        elif kind == "product":
            new |= {"price": Decimal(self._random.randrange(99, 99_999)) / 100, "stock": self._random.randrange(5000)}
        else:  # same lines, new quantities: an order keeps its line count
            lines = [line | {"qty": self._random.randint(1, 9)} for line in old["lines"]]
            total = sum((line["qty"] * line["unit_price"] for line in lines), Decimal(0))
            new |= {"status": self._random.choice(self.STATUSES[1:]), "lines": lines, "total": total}
        return stream_record("MODIFY", new=new, old=old)
