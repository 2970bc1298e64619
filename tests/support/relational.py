"""Changes with realistic images for the relational sink, and a reader of the projection tables' state."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prism.changes import exact_json
from prism.changes.envelope import ChangeEvent
from prism.changes.stream_decoder import decode_stream_record
from prism.relational.rows import TABLES, row_change
from prism.relational.wiring import relational_sink_processor
from prism.relational.writer import collapse
from prism_local.stack.mariadb import root_connection as mariadb_root
from tests.support.functions import built_in_process
from tests.support.records import entity, stream_record

if TYPE_CHECKING:
    from collections.abc import Iterable
    from contextlib import AbstractContextManager

    from prism.relational.sink import RelationalSinkProcessor
    from prism_local.config import LocalConfig

CREATED = "2026-11-02T09:05:00.000123Z"


def image(kind: str, entity_id: str, version: int, **overrides: Any) -> dict[str, Any]:
    """The item the API would write for ``kind`` at ``version`` (fields vary with the version)."""
    fields: dict[str, Any] = {"created_at": CREATED, "updated_at": f"2026-11-02T09:05:{version % 60:02d}.000000Z"}
    if kind == "customer":
        fields |= {"email": f"{entity_id}-{version}@example.com", "name": f"Customer {version}", "tier": "gold"}
    elif kind == "product":
        fields |= {
            "name": f"Product {version}",
            "category": f"cat-{version % 3}",
            "price": Decimal(version % 1000) + Decimal("0.99"),
            "stock": version % 50,
        }
    else:
        priced = [(f"sku-{n}", n + version % 4, Decimal(n) + Decimal("0.50")) for n in range(1, 2 + version % 3)]
        lines = [{"sku": sku, "qty": qty, "unit_price": price} for sku, qty, price in priced]
        total = sum((qty * price for _, qty, price in priced), Decimal(0))
        fields |= {"customer_id": "c_1", "status": "pending", "lines": lines, "total": total}
    return entity(kind, entity_id, version, **(fields | overrides))


def change(kind: str, entity_id: str, version: int, *, deleted: bool = False, **overrides: Any) -> ChangeEvent:
    """The envelope the fanout publishes for that write (a soft delete when ``deleted``)."""
    if deleted:
        record = stream_record("MODIFY", new=entity(kind, entity_id, version, deleted=True))
    else:
        record = stream_record("MODIFY", new=image(kind, entity_id, version, **overrides))
    decoded = decode_stream_record(record)
    assert isinstance(decoded, ChangeEvent)
    return decoded


def sink_environment(config: LocalConfig) -> AbstractContextManager[RelationalSinkProcessor]:
    """The real relational sink, built by its own wiring from RelationalFunction's environment, in-process."""
    return built_in_process(config, "RelationalFunction", relational_sink_processor)


def root_connection(config: LocalConfig) -> Any:
    """root on the stack's own database (no TLS needed for root), with dict rows."""
    return mariadb_root(config, config.database_name, dict_rows=True)


@dataclass(frozen=True)
class Projected:
    """One key's row as the projection holds it (or as it should), comparable across both."""

    version: int
    deleted: bool
    values: tuple[Any, ...]
    item: Any
    lines: tuple[tuple[Any, ...], ...]


def expected_projection(changes: Iterable[ChangeEvent]) -> dict[tuple[str, str], Projected]:
    """What the tables must hold after ``changes``, delivered in any way: each key's newest change."""
    newest = collapse(row_change(c) for c in changes)
    return {
        key: Projected(
            r.version,
            r.deleted,
            r.values,
            exact_json.loads(r.item),
            tuple((line.line_no, line.sku, line.qty, line.unit_price, r.version) for line in r.lines),
        )
        for key, r in newest.items()
    }


def actual_projection(connection: Any, ids: Iterable[str]) -> dict[tuple[str, str], Projected]:
    """The rows of ``ids`` in every projection table, with each order's lines."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    placeholders = ", ".join(["%s"] * len(wanted))
    found: dict[tuple[str, str], Projected] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT order_id, line_no, sku, qty, unit_price, order_version FROM order_lines "
            f"WHERE order_id IN ({placeholders}) ORDER BY order_id, line_no",
            wanted,
        )
        lines: dict[str, list[tuple[Any, ...]]] = {}
        for row in cursor.fetchall():
            lines.setdefault(row["order_id"], []).append(
                (row["line_no"], row["sku"], row["qty"], row["unit_price"], row["order_version"])
            )
        for spec in TABLES.values():
            cursor.execute(
                f"SELECT {', '.join(spec.all_columns)} FROM {spec.name} WHERE id IN ({placeholders})",
                wanted,
            )
            for row in cursor.fetchall():
                found[(spec.name, row["id"])] = Projected(
                    int(row["version"]),
                    bool(row["deleted"]),
                    tuple(row[c] for c in spec.columns),
                    exact_json.loads(row["item"]),
                    tuple(lines.get(row["id"], [])) if spec.name == "orders" else (),
                )
    return found
