"""The analytics queries of ``sql/analytics/``: listed, read, run against a MySQL connection, shown as text.

Each file holds one SELECT over the projection's views (``v_*``), written to run unchanged on Aurora MySQL 8
and MariaDB 10.11, behind a comment header that says what it answers (docs/relational.md shows them all).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import pymysql.cursors

from prism.relational.migrations import MigrationError, split_statements
from prism_local.config import REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

ANALYTICS_DIR = REPO_ROOT / "sql" / "analytics"


class AnalyticsError(ValueError):
    """An analytics query that does not exist, or a file that is not exactly one statement."""


class QueryResult(NamedTuple):
    """What a query returned: its column names and its rows, in the query's order."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def analytics_queries(directory: Path = ANALYTICS_DIR) -> dict[str, str]:
    """Every ``*.sql`` file of ``directory`` by name (the file name without ``.sql``), as written, sorted."""
    if not directory.is_dir():
        raise AnalyticsError(f"{directory}: no such directory of analytics queries")
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.sql"))}


def analytics_query(name: str, directory: Path = ANALYTICS_DIR) -> str:
    """The SQL of the query ``name`` (e.g. ``top_customers``)."""
    queries = analytics_queries(directory)
    if name not in queries:
        raise AnalyticsError(f"no analytics query {name!r} in {directory} (there are: {', '.join(queries) or 'none'})")
    return queries[name]


def statement_of(sql: str, *, source: str = "<sql>") -> str:
    """The one statement of ``sql``: its comment lines and its closing ``;`` removed.

    The server is sent exactly one statement without a terminator, as pymysql expects (it does not enable
    multi-statements); a file holding two would otherwise run only in part, or not at all.
    """
    try:
        statements = split_statements(sql, source=source)
    except MigrationError as exc:
        raise AnalyticsError(str(exc)) from exc
    if len(statements) != 1:
        raise AnalyticsError(f"{source}: an analytics query is one statement, not {len(statements)}")
    return statements[0]


def run_query(connection: Any, sql: str, *, source: str = "<sql>") -> QueryResult:
    """Run the analytics query ``sql`` on ``connection`` (pymysql, any cursor class, database selected)."""
    statement = statement_of(sql, source=source)
    # A plain cursor whatever the connection's default (root_connection hands out dict rows), so every row
    # is a tuple in the order of ``columns``.
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute(statement)
        columns = tuple(str(column[0]) for column in cursor.description or ())
        rows = tuple(tuple(row) for row in cursor.fetchall())
    return QueryResult(columns, rows)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "  ") -> list[str]:
    """``rows`` under ``columns`` as aligned plain-text lines: numbers right-aligned, text left-aligned, and a
    line that says so when there are no rows."""
    cells = [[_cell(value) for value in row] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in rows)
        for i in range(len(columns))
    ]
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return (indent + "  ".join(padded)).rstrip()

    lines = [line(columns), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in cells)
    if not rows:
        lines.append(f"{indent}(no rows)")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
