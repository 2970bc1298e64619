"""Change envelope -> the row it leaves in the projection tables, checked against the tables' column types.

Pure: no database. Each entity maps to one table (``customers``, ``products``, ``orders``; an order's
``lines`` go to ``order_lines``) whose typed columns hold what analysts filter, join and index on, next to the
full item as JSON (``V0001__projection_tables.sql``). A value that does not fit its column (a string where a
number belongs, too many digits, an over-long name) is a SchemaViolationError naming the entity, the field
and the value: a change that can never apply, which the sink dead-letters with that reason at once. Checking
here rather than letting MySQL refuse the statement keeps one bad change from failing its whole batch, and
keeps the checks the same on Aurora MySQL and MariaDB, whose strictness differs.

A delete becomes a tombstone row: ``deleted = 1`` at the delete's version, data columns NULL, so a late,
older upsert cannot bring the row back (DESIGN invariant 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from prism.changes import exact_json
from prism.changes.envelope import Op
from prism.errors import SchemaViolationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prism.changes.envelope import ChangeEvent

#: Column-type limits, as declared in the migrations.
ID_LENGTH: Final = 64
MAX_INT_UNSIGNED: Final = 4_294_967_295
MAX_SMALLINT_UNSIGNED: Final = 65_535
CENT: Final = Decimal("0.01")
#: The smallest magnitude that no longer fits DECIMAL(digits, 2), for the precisions the tables use.
_DECIMAL_LIMITS: Final = {digits: Decimal(10) ** (digits - 2) for digits in (12, 22)}


@dataclass(frozen=True)
class TableSpec:
    """One projection table: its name, the entity it holds and its typed data columns, in order.

    Every table also has ``id`` first and ``item``, ``deleted`` and ``version`` last (version assigned last
    in the upsert, as MySQL applies assignments left to right).
    """

    name: str
    entity: str
    columns: tuple[str, ...]

    @property
    def all_columns(self) -> tuple[str, ...]:
        return ("id", *self.columns, "item", "deleted", "version")


CUSTOMERS: Final = TableSpec("customers", "customer", ("email", "name", "tier", "created_at", "updated_at"))
PRODUCTS: Final = TableSpec("products", "product", ("name", "category", "price", "stock", "created_at", "updated_at"))
ORDERS: Final = TableSpec(
    "orders", "order", ("customer_id", "status", "total", "line_count", "created_at", "updated_at")
)
TABLES: Final = {spec.entity: spec for spec in (CUSTOMERS, PRODUCTS, ORDERS)}
ORDER_LINE_COLUMNS: Final = ("order_id", "line_no", "sku", "qty", "unit_price", "order_version")


class OrderLineRow(NamedTuple):
    line_no: int
    sku: str
    qty: int
    unit_price: Decimal


class RowChange(NamedTuple):
    """What one change writes: a row of ``table`` (and, for a live order, all of its lines).

    A NamedTuple rather than a frozen dataclass: one is built per change, and a frozen dataclass's
    ``__init__`` costs three times as much."""

    table: TableSpec
    id: str
    version: int
    deleted: bool
    values: tuple[Any, ...]  # the typed data columns, in ``table.columns`` order (all None for a tombstone)
    item: str  # the full item as JSON text
    lines: tuple[OrderLineRow, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.table.name, self.id)

    def row(self) -> tuple[Any, ...]:
        """The row's values in ``table.all_columns`` order."""
        return (self.id, *self.values, self.item, int(self.deleted), self.version)


def row_change(change: ChangeEvent) -> RowChange:
    """The row ``change`` leaves behind; SchemaViolationError when its payload does not fit the table."""
    spec = TABLES.get(change.entity)
    if spec is None:
        raise SchemaViolationError(
            f"entity {change.entity!r} has no projection table (expected one of {sorted(TABLES)})"
        )
    where = f"{change.entity} {change.id!r} v{change.version}"
    _check_text(change.id, f"{where}: id", ID_LENGTH, required=True)
    if change.op is Op.DELETE:
        tombstone = exact_json.dumps({"id": change.id, "deleted": True, "version": change.version})
        return RowChange(spec, change.id, change.version, True, (None,) * len(spec.columns), tombstone)
    image = change.new_image
    if image is None:
        raise SchemaViolationError(f"{where}: an upsert without a new image")
    # Per change and column, so the common case (a value that fits) costs one call and no string formatting;
    # the checks in _check_* run, and word the error, only for a value that may not fit.
    values = tuple([check(image.get(name), where, name, limit) for name, check, limit in _COLUMNS[spec.entity]])
    lines = _order_lines(image, where) if spec is ORDERS else ()
    if spec is ORDERS:
        values = (*values[:3], len(lines), *values[4:])  # line_count counts the lines actually projected
    return RowChange(spec, change.id, change.version, False, values, exact_json.dumps(image), lines)


# ---------------------------------------------------------------- field checks (None when absent or null)


