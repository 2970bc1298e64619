"""Writes a batch of row changes to the projection tables: one transaction, one multi-row statement per table.

**Version guard.** Every upsert is ``INSERT … ON DUPLICATE KEY UPDATE col = IF(VALUES(version) > version,
VALUES(col), col), …, version = IF(…)``, with ``version`` assigned last: MySQL evaluates the assignments left
to right, so every earlier ``IF`` still compares with the stored version. A change that is not newer than the
row leaves it untouched, whatever order, duplication or batching the changes arrive in (DESIGN invariant 3).
``VALUES()`` rather than ``… AS new`` keeps one statement for Aurora MySQL 8 and MariaDB 10.11.

**Order lines** change only together with a newer order version. Inside the transaction the orders of the
batch are read ``FOR UPDATE`` (which locks them against a concurrent sink); for each order whose incoming
version is newer than the stored one, all of its lines are deleted and the change's lines inserted. A stale
order change touches no line, so it can never mix its lines into a newer order.

**Literals.** The rows' values are rendered into the statement by ``sql_literal``, which knows the few types
a row holds (str, int, Decimal, naive datetime, None) and escapes strings with pymysql's own escaping.
pymysql's generic parameter path dispatches on every value and costs more than the statement's trip to the
server; the item JSON, which never holds a control character, only needs its backslashes and quotes
escaped. A server in NO_BACKSLASH_ESCAPES mode gets pymysql's parameter path instead.

**Narrowing failures.** If the transaction fails because a row's data is refused (a data error such as out of
range, which the checks in rows.py should already prevent), the batch is bisected: each half is written in
its own transaction, down to the single changes that fail, which are ``refused`` with MySQL's message; the rest
commit. Transient errors (lost connection, deadlock, read-only writer after failover) are retried by the
connection manager within the time budget; if they outlast it, or a systemic error occurs (a missing table,
no privilege), every change not yet committed is ``unavailable`` and SQS retries it later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import pymysql
from pymysql.constants import SERVER_STATUS
from pymysql.converters import escape_string as _pymysql_escape_string

from prism.errors import RelationalUnavailableError
from prism.observability import logger
from prism.relational.rows import CUSTOMERS, ORDER_LINE_COLUMNS, ORDERS, PRODUCTS, RowChange, TableSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

T = TypeVar("T")

#: MySQL errors caused by a row's data: the row is at fault, not the database, so the batch is narrowed.
DATA_ERROR_CODES: Final = frozenset(
    {
        1048,  # column cannot be null
        1264,  # out of range value
        1265,  # data truncated
        1292,  # incorrect datetime/decimal value
        1366,  # incorrect string/integer value
        1406,  # data too long
        1690,  # value out of range
        3140,  # invalid JSON text (MySQL)
        3819,  # CHECK constraint violated (MySQL 8)
        4025,  # CHECK constraint failed (MariaDB, and its JSON_VALID check on JSON columns)
    }
)

#: Statements are cut at about this many bytes of item JSON, far below max_allowed_packet (16 MB in
#: MariaDB 10.11, 64 MB in Aurora MySQL 8); a batch of ordinary items is one statement per table.
MAX_STATEMENT_BYTES: Final = 4 * 1024 * 1024
_ROW_OVERHEAD_BYTES: Final = 256
_CONTROL_CHARACTER: Final = re.compile(r"[\x00-\x1f]")
#: pymysql's string escaping (backslash escapes), typed: pymysql ships no annotations.
escape_string: Final[Callable[[str], str]] = _pymysql_escape_string


class Runner(Protocol):
    """What the writer needs of the connection manager: run ``work`` on a live connection, retrying
    transient errors until ``deadline`` (time.monotonic), then RelationalUnavailableError."""

    connections_opened: int

    def run(self, work: Callable[[Any], T], *, deadline: float) -> T: ...


@dataclass
class WriteOutcome:
    written: list[RowChange] = field(default_factory=list)  # committed (applied, or stale and left alone)
    refused: list[tuple[RowChange, str]] = field(default_factory=list)  # the row's data was refused
    unavailable: list[RowChange] = field(default_factory=list)  # not committed; retry later
    unavailable_reason: str = ""
    transactions: int = 0
    rows_affected: int = 0


def collapse(changes: Iterable[RowChange]) -> dict[tuple[str, str], RowChange]:
    """The newest change per key (table, id). Equal versions are the same change delivered twice."""
    newest: dict[tuple[str, str], RowChange] = {}
    for change in changes:
        kept = newest.get(change.key)
        if kept is None or change.version > kept.version:
            newest[change.key] = change
    return newest


class ProjectionWriter:
    def __init__(self, runner: Runner, *, max_statement_bytes: int = MAX_STATEMENT_BYTES) -> None:
        self._runner = runner
        self._max_statement_bytes = max_statement_bytes

    @property
    def connections_opened(self) -> int:
        """Connections the runner has opened so far (one per environment, unless one died)."""
        return self._runner.connections_opened

    def write(self, changes: Sequence[RowChange], *, deadline: float) -> WriteOutcome:
        """Write ``changes`` (at most one per key; see ``collapse``) and say what became of each."""
        outcome = WriteOutcome()
        try:
            self._write_narrowing(list(changes), deadline, outcome)
        except (RelationalUnavailableError, pymysql.MySQLError) as exc:
            done = {c.key for c in outcome.written} | {c.key for c, _ in outcome.refused}
            outcome.unavailable = [c for c in changes if c.key not in done]
            outcome.unavailable_reason = str(exc)
            logger.warning(
                "Relational batch not written; its changes will be retried",
                extra={"changes": len(outcome.unavailable), "error": repr(exc)},
            )
        return outcome

    def _write_narrowing(self, changes: list[RowChange], deadline: float, outcome: WriteOutcome) -> None:
        try:
            affected = self._runner.run(lambda connection: self._transaction(connection, changes), deadline=deadline)
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            if code not in DATA_ERROR_CODES:
                raise
            if len(changes) == 1:
                outcome.refused.append((changes[0], f"MySQL error {code}: {exc.args[1] if len(exc.args) > 1 else exc}"))
                return
            middle = len(changes) // 2
            self._write_narrowing(changes[:middle], deadline, outcome)
            self._write_narrowing(changes[middle:], deadline, outcome)
            return
        outcome.transactions += 1
        outcome.rows_affected += affected
        outcome.written.extend(changes)

    def _transaction(self, connection: Any, changes: Sequence[RowChange]) -> int:
        """One transaction: the orders' lines, then one upsert per table. Returns MySQL's affected rows."""
        by_table: dict[str, list[RowChange]] = {}
        for change in changes:
            by_table.setdefault(change.table.name, []).append(change)
        render = not connection.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
        connection.begin()
        try:
            affected = 0
            with connection.cursor() as cursor:
                if ORDERS.name in by_table:
                    affected += self._replace_lines(cursor, by_table[ORDERS.name], render=render)
                for spec in (CUSTOMERS, PRODUCTS, ORDERS):
                    for chunk in self._chunks(by_table.get(spec.name, [])):
                        if render:
                            affected += cursor.execute(rendered_upsert(spec, chunk))
                        else:
                            affected += cursor.execute(*upsert_statement(spec, chunk))
            connection.commit()
        except BaseException:
            _rollback_quietly(connection)
            raise
        return affected

    def _replace_lines(self, cursor: Any, orders: list[RowChange], *, render: bool) -> int:
        """Replace the lines of every order whose change is newer than the stored order (locked first)."""
        ids = sorted(o.id for o in orders)  # one lock order for every sink instance
        placeholders = ", ".join(["%s"] * len(ids))
        cursor.execute(f"SELECT id, version FROM orders WHERE id IN ({placeholders}) FOR UPDATE", ids)  # noqa: S608
        stored = {row[0]: int(row[1]) for row in cursor.fetchall()}
        newer = sorted((o for o in orders if o.version > stored.get(o.id, -1)), key=lambda o: o.id)
        if not newer:
            return 0
        affected = 0
        replaced = [o.id for o in newer if o.id in stored]  # a new order has no lines yet
        if replaced:
            affected += cursor.execute(
                f"DELETE FROM order_lines WHERE order_id IN ({', '.join(['%s'] * len(replaced))})",  # noqa: S608
                replaced,
            )
        rows = [
            (o.id, line.line_no, line.sku, line.qty, line.unit_price, o.version)
            for o in newer
            if not o.deleted
            for line in o.lines
        ]
        insert = f"INSERT INTO order_lines ({', '.join(ORDER_LINE_COLUMNS)}) VALUES "  # noqa: S608  (constants)
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            if render:
                affected += cursor.execute(insert + ", ".join(_rendered_row(row) for row in chunk))
            else:
                row_placeholder = "(" + ", ".join(["%s"] * len(ORDER_LINE_COLUMNS)) + ")"
                affected += cursor.execute(
                    insert + ", ".join([row_placeholder] * len(chunk)), [value for row in chunk for value in row]
                )
        return affected

    def _chunks(self, changes: list[RowChange]) -> Iterable[list[RowChange]]:
        chunk: list[RowChange] = []
        size = 0
        for change in changes:
            row_size = len(change.item) + _ROW_OVERHEAD_BYTES
            if chunk and size + row_size > self._max_statement_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(change)
            size += row_size
        if chunk:
            yield chunk


def upsert_statement(spec: TableSpec, changes: Sequence[RowChange]) -> tuple[str, list[Any]]:
    """The version-guarded multi-row upsert of ``changes`` into ``spec``'s table, with ``%s`` placeholders,
    and its parameters: pymysql's parameter path."""
    row_placeholder = "(" + ", ".join(["%s"] * len(spec.all_columns)) + ")"
    sql = _insert_into(spec) + ", ".join([row_placeholder] * len(changes)) + _guarded_update(spec)
    return sql, [value for change in changes for value in change.row()]


