"""The writer renders row values into its statements: each literal must be exactly what pymysql would send."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymysql.converters import escape_item

from prism.changes import exact_json
from prism.relational.writer import json_literal, sql_literal

text = st.text(st.characters(exclude_categories=["Cs"]))


@given(value=text)
def test_a_string_is_escaped_exactly_as_pymysql_escapes_it(value: str) -> None:
    assert sql_literal(value) == escape_item(value, "utf8mb4")


@given(value=st.integers(-(2**63), 2**64) | st.none())
def test_integers_and_null_are_pymysqls_literals(value: int | None) -> None:
    assert sql_literal(value) == escape_item(value, "utf8mb4")


@given(value=st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**20), max_value=10**20))
def test_a_decimal_is_written_in_plain_notation_as_pymysql_writes_it(value: Decimal) -> None:
    assert sql_literal(value) == escape_item(value, "utf8mb4")
    assert "E" not in sql_literal(value)


@pytest.mark.parametrize(
    ("moment", "literal"),
    [
        (datetime(2026, 11, 2, 9, 5, 0, 123), "'2026-11-02 09:05:00.000123'"),
        (datetime(2026, 11, 2, 9, 5), "'2026-11-02 09:05:00'"),
    ],
)
def test_a_naive_utc_datetime_is_a_datetime_literal(moment: datetime, literal: str) -> None:
    assert sql_literal(moment) == literal
    assert sql_literal(moment) == escape_item(moment, "utf8mb4")


@pytest.mark.parametrize("value", [1.5, True, datetime(2026, 1, 1, tzinfo=UTC), Decimal("NaN"), b"x", [1]])
def test_any_other_value_is_refused_rather_than_guessed(value: object) -> None:
    with pytest.raises(TypeError):
        sql_literal(value)


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | text, lambda inner: st.lists(inner) | st.dictionaries(text, inner)
    )
)
def test_json_text_needs_only_its_backslashes_and_quotes_escaped(value: object) -> None:
    document = exact_json.dumps(value)

    assert json_literal(document) == escape_item(document, "utf8mb4").replace('\\"', '"')


def test_text_that_is_not_exact_json_output_is_escaped_fully() -> None:
    assert json_literal('{"a": "line\nbreak"}') == escape_item('{"a": "line\nbreak"}', "utf8mb4")
