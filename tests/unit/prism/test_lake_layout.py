"""The lake's layout: partitions in UTC, keys and bytes that depend only on the set of changes."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from prism.changes import exact_json
from prism.lake.layout import (
    LAKE_PREFIX,
    Partition,
    encode_object,
    lake_row,
    object_key,
    partition_of,
    partition_path,
)
from tests.support.relational import change

PARTITION = Partition("product", "2026-11-30", "23")


def lines(body: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def test_the_partition_is_the_utc_date_and_hour_of_the_event_time() -> None:
    tokyo = timezone(timedelta(hours=9))

    assert partition_path("order", datetime(2026, 12, 1, 8, 59, 59, tzinfo=tokyo)) == (
        "entity=order/dt=2026-11-30/hour=23"
    )
    assert partition_of("order", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == Partition("order", "2026-01-02", "03")


def test_the_key_sits_under_the_prefix_and_the_partition_and_hashes_the_event_ids() -> None:
    key = object_key(LAKE_PREFIX, PARTITION, ["b", "a"])

    assert key.startswith("lake/entity=product/dt=2026-11-30/hour=23/part-")
    assert key.endswith(".json.gz")
    assert len(key.removeprefix("lake/entity=product/dt=2026-11-30/hour=23/part-").removesuffix(".json.gz")) == 32
    assert key != object_key(LAKE_PREFIX, PARTITION, ["a", "c"])
    assert key != object_key(LAKE_PREFIX, Partition("product", "2026-11-30", "22"), ["a", "b"])


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=20), st.randoms())
def test_the_key_does_not_depend_on_the_order_or_repetition_of_the_ids(ids: list[str], random: object) -> None:
    shuffled = ids + ids[: len(ids) // 2]
    random.shuffle(shuffled)  # type: ignore[attr-defined]

    assert object_key(LAKE_PREFIX, PARTITION, shuffled) == object_key(LAKE_PREFIX, PARTITION, ids)


def test_a_line_holds_the_change_and_its_image_as_exact_json_text() -> None:
    upsert = change("product", "p_1", 7, price=Decimal("12345678901234567890.123456789"))

    row = lake_row(upsert)

    assert row["event_id"] == upsert.event_id
    assert (row["op"], row["version"], row["entity"], row["id"]) == ("upsert", 7, "product", "p_1")
    assert row["event_time"] == upsert.to_document()["event_time"]
    assert isinstance(row["item"], str)
    assert '"price":12345678901234567890.123456789' in row["item"]
    assert exact_json.loads(row["item"]) == upsert.new_image


def test_a_delete_line_has_a_null_item() -> None:
    deleted = change("product", "p_1", 8, deleted=True)

    assert lake_row(deleted)["op"] == "delete"
    assert lake_row(deleted)["item"] is None


@given(st.permutations(list(range(6))))
def test_the_bytes_do_not_depend_on_the_order_the_changes_arrive_in(order: list[int]) -> None:
    changes = [change("order", f"o_{n % 3}", 10 + n) for n in range(6)]

    assert encode_object([changes[i] for i in order]) == encode_object(changes)


def test_lines_are_sorted_by_id_then_version_and_a_duplicated_change_is_written_once() -> None:
    first, second, other = change("order", "o_2", 5), change("order", "o_2", 3), change("order", "o_1", 9)

    body = encode_object([first, second, other, first])

    assert [(line["id"], line["version"]) for line in lines(body)] == [("o_1", 9), ("o_2", 3), ("o_2", 5)]
    assert body[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME: fixed, so a rewrite has the same bytes


def test_every_line_is_one_json_document_ending_in_a_newline() -> None:
    body = encode_object([change("customer", "c_1", 1), change("customer", "c_2", 1, deleted=True)])
    text = gzip.decompress(body).decode()

    assert text.endswith("\n")
    assert text.count("\n") == 2
    assert [line["item"] is None for line in lines(body)] == [False, True]


#: Prices DynamoDB can hold (38 significant digits at most); the line must keep every digit.
prices = st.decimals(min_value=-(10**30), max_value=10**30, allow_nan=False, allow_infinity=False, places=2)


@given(name=st.text(), description=st.text(), price=prices)
def test_each_line_is_the_exact_json_of_its_row(name: str, description: str, price: Decimal) -> None:
    upsert = change("product", "p-1", 7, name=name, description=description, price=price)
    body = gzip.decompress(encode_object([upsert])).decode()

    assert body == exact_json.dumps(lake_row(upsert)) + "\n"
    assert exact_json.loads(exact_json.loads(body)["item"])["price"] == upsert.new_image["price"]  # type: ignore[index]