def rendered_upsert(spec: TableSpec, changes: Sequence[RowChange]) -> str:
    """The same statement as ``upsert_statement``, with the values rendered in (``sql_literal``)."""
    return _insert_into(spec) + ", ".join(_rendered_change(change) for change in changes) + _guarded_update(spec)


def _insert_into(spec: TableSpec) -> str:
    return f"INSERT INTO {spec.name} ({', '.join(spec.all_columns)}) VALUES "  # noqa: S608  (names are constants)


def _guarded_update(spec: TableSpec) -> str:
    columns = spec.all_columns
    guarded = [f"{c} = IF(VALUES(version) > version, VALUES({c}), {c})" for c in columns if c not in ("id", "version")]
    guarded.append("version = IF(VALUES(version) > version, VALUES(version), version)")  # last: see module doc
    return " ON DUPLICATE KEY UPDATE " + ", ".join(guarded)


def sql_literal(value: Any) -> str:
    """``value`` as a MySQL literal, for the types a row holds; anything else is a TypeError.

    Strings go through pymysql's ``escape_string`` (backslash escapes: the server must not be in
    NO_BACKSLASH_ESCAPES mode, which the writer checks). A Decimal is written in plain notation (never an
    exponent), a datetime as ``'YYYY-MM-DD HH:MM:SS[.ffffff]'`` (naive UTC, as rows.py makes them).
    """
    kind = type(value)
    if kind is str:
        return "'" + escape_string(value) + "'"
    if kind is int:
        return str(value)
    if value is None:
        return "NULL"
    if kind is Decimal:
        if not value.is_finite():
            raise TypeError(f"{value} has no MySQL literal")
        return format(value, "f")
    if kind is datetime and value.tzinfo is None:
        moment: datetime = value
        return "'" + moment.isoformat(" ") + "'"
    raise TypeError(f"no MySQL literal for {kind.__name__} {value!r}")


def json_literal(text: str) -> str:
    """JSON text as a MySQL string literal. JSON text has no raw control character (JSON escapes them), so
    only backslashes and single quotes need escaping; a double quote is plain inside single quotes."""
    if _CONTROL_CHARACTER.search(text):  # not JSON text from exact_json after all: escape it fully
        return "'" + escape_string(text) + "'"
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _rendered_change(change: RowChange) -> str:
    values = [sql_literal(change.id), *map(sql_literal, change.values)]
    values += [json_literal(change.item), "1" if change.deleted else "0", str(change.version)]
    return "(" + ", ".join(values) + ")"


def _rendered_row(row: tuple[Any, ...]) -> str:
    return "(" + ", ".join(map(sql_literal, row)) + ")"


def _rollback_quietly(connection: Any) -> None:
    """Roll back after a failure; a rollback that fails too (the connection is gone) is logged, and the
    original error is what the caller sees."""
    try:
        connection.rollback()
    except (pymysql.MySQLError, OSError) as exc:
        logger.info("Rollback after a failed transaction failed too", extra={"error": repr(exc)})
