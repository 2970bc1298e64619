from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from prism.changes.envelope import ChangeEvent, Op
from prism.changes.stream_decoder import Skipped, decode_stream_record
from prism.errors import MalformedChangeError
from tests.support.records import entity, stream_record

EVENTS = Path(__file__).resolve().parents[3] / "events" / "fanout"


def test_insert_of_an_entity_is_an_upsert_at_its_version() -> None:
    record = stream_record("INSERT", new=entity("customer", "c-1", 10, email="a@example.com"))

    change = decode_stream_record(record)

    assert isinstance(change, ChangeEvent)
    assert (change.entity, change.id, change.op, change.version) == ("customer", "c-1", Op.UPSERT, 10)
    assert change.key == {"pk": "CUSTOMER#c-1", "sk": "A"}
    assert change.new_image is not None
    assert change.new_image["email"] == "a@example.com"
    assert change.sequence_number == record["dynamodb"]["SequenceNumber"]
    assert change.source_arn == record["eventSourceARN"]


def test_modify_carries_both_images() -> None:
    old = entity("product", "p-1", 5, price=Decimal("10.00"))
    new = entity("product", "p-1", 6, price=Decimal("9.99"))

    change = decode_stream_record(stream_record("MODIFY", new=new, old=old))

    assert isinstance(change, ChangeEvent)
    assert change.op is Op.UPSERT
    assert change.version == 6
    assert change.old_image is not None
    assert change.old_image["price"] == Decimal("10.00")


def test_hard_delete_is_newer_than_the_item_it_removed() -> None:
    change = decode_stream_record(stream_record("REMOVE", old=entity("order", "o-1", 41)))

    assert isinstance(change, ChangeEvent)
    assert change.op is Op.DELETE
    assert change.version == 42
    assert change.image is None


def test_a_tombstone_write_is_a_delete_at_the_tombstone_version() -> None:
    live = entity("customer", "c-2", 7)
    tombstone = entity("customer", "c-2", 9, deleted=True)

    change = decode_stream_record(stream_record("MODIFY", new=tombstone, old=live))

    assert isinstance(change, ChangeEvent)
    assert (change.op, change.version) == (Op.DELETE, 9)


def test_expiry_of_a_tombstone_repeats_the_delete_without_a_newer_version() -> None:
    change = decode_stream_record(stream_record("REMOVE", old=entity("customer", "c-2", 9, deleted=True)))

    assert isinstance(change, ChangeEvent)
    assert (change.op, change.version) == (Op.DELETE, 9)


@pytest.mark.parametrize("item", [{"pk": "EMAIL#a", "sk": "GUARD"}, {"pk": "X", "sk": "A", "entity": "invoice"}])
def test_items_that_are_not_prism_entities_are_skipped_with_a_reason(item: dict[str, str]) -> None:
    skipped = decode_stream_record(stream_record("INSERT", new=item))

    assert isinstance(skipped, Skipped)
    assert "not a Prism entity" in skipped.reason
    assert skipped.keys == {"pk": item["pk"], "sk": item["sk"]}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(eventName="UPSERT"), "eventName"),
        (lambda r: r.pop("dynamodb"), "no 'dynamodb'"),
        (lambda r: r["dynamodb"].pop("SequenceNumber"), "SequenceNumber"),
        (lambda r: r["dynamodb"].pop("Keys"), "Keys"),
        (lambda r: r["dynamodb"].pop("NewImage"), "NEW_AND_OLD_IMAGES"),
        (lambda r: r["dynamodb"]["NewImage"].pop("version"), "numeric 'version'"),
        (lambda r: r["dynamodb"]["NewImage"].update(version={"N": "1.5"}), "non-negative integer"),
        (lambda r: r["dynamodb"]["NewImage"].update(version={"N": "-1"}), "non-negative integer"),
        (lambda r: r["dynamodb"]["NewImage"].update(id={"N": "1"}), "string 'id'"),
        (lambda r: r["dynamodb"].update(ApproximateCreationDateTime="yesterday"), "epoch seconds"),
        (lambda r: r.pop("eventID"), "event_id"),
    ],
)
def test_malformed_records_raise_with_a_reason(mutate: object, message: str) -> None:
    record = stream_record("INSERT", new=entity("customer", "c-3", 1))
    mutate(record)  # type: ignore[operator]

    with pytest.raises(MalformedChangeError, match=message):
        decode_stream_record(record)


def test_sample_event_decodes_as_documented() -> None:
    records = json.loads((EVENTS / "stream-batch.json").read_text())["Records"]

    decoded = [decode_stream_record(r) for r in records]

    kinds = [(d.entity, d.op.value, d.event_name) if isinstance(d, ChangeEvent) else "skipped" for d in decoded]
    assert kinds == [
        ("customer", "upsert", "INSERT"),
        ("product", "upsert", "MODIFY"),
        ("order", "delete", "REMOVE"),
        ("customer", "delete", "MODIFY"),
        "skipped",
    ]
    customer = decoded[0]
    assert isinstance(customer, ChangeEvent)
    assert customer.new_image is not None
    assert customer.new_image["lifetime_value"] == Decimal("12345678901234567890.123456789")
    assert customer.new_image["tags"] == ["early-adopter", "vip"]
    assert '"lifetime_value":12345678901234567890.123456789' in customer.to_json()