def _check_text(value: Any, where: str, max_length: int, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise SchemaViolationError(f"{where}: expected a string, got {_shown(value)}")
    if required and not value:
        raise SchemaViolationError(f"{where}: must not be empty")
    if len(value) > max_length:
        raise SchemaViolationError(f"{where}: longer than {max_length} characters ({len(value)})")
    return value


def _check_decimal(value: Any, where: str, digits: int) -> Decimal | None:
    """A number for DECIMAL(digits, 2): int or exact Decimal (never a float or a string), at most 2 places."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise SchemaViolationError(f"{where}: expected a number, got {_shown(value)}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise SchemaViolationError(f"{where}: expected a finite number, got {amount}")
    if abs(amount) >= _DECIMAL_LIMITS[digits]:
        raise SchemaViolationError(f"{where}: {amount} does not fit DECIMAL({digits}, 2)")
    cents = amount.quantize(CENT)
    if cents != amount:
        raise SchemaViolationError(f"{where}: more than 2 decimal places ({amount})")
    return cents


def _check_int(value: Any, where: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaViolationError(f"{where}: expected an integer, got {_shown(value)}")
    if not low <= value <= high:
        raise SchemaViolationError(f"{where}: {value} is outside {low}..{high}")
    return value


def _check_timestamp(value: Any, where: str) -> datetime:
    """An ISO 8601 timestamp with a zone, as the API writes them; stored as naive UTC (DATETIME(6))."""
    if not isinstance(value, str):
        raise SchemaViolationError(f"{where}: expected an ISO 8601 timestamp, got {_shown(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SchemaViolationError(f"{where}: not an ISO 8601 timestamp: {value!r}") from exc
    if moment.tzinfo is None:
        raise SchemaViolationError(f"{where}: timestamp {value!r} has no time zone")
    return moment.astimezone(UTC).replace(tzinfo=None)


# Column checkers: (value, where, column, limit) -> the column's value. None (absent or null) is NULL.


def _text(value: Any, where: str, name: str, max_length: int) -> str | None:
    if value is None or (type(value) is str and len(value) <= max_length):
        return value
    return _check_text(value, f"{where}: {name}", max_length)


def _decimal(value: Any, where: str, name: str, digits: int) -> Decimal | None:
    return None if value is None else _check_decimal(value, f"{where}: {name}", digits)


def _integer(value: Any, where: str, name: str, high: int) -> int | None:
    if value is None or (type(value) is int and 0 <= value <= high):
        return value
    return _check_int(value, f"{where}: {name}", 0, high)


def _timestamp(value: Any, where: str, name: str, _limit: int) -> datetime | None:
    return None if value is None else _check_timestamp(value, f"{where}: {name}")


def _counted(_value: Any, _where: str, _name: str, _limit: int) -> None:
    return None  # line_count: replaced by the number of lines projected


def _order_lines(image: Mapping[str, Any], where: str) -> tuple[OrderLineRow, ...]:
    raw = image.get("lines")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SchemaViolationError(f"{where}: lines: expected a list, got {_shown(raw)}")
    if len(raw) > MAX_SMALLINT_UNSIGNED:
        raise SchemaViolationError(f"{where}: lines: more than {MAX_SMALLINT_UNSIGNED} lines")
    lines = []
    for number, line in enumerate(raw, start=1):
        at = f"{where}: lines[{number - 1}]"
        if not isinstance(line, dict):
            raise SchemaViolationError(f"{at}: expected an object, got {_shown(line)}")
        sku = _check_text(line.get("sku"), f"{at}.sku", ID_LENGTH, required=True)
        qty = _check_int(line.get("qty"), f"{at}.qty", 0, MAX_INT_UNSIGNED)
        unit_price = _check_decimal(line.get("unit_price"), f"{at}.unit_price", 12)
        if qty is None or unit_price is None:
            raise SchemaViolationError(f"{at}: qty and unit_price are required")
        lines.append(OrderLineRow(number, str(sku), qty, unit_price))
    return tuple(lines)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


if TYPE_CHECKING:
    Check = Callable[[Any, str, str, int], Any]

#: Each entity's typed columns, in ``TableSpec.columns`` order: (name, checker, limit).
_COLUMNS: Final[Mapping[str, tuple[tuple[str, Check, int], ...]]] = {
    "customer": (
        ("email", _text, 254),
        ("name", _text, 200),
        ("tier", _text, 16),
        ("created_at", _timestamp, 0),
        ("updated_at", _timestamp, 0),
    ),
    "product": (
        ("name", _text, 200),
        ("category", _text, 64),
        ("price", _decimal, 12),
        ("stock", _integer, MAX_INT_UNSIGNED),
        ("created_at", _timestamp, 0),
        ("updated_at", _timestamp, 0),
    ),
    "order": (
        ("customer_id", _text, ID_LENGTH),
        ("status", _text, 16),
        ("total", _decimal, 22),
        ("line_count", _counted, 0),
        ("created_at", _timestamp, 0),
        ("updated_at", _timestamp, 0),
    ),
}
