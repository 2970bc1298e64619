"""The migrations against the real private MariaDB, each test in a fresh database of its own."""

from __future__ import annotations

import re
import shutil
import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql
import pytest

from prism.relational.migrations import MIGRATIONS_DIR
from prism.relational.schema import MigrationError, apply_migrations
from prism_local.stack.control import stack_up
from prism_local.stack.relational_schema import projection_source_file
from tests.support.stacks import provision_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

SHIPPED = ["0001", "0002"]


def connect(config: LocalConfig, database: str | None = None) -> Any:
    return pymysql.connect(
        host=config.host, port=config.ports.mariadb, user="root", password="", database=database, autocommit=True
    )


@pytest.fixture
def database(local_servers: LocalConfig) -> Iterator[Any]:
    """A connection to a database created for this test alone, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    with connect(local_servers) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        connection = pymysql.connect(
            host=local_servers.host, port=local_servers.ports.mariadb, user="root", password="", database=name
        )
        with connection:
            yield connection
    finally:
        with connect(local_servers) as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A copy of the shipped migrations that a test may edit."""
    return Path(shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations"))


def query(connection: Any, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = list(cursor.fetchall())
    connection.commit()
    return rows


def test_all_migrations_apply_and_are_recorded(database: Any) -> None:
    applied = apply_migrations(database)

    assert applied[: len(SHIPPED)] == SHIPPED
    tables = {row[0]: row[1] for row in query(database, "SHOW FULL TABLES")}
    for table in ("customers", "products", "orders", "order_lines", "schema_migrations"):
        assert tables[table] == "BASE TABLE"
    for view in ("v_customers", "v_products", "v_orders", "v_order_lines"):
        assert tables[view] == "VIEW"
    recorded = query(database, "SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")
    assert [row[0] for row in recorded] == applied
    assert all(len(row[1]) == 64 and row[2] is not None for row in recorded)


def test_a_second_run_applies_nothing(database: Any) -> None:
    first = apply_migrations(database)

    assert first
    assert apply_migrations(database) == []


def test_a_changed_applied_file_is_refused_by_name(database: Any, migrations: Path) -> None:
    apply_migrations(database, migrations)
    edited = migrations / "V0002__analytics_views.sql"
    edited.write_text(edited.read_text() + "\n-- an afterthought\n")

    with pytest.raises(MigrationError, match=r"V0002__analytics_views\.sql was changed after it was applied"):
        apply_migrations(database, migrations)


def test_a_new_file_numbered_before_an_applied_one_is_refused(database: Any, migrations: Path) -> None:
    apply_migrations(database, migrations)
    (migrations / "V0000__too_early.sql").write_text("CREATE TABLE IF NOT EXISTS early (id INT);\n")

    with pytest.raises(MigrationError, match=r"V0000__too_early\.sql sorts before"):
        apply_migrations(database, migrations)


def test_a_failed_file_is_not_recorded_and_runs_again_once_fixed(database: Any, migrations: Path) -> None:
    apply_migrations(database, migrations)
    broken = migrations / "V9000__broken.sql"
    broken.write_text("CREATE TABLE IF NOT EXISTS extra (id INT);\nCREATE TABLE missing_paren (id INT;\n")

    with pytest.raises(MigrationError, match=r"V9000__broken\.sql: statement 2 of 2 failed"):
        apply_migrations(database, migrations)
    assert query(database, "SHOW TABLES LIKE 'extra'")  # the first statement stays applied
    assert not query(database, "SELECT 1 FROM schema_migrations WHERE version = '9000'")

    broken.write_text("CREATE TABLE IF NOT EXISTS extra (id INT);\nCREATE TABLE IF NOT EXISTS fixed (id INT);\n")
    assert apply_migrations(database, migrations) == ["9000"]


def test_views_hide_tombstones_and_the_lines_of_deleted_orders(database: Any) -> None:
    apply_migrations(database)
    with database.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO customers (id, email, name, tier, created_at, item, version, deleted) "
            "VALUES (%s, %s, 'Ada', 'standard', '2025-01-31 09:05:00.000123', '{}', %s, %s)",
            [("c_live", "ada@example.com", 1, 0), ("c_gone", None, 2, 1)],
        )
        cursor.executemany(
            "INSERT INTO products (id, name, category, price, stock, item, version, deleted) "
            "VALUES (%s, 'Book', 'books', %s, 3, '{}', %s, %s)",
            [("BOOK-1", Decimal("19.99"), 1, 0), ("book-1", None, 2, 1)],
        )
        cursor.executemany(
            "INSERT INTO orders (id, customer_id, status, total, line_count, item, version, deleted) "
            "VALUES (%s, 'c_live', 'PENDING', %s, 1, '{}', 5, %s)",
            [("o_live", Decimal("39.98"), 0), ("o_gone", None, 1)],
        )
        cursor.executemany(
            "INSERT INTO order_lines (order_id, line_no, sku, qty, unit_price, order_version) "
            "VALUES (%s, 1, 'BOOK-1', 2, %s, 4)",
            [("o_live", Decimal("19.99")), ("o_gone", Decimal("19.99"))],
        )
    database.commit()

    assert query(database, "SELECT id FROM v_customers") == [("c_live",)]
    assert query(database, "SELECT id, sku FROM v_products") == [("BOOK-1", "BOOK-1")]
    assert query(database, "SELECT id FROM v_orders") == [("o_live",)]
    assert query(database, "SELECT order_id, amount, order_status FROM v_order_lines") == [
        ("o_live", Decimal("39.98"), "PENDING")
    ]


def test_money_is_exact_and_items_are_json(database: Any) -> None:
    apply_migrations(database)
    item = '{"sku": "X-1", "price": "9999999999.99", "tags": ["a", "b"]}'
    with database.cursor() as cursor:
        cursor.execute(
            "INSERT INTO products (id, name, category, price, stock, item, version) "
            "VALUES ('X-1', 'Max', 'misc', %s, 0, %s, 18446744073709551615)",
            (Decimal("9999999999.99"), item),
        )
        cursor.execute(
            "INSERT INTO orders (id, status, total, item, version) VALUES ('o_big', 'PAID', %s, '{}', 1)",
            (Decimal("99999999999999999999.99"),),
        )
    database.commit()

    assert query(
        database, "SELECT price, JSON_VALUE(item, '$.price'), JSON_EXTRACT(item, '$.tags[1]'), version FROM products"
    ) == [(Decimal("9999999999.99"), "9999999999.99", '"b"', 18446744073709551615)]
    assert query(database, "SELECT total FROM orders") == [(Decimal("99999999999999999999.99"),)]
    with pytest.raises(pymysql.MySQLError), database.cursor() as cursor:
        cursor.execute("INSERT INTO customers (id, item, version) VALUES ('c_bad', 'not json', 1)")
    database.rollback()


def test_stack_up_migrates_the_stacks_own_database_and_reports_it(local_servers: LocalConfig) -> None:
    messages: list[str] = []
    config = local_servers.with_overrides(stack_name=f"t{uuid.uuid4().hex[:8]}")

    stack_up(config, progress=messages.append)

    pattern = rf"relational schema: \d+ migration\(s\) applied to {config.database_name}"
    assert any(re.fullmatch(pattern, m) for m in messages), messages
    with connect(local_servers, config.database_name) as connection:
        recorded = [row[0] for row in query(connection, "SELECT version FROM schema_migrations ORDER BY version")]
    assert recorded[: len(SHIPPED)] == SHIPPED


def test_the_projection_is_reset_when_its_dynamodb_is_gone_and_kept_while_it_is_not(local_servers: LocalConfig) -> None:
    config = provision_stack(local_servers)
    with connect(config, config.database_name) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO customers (id, item, version) VALUES ('c-1', '{}', 1)")
        connection.commit()

    stack_up(config)  # the same moto: DynamoDB still holds what the row mirrors
    with connect(config, config.database_name) as connection:
        assert query(connection, "SELECT id FROM customers") == [("c-1",)]

    # As if moto had restarted (empty) since the database was projected: the record names another instance.
    projection_source_file(config).write_text("an-earlier-moto\n", encoding="utf-8")
    messages: list[str] = []
    stack_up(config, progress=messages.append)

    assert (
        f"relational schema: {config.database_name} mirrored an earlier moto (its DynamoDB is gone); reset" in messages
    )
    with connect(config, config.database_name) as connection:
        assert query(connection, "SELECT id FROM customers") == []
        assert len(query(connection, "SELECT version FROM schema_migrations")) == len(SHIPPED)
