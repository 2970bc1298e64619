from __future__ import annotations

import hashlib

import pytest

from prism.changes import exact_json
from prism.changes.claim_check import ClaimCheck
from prism.changes.envelope import ChangeEvent
from prism.changes.reader import ChangeReader
from prism.changes.stream_decoder import decode_stream_record
from prism.errors import ClaimCheckError, MalformedChangeError
from tests.support.fakes import InMemoryClaimCheckStore
from tests.support.records import entity, stream_record


def envelope() -> ChangeEvent:
    decoded = decode_stream_record(stream_record("INSERT", new=entity("order", "o-1", 3)))
    assert isinstance(decoded, ChangeEvent)
    return decoded


def pointer_to(claim: ClaimCheck, event_id: str) -> str:
    return exact_json.dumps({"schema": "prism.change.v1", "claim_check": claim.to_document(), "event_id": event_id})


def test_a_plain_body_reads_as_its_envelope() -> None:
    change = envelope()

    assert ChangeReader(InMemoryClaimCheckStore()).read(change.to_json()) == change


def test_a_claim_check_whose_object_was_altered_is_refused() -> None:
    claims, change = InMemoryClaimCheckStore(), envelope()
    claim = claims.put("order/x", change.to_json().encode())
    claims.objects[claim.key] = change.to_json().replace('"o-1"', '"o-2"').encode()

    with pytest.raises(ClaimCheckError, match="does not match"):
        ChangeReader(claims).read(pointer_to(claim, change.event_id))


def test_a_claim_check_holding_another_event_is_refused() -> None:
    claims, change = InMemoryClaimCheckStore(), envelope()
    claim = claims.put("order/x", change.to_json().encode())

    with pytest.raises(MalformedChangeError, match="holds event"):
        ChangeReader(claims).read(pointer_to(claim, "someone-else"))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", MalformedChangeError),
        ('{"schema": "prism.change.v1"}', MalformedChangeError),
        ('{"claim_check": {"bucket": "b"}}', ClaimCheckError),
        ("[1, 2]", MalformedChangeError),
    ],
)
def test_bodies_that_are_not_envelopes_are_clear_errors(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        ChangeReader(InMemoryClaimCheckStore()).read(body)


def test_in_memory_store_verifies_like_s3_store() -> None:
    body = b"{}"
    claim = InMemoryClaimCheckStore().put("x", body)
    assert claim.sha256 == hashlib.sha256(body).hexdigest()
    assert claim.size == 2


def test_the_sample_sqs_batch_reads_as_the_sample_stream_batch_decodes() -> None:
    import json
    from pathlib import Path

    events = Path(__file__).resolve().parents[3] / "events"
    sqs = json.loads((events / "changes" / "sqs-batch.json").read_text())["Records"]
    stream = json.loads((events / "fanout" / "stream-batch.json").read_text())["Records"]
    decoded = [decode_stream_record(r) for r in stream]

    read = [ChangeReader(InMemoryClaimCheckStore()).read(r["body"]) for r in sqs]

    assert read == [d for d in decoded if isinstance(d, ChangeEvent)]
    assert [r["messageAttributes"]["entity"]["stringValue"] for r in sqs] == [c.entity for c in read]
