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
from typing import TYPE_CHECKING, Any, Final

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


@dataclass(frozen=True)
class OrderLineRow:
    line_no: int
    sku: str
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class RowChange:
    """What one change writes: a row of ``table`` (and, for a live order, all of its lines)."""

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
    fields = _FIELDS[spec.entity]
    values = tuple(fields[column](image, f"{where}: {column}") for column in spec.columns)
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


def _text(name: str, max_length: int) -> Callable[[Mapping[str, Any], str], str | None]:
    return lambda image, where: _check_text(image.get(name), where, max_length)


def _check_decimal(value: Any, where: str, digits: int) -> Decimal | None:
    """A number for DECIMAL(digits, 2): int or exact Decimal (never a float or a string), at most 2 places."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise SchemaViolationError(f"{where}: expected a number, got {_shown(value)}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise SchemaViolationError(f"{where}: expected a finite number, got {amount}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(CENT):
        raise SchemaViolationError(f"{where}: more than 2 decimal places ({amount})")
    if abs(amount) >= _DECIMAL_LIMITS[digits]:
        raise SchemaViolationError(f"{where}: {amount} does not fit DECIMAL({digits}, 2)")
    return amount if exponent == -2 else amount.quantize(CENT)


def _decimal(name: str, digits: int) -> Callable[[Mapping[str, Any], str], Decimal | None]:
    return lambda image, where: _check_decimal(image.get(name), where, digits)


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


def _integer(name: str, high: int) -> Callable[[Mapping[str, Any], str], int | None]:
    return lambda image, where: _check_int(image.get(name), where, 0, high)


def _timestamp(name: str) -> Callable[[Mapping[str, Any], str], datetime | None]:
    """An ISO 8601 timestamp with a zone, as the API writes them; stored as naive UTC (DATETIME(6))."""

    def check(image: Mapping[str, Any], where: str) -> datetime | None:
        value = image.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise SchemaViolationError(f"{where}: expected an ISO 8601 timestamp, got {_shown(value)}")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise SchemaViolationError(f"{where}: not an ISO 8601 timestamp: {value!r}") from exc
        if moment.tzinfo is None:
            raise SchemaViolationError(f"{where}: timestamp {value!r} has no time zone")
        return moment.astimezone(UTC).replace(tzinfo=None)

    return check


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


_FIELDS: Final[Mapping[str, Mapping[str, Callable[[Mapping[str, Any], str], Any]]]] = {
    "customer": {
        "email": _text("email", 254),
        "name": _text("name", 200),
        "tier": _text("tier", 16),
        "created_at": _timestamp("created_at"),
        "updated_at": _timestamp("updated_at"),
    },
    "product": {
        "name": _text("name", 200),
        "category": _text("category", 64),
        "price": _decimal("price", 12),
        "stock": _integer("stock", MAX_INT_UNSIGNED),
        "created_at": _timestamp("created_at"),
        "updated_at": _timestamp("updated_at"),
    },
    "order": {
        "customer_id": _text("customer_id", ID_LENGTH),
        "status": _text("status", 16),
        "total": _decimal("total", 22),
        "line_count": lambda _image, _where: None,  # replaced by the number of lines
        "created_at": _timestamp("created_at"),
        "updated_at": _timestamp("updated_at"),
    },
}
