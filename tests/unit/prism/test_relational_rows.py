from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from prism.errors import SchemaViolationError
from prism.relational.rows import CUSTOMERS, ORDERS, PRODUCTS, OrderLineRow, row_change
from prism.relational.writer import collapse, upsert_statement
from tests.support.relational import change


def test_a_product_maps_to_typed_columns_and_its_full_item() -> None:
    row = row_change(change("product", "BOOK-1", 7))

    assert row.table is PRODUCTS
    assert row.values == (
        "Product 7",
        "cat-1",
        Decimal("7.99"),
        7,
        datetime(2026, 11, 2, 9, 5, 0, 123),
        datetime(2026, 11, 2, 9, 5, 7),
    )
    assert '"price":7.99' in row.item
    assert (row.id, row.version, row.deleted) == ("BOOK-1", 7, False)


def test_an_order_carries_its_lines_numbered_in_order_and_counts_them() -> None:
    row = row_change(change("order", "o_1", 4))

    assert row.table is ORDERS
    assert row.lines == (OrderLineRow(1, "sku-1", 1, Decimal("1.50")), OrderLineRow(2, "sku-2", 2, Decimal("2.50")))
    assert row.values[3] == 2, "line_count"


def test_a_delete_is_a_tombstone_without_data() -> None:
    row = row_change(change("customer", "c_1", 9, deleted=True))

    assert row.deleted is True
    assert row.values == (None,) * len(CUSTOMERS.columns)
    assert row.lines == ()
    assert row.row()[-2:] == (1, 9)


@pytest.mark.parametrize(
    ("kind", "overrides", "reason"),
    [
        ("product", {"price": "12.50"}, "price: expected a number, got str '12.50'"),
        ("product", {"price": Decimal("1.234")}, "price: more than 2 decimal places"),
        ("product", {"price": Decimal("12345678901")}, "does not fit DECIMAL(12, 2)"),
        ("product", {"stock": -1}, "stock: -1 is outside"),
        ("product", {"stock": Decimal("2.5")}, "stock: expected an integer"),
        ("product", {"stock": True}, "stock: expected an integer"),
        ("customer", {"email": 42}, "email: expected a string, got int 42"),
        ("customer", {"name": "x" * 201}, "name: longer than 200 characters"),
        ("customer", {"created_at": "yesterday"}, "created_at: not an ISO 8601 timestamp"),
        ("customer", {"created_at": "2026-11-02T09:05:00"}, "has no time zone"),
        ("order", {"lines": "none"}, "lines: expected a list"),
        ("order", {"lines": [{"sku": "a", "qty": "2", "unit_price": Decimal(1)}]}, "lines[0].qty: expected an integer"),
        ("order", {"lines": [{"sku": "a", "qty": 2}]}, "lines[0]: qty and unit_price are required"),
        ("order", {"total": [1]}, "total: expected a number, got list"),
    ],
)
def test_a_payload_that_does_not_fit_the_schema_is_refused_with_a_clear_reason(
    kind: str, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SchemaViolationError) as refused:
        row_change(change(kind, "id-1", 3, **overrides))

    assert reason in str(refused.value)
    assert f"{kind} 'id-1' v3" in str(refused.value)


def test_absent_optional_fields_are_null_not_refused() -> None:
    row = row_change(change("customer", "c_2", 1, email=None, tier=None))

    assert row.values[0] is None
    assert row.values[2] is None


def test_collapse_keeps_the_newest_change_per_key() -> None:
    changes = [row_change(change("product", "p", v)) for v in (3, 9, 5)] + [row_change(change("customer", "p", 1))]

    newest = collapse(changes)

    assert {key: c.version for key, c in newest.items()} == {("products", "p"): 9, ("customers", "p"): 1}


def test_the_upsert_guards_every_column_and_assigns_version_last() -> None:
    rows = [row_change(change("customer", f"c_{n}", n)) for n in (1, 2)]

    sql, parameters = upsert_statement(CUSTOMERS, rows)

    assert sql.startswith(
        "INSERT INTO customers (id, email, name, tier, created_at, updated_at, item, deleted, version) VALUES ("
    )
    assert sql.count("(%s, %s, %s, %s, %s, %s, %s, %s, %s)") == 2
    updates = re.split(r", (?=\w+ = IF)", sql.split(" ON DUPLICATE KEY UPDATE ")[1])
    assert updates[-1] == "version = IF(VALUES(version) > version, VALUES(version), version)"
    assert all(
        u.startswith(f"{c} = IF(VALUES(version) > version, VALUES({c}), {c})")
        for u, c in zip(updates[:-1], CUSTOMERS.all_columns[1:-1], strict=True)
    )
    assert len(parameters) == 18
