from __future__ import annotations

from typing import TYPE_CHECKING

from prism.changes import exact_json
from prism.changes.envelope import ChangeEvent
from prism.changes.publisher import PUBLISH_BATCH_MAX_ENTRIES, SNS_MAX_PAYLOAD_BYTES, SnsChangePublisher
from prism.changes.reader import ChangeReader
from prism.changes.stream_decoder import decode_stream_record
from tests.support.fakes import FakeSns, InMemoryClaimCheckStore
from tests.support.records import entity, stream_record

if TYPE_CHECKING:
    from prism.changes.publisher import ChangePublisher

TOPIC = "arn:aws:sns:us-east-1:123456789012:changes"


def change(entity_id: str, **attributes: object) -> ChangeEvent:
    decoded = decode_stream_record(stream_record("INSERT", new=entity("product", entity_id, 1, **attributes)))
    assert isinstance(decoded, ChangeEvent)
    return decoded


def publisher(sns: FakeSns, claims: InMemoryClaimCheckStore | None = None) -> ChangePublisher:
    return SnsChangePublisher(sns, TOPIC, claims or InMemoryClaimCheckStore())  # type: ignore[arg-type]


def test_envelopes_go_out_ten_per_request_with_filterable_attributes() -> None:
    sns = FakeSns()

    report = publisher(sns).publish([change(f"p-{i}") for i in range(23)])

    assert [len(r) for r in sns.requests] == [10, 10, 3]
    assert report.published == 23
    assert not report.failures
    first = sns.messages[0]
    assert first["MessageAttributes"]["entity"] == {"DataType": "String", "StringValue": "product"}
    assert first["MessageAttributes"]["op"] == {"DataType": "String", "StringValue": "upsert"}
    assert ChangeEvent.from_json(first["Message"]).id == "p-0"


def test_requests_stay_under_the_batch_size_limit() -> None:
    sns = FakeSns()
    big = [change(f"p-{i}", description="x" * 60_000) for i in range(PUBLISH_BATCH_MAX_ENTRIES)]

    publisher(sns).publish(big)

    for request in sns.requests:
        assert sum(len(entry["Message"]) for entry in request) <= SNS_MAX_PAYLOAD_BYTES
    assert len(sns.messages) == PUBLISH_BATCH_MAX_ENTRIES


def test_an_oversized_envelope_travels_as_a_claim_check_and_reads_back_whole() -> None:
    sns, claims = FakeSns(), InMemoryClaimCheckStore()
    huge = change("p-huge", description="é" * 200_000)

    report = publisher(sns, claims).publish([huge, change("p-small")])

    assert report.claim_checked == 1
    assert report.published == 2
    pointer = exact_json.loads(sns.messages[0]["Message"])
    assert pointer["claim_check"]["key"] == f"changes/product/{huge.event_id}.json"
    assert len(sns.messages[0]["Message"]) < 1_000
    assert ChangeReader(claims).read(sns.messages[0]["Message"]) == huge
    assert ChangeReader(claims).read(sns.messages[1]["Message"]).id == "p-small"


def test_entries_sns_rejects_are_reported_by_position() -> None:
    sns = FakeSns(fail_when='"id":"p-2"')

    report = publisher(sns).publish([change(f"p-{i}") for i in range(4)])

    assert [f.index for f in report.failures] == [2]
    assert report.failures[0].code == "InternalError"
    assert report.published == 3


def test_a_failed_request_fails_every_entry_in_it() -> None:
    report = publisher(FakeSns(raise_code="ThrottledException")).publish([change("p-1"), change("p-2")])

    assert [(f.index, f.code) for f in report.failures] == [(0, "ThrottledException"), (1, "ThrottledException")]
    assert report.published == 0
