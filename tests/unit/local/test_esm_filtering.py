"""Lambda event filtering: the documented rules by example, the invariants by property."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism_local.runtime.esm.filtering import (
    FilterCriteriaError,
    compile_filter_criteria,
    compile_pattern,
)


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    return compile_pattern(json.dumps(pattern)).matches(record)


DDB_RECORD = {
    "eventName": "INSERT",
    "dynamodb": {
        "Keys": {"pk": {"S": "customer#1"}},
        "NewImage": {"pk": {"S": "customer#1"}, "name": {"S": "Alice"}, "tier": {"S": ""}, "gone": {"NULL": True}},
    },
}


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [
        # exact values, nested keys, AND across keys, OR within a leaf
        ({"eventName": ["INSERT"]}, DDB_RECORD, True),
        ({"eventName": ["MODIFY", "INSERT"]}, DDB_RECORD, True),
        ({"eventName": ["MODIFY"]}, DDB_RECORD, False),
        ({"dynamodb": {"NewImage": {"name": {"S": ["Alice"]}}}}, DDB_RECORD, True),
        ({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"name": {"S": ["Bob"]}}}}, DDB_RECORD, False),
        ({"dynamodb": {"OldImage": {"name": {"S": ["Alice"]}}}}, DDB_RECORD, False),
        # empty string and null
        ({"dynamodb": {"NewImage": {"tier": {"S": [""]}}}}, DDB_RECORD, True),
        ({"a": [None]}, {"a": None}, True),
        ({"a": [None]}, {"a": "x"}, False),
        ({"a": [None]}, {}, False),
        ({"a": [""]}, {"a": None}, False),
        # numbers and booleans are JSON values, not strings
        ({"n": [5]}, {"n": 5.0}, True),
        ({"n": [5]}, {"n": "5"}, False),
        ({"b": [True]}, {"b": True}, True),
        ({"b": [True]}, {"b": 1}, False),
        ({"n": [1]}, {"n": True}, False),
        # prefix / suffix / equals-ignore-case
        ({"r": [{"prefix": "us-"}]}, {"r": "us-east-1"}, True),
        ({"r": [{"prefix": "us-"}]}, {"r": "eu-west-1"}, False),
        ({"r": [{"prefix": "us-"}]}, {"r": 5}, False),
        ({"f": [{"suffix": ".png"}]}, {"f": "a.png"}, True),
        ({"f": [{"suffix": ".png"}]}, {"f": "a.PNG"}, False),
        ({"f": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"f": "a.PNG"}, True),
        ({"r": [{"prefix": {"equals-ignore-case": "US-"}}]}, {"r": "us-east-1"}, True),
        ({"n": [{"equals-ignore-case": "alice"}]}, {"n": "ALICE"}, True),
        ({"n": [{"equals-ignore-case": "alice"}]}, {"n": "bob"}, False),
        # anything-but: value, list, prefix, suffix, ignore case; needs the key
        ({"s": [{"anything-but": "raining"}]}, {"s": "sunny"}, True),
        ({"s": [{"anything-but": "raining"}]}, {"s": "raining"}, False),
        ({"s": [{"anything-but": ["a", "b"]}]}, {"s": "b"}, False),
        ({"s": [{"anything-but": ["a", "b"]}]}, {"s": "c"}, True),
        ({"s": [{"anything-but": [1, 2]}]}, {"s": 2.0}, False),
        ({"s": [{"anything-but": [1, 2]}]}, {"s": "2"}, True),
        ({"s": [{"anything-but": "x"}]}, {}, False),
        ({"s": [{"anything-but": {"prefix": "us-"}}]}, {"s": "eu-west-1"}, True),
        ({"s": [{"anything-but": {"prefix": "us-"}}]}, {"s": "us-east-1"}, False),
        ({"s": [{"anything-but": {"suffix": ".png"}}]}, {"s": "a.jpg"}, True),
        ({"s": [{"anything-but": {"equals-ignore-case": ["A", "B"]}}]}, {"s": "b"}, False),
        ({"s": [{"anything-but": {"equals-ignore-case": "A"}}]}, {"s": "c"}, True),
        # numeric
        ({"p": [{"numeric": ["=", 100]}]}, {"p": 100}, True),
        ({"p": [{"numeric": [">", 10, "<=", 20]}]}, {"p": 20}, True),
        ({"p": [{"numeric": [">", 10, "<=", 20]}]}, {"p": 10}, False),
        ({"p": [{"numeric": [">=", 10, "<", 20]}]}, {"p": 10}, True),
        ({"p": [{"numeric": ["<", 0]}]}, {"p": -0.5}, True),
        ({"p": [{"numeric": [">", 0]}]}, {"p": "5"}, False),
        # exists
        ({"e": [{"exists": True}]}, {"e": "x"}, True),
        ({"e": [{"exists": True}]}, {"e": None}, True),
        ({"e": [{"exists": True}]}, {}, False),
        ({"e": [{"exists": False}]}, {}, True),
        ({"e": [{"exists": False}]}, {"e": 1}, False),
        ({"a": {"b": [{"exists": False}]}}, {}, True),
        ({"a": {"b": [{"exists": False}]}}, {"a": "scalar"}, True),
        ({"a": {"b": [{"exists": True}]}}, {"a": "scalar"}, False),
        # arrays in the record: any element
        ({"tags": ["red"]}, {"tags": ["blue", "red"]}, True),
        ({"tags": ["red"]}, {"tags": ["blue"]}, False),
        ({"items": {"sku": ["A"]}}, {"items": [{"sku": "B"}, {"sku": "A"}]}, True),
        # $or across fields
        ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"b": "2"}, True),
        ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"a": "2", "b": "1"}, False),
        ({"c": ["x"], "$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"a": "1", "c": "y"}, False),
    ],
)
def test_documented_rules(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, record) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        "[]",
        "{}",
        '"text"',
        '{"a": "bare value"}',
        '{"a": []}',
        '{"a": {}}',
        '{"a": [{"cidr": "10.0.0.0/24"}]}',
        '{"a": [{"wildcard": "*.png"}]}',
        '{"a": [{"unknown-op": 1}]}',
        '{"a": [{"prefix": "x", "suffix": "y"}]}',
        '{"a": [{"prefix": 5}]}',
        '{"a": [{"exists": "yes"}]}',
        '{"a": [{"numeric": [">", "5"]}]}',
        '{"a": [{"numeric": ["!=", 5]}]}',
        '{"a": [{"numeric": ["<", 5, ">", 1]}]}',
        '{"a": [{"numeric": [">", 10, "<", 1]}]}',
        '{"a": [{"numeric": [">", 1, "<"]}]}',
        '{"a": [{"anything-but": []}]}',
        '{"a": [{"anything-but": [null]}]}',
        '{"a": [{"anything-but": {"wildcard": "x"}}]}',
        '{"a": [["nested"]]}',
        '{"$or": "x"}',
        '{"$or": [{}]}',
    ],
)
def test_invalid_patterns_are_refused_at_construction(pattern: str) -> None:
    with pytest.raises(FilterCriteriaError):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "criteria",
    [
        "{}",
        {"Filters": "x"},
        {"Filters": [{"pattern": "{}"}]},
        {"Filters": [{"Pattern": {"a": ["1"]}}]},
        {"Filters": [{"Pattern": '{"a": ["1"]}'}], "Other": 1},
        {"Filters": [{"Pattern": '{"a": ["1"]}'}, {"Pattern": '{"a": "1"}'}]},
    ],
)
def test_invalid_filter_criteria_are_refused(criteria: Any) -> None:
    with pytest.raises(FilterCriteriaError):
        compile_filter_criteria(criteria)


def test_filters_are_ored_and_absent_criteria_match_everything() -> None:
    criteria = {"Filters": [{"Pattern": '{"a": ["1"]}'}, {"Pattern": '{"b": ["2"]}'}]}
    event_filter = compile_filter_criteria(criteria)

    assert event_filter.matches({"a": "1"})
    assert event_filter.matches({"b": "2"})
    assert not event_filter.matches({"a": "2", "b": "1"})
    assert compile_filter_criteria(None).matches({"anything": 1})
    assert compile_filter_criteria({"Filters": []}).matches({})
    assert not compile_filter_criteria(None).filters_anything


def test_error_names_the_filter_and_the_key() -> None:
    criteria = {"Filters": [{"Pattern": '{"a": ["1"]}'}, {"Pattern": '{"body": {"x": [{"cidr": "1"}]}}'}]}

    with pytest.raises(FilterCriteriaError, match=r"Filters\[1\].*body\.x"):
        compile_filter_criteria(criteria)


# ---------------------------------------------------------------- properties
_keys = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
)
_records: st.SearchStrategy[dict[str, Any]] = st.recursive(
    st.dictionaries(_keys, _scalars, max_size=4),
    lambda children: st.dictionaries(_keys, st.one_of(_scalars, children), max_size=4),
    max_leaves=12,
)


def _leaves(record: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for key, value in record.items():
        if isinstance(value, dict):
            found.extend(_leaves(value, (*path, key)))
        else:
            found.append(((*path, key), value))
    return found


def _pattern_at(path: tuple[str, ...], rules: list[Any]) -> dict[str, Any]:
    pattern: dict[str, Any] = {path[-1]: rules}
    for key in reversed(path[:-1]):
        pattern = {key: pattern}
    return pattern


@given(_records)
def test_a_record_matches_the_pattern_of_its_own_leaves(record: dict[str, Any]) -> None:
    leaves = _leaves(record)
    if not leaves:
        return
    pattern: dict[str, Any] = {}
    for path, value in leaves:
        _merge(pattern, _pattern_at(path, [value]))

    assert matches(pattern, record)


@given(_records, st.text(alphabet="abcdefgh", min_size=1, max_size=4))
def test_exists_true_and_false_are_complements(record: dict[str, Any], key: str) -> None:
    present = matches({key: [{"exists": True}]}, record)
    absent = matches({key: [{"exists": False}]}, record)

    assert present != absent
    assert present == (key in record)


@given(st.text(max_size=10), st.text(max_size=10))
def test_anything_but_is_the_negation_of_equality_for_strings(value: str, excluded: str) -> None:
    record = {"k": value}

    assert matches({"k": [{"anything-but": excluded}]}, record) is not matches({"k": [excluded]}, record)


@given(st.text(max_size=6), st.text(max_size=6))
def test_prefix_and_suffix_match_their_own_parts(head: str, tail: str) -> None:
    record = {"k": head + tail}

    assert matches({"k": [{"prefix": head}]}, record)
    assert matches({"k": [{"suffix": tail}]}, record)


@given(st.text(alphabet="abcXYZ", max_size=6), st.text(alphabet="abcXYZ", max_size=6))
def test_ignore_case_variants_ignore_ascii_case(head: str, tail: str) -> None:
    record = {"k": (head + tail).lower()}

    assert matches({"k": [{"prefix": {"equals-ignore-case": head.upper()}}]}, record)
    assert matches({"k": [{"suffix": {"equals-ignore-case": tail.upper()}}]}, record)
    assert matches({"k": [{"equals-ignore-case": (head + tail).upper()}]}, record)


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
)
def test_numeric_range_is_the_interval(value: float, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)

    assert matches({"n": [{"numeric": [">=", low, "<=", high]}]}, {"n": value}) == (low <= value <= high)
    assert matches({"n": [{"numeric": [">", low, "<", high]}]}, {"n": value}) == (low < value < high)


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3), st.sampled_from(["a", "b", "c", "d"]))
def test_filters_are_ored(values: list[str], actual: str) -> None:
    criteria = {"Filters": [{"Pattern": json.dumps({"k": [value]})} for value in values]}

    assert compile_filter_criteria(criteria).matches({"k": actual}) == (actual in values)


def _merge(into: dict[str, Any], pattern: dict[str, Any]) -> None:
    for key, value in pattern.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
