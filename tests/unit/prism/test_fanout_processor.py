from __future__ import annotations

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.changes.envelope import ChangeEvent
from prism.changes.publisher import SnsChangePublisher
from prism.fanout.processor import FanoutProcessor, decode_record
from tests.support.fakes import FakeSns, InMemoryClaimCheckStore
from tests.support.records import entity, stream_record

TOPIC = "arn:aws:sns:us-east-1:123456789012:changes"


def fanout(sns: FakeSns) -> FanoutProcessor:
    return FanoutProcessor(SnsChangePublisher(sns, TOPIC, InMemoryClaimCheckStore()))  # type: ignore[arg-type]


def test_a_clean_batch_publishes_every_entity_change_and_reports_no_failure() -> None:
    sns = FakeSns()
    processor = fanout(sns)
    records = [stream_record("INSERT", new=entity("customer", f"c-{i}", i + 1)) for i in range(12)]

    response = process_partial_response({"Records": records}, decode_record, processor)

    assert response == {"batchItemFailures": []}
    assert [len(r) for r in sns.requests] == [10, 2]
    assert processor.summary.published == 12


def test_a_malformed_record_fails_alone_and_the_rest_is_published() -> None:
    sns = FakeSns()
    processor = fanout(sns)
    good_before = stream_record("INSERT", new=entity("customer", "c-1", 1))
    poison = stream_record(
        "INSERT",
        raw_new={
            "pk": {"S": "P"},
            "sk": {"S": "A"},
            "entity": {"S": "product"},
            "id": {"S": "p"},
            "version": {"S": "x"},
        },
    )
    good_after = stream_record("INSERT", new=entity("customer", "c-2", 1))

    response = process_partial_response({"Records": [good_before, poison, good_after]}, decode_record, processor)

    assert response == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert sorted(ChangeEvent.from_json(m["Message"]).id for m in sns.messages) == ["c-1", "c-2"]
    assert processor.summary.malformed == 1


def test_non_entity_items_are_counted_not_published() -> None:
    sns = FakeSns()
    processor = fanout(sns)
    guard = stream_record("INSERT", new={"pk": "EMAIL#a@example.com", "sk": "GUARD", "owner": "c-1"})

    response = process_partial_response({"Records": [guard]}, decode_record, processor)

    assert response == {"batchItemFailures": []}
    assert sns.messages == []
    assert processor.summary.skipped == 1


def test_an_envelope_sns_rejects_becomes_that_records_failure() -> None:
    sns = FakeSns(fail_when='"id":"c-2"')
    processor = fanout(sns)
    records = [stream_record("INSERT", new=entity("customer", f"c-{i}", 1)) for i in range(4)]

    response = process_partial_response({"Records": records}, decode_record, processor)

    assert response == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    assert processor.summary.publish_failed == 1
    assert processor.summary.published == 3


def test_when_sns_is_down_every_record_is_reported_not_raised() -> None:
    processor = fanout(FakeSns(raise_code="InternalError"))
    records = [stream_record("INSERT", new=entity("customer", f"c-{i}", 1)) for i in range(3)]

    response = process_partial_response({"Records": records}, decode_record, processor)

    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        r["dynamodb"]["SequenceNumber"] for r in records
    ]
