"""The lake sink's batch logic, with a fake object store: grouping, keys, and failures that stay local."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from botocore.exceptions import ClientError, EndpointConnectionError

from prism.changes.envelope import ChangeEvent
from prism.changes.reader import ChangeReader
from prism.errors import LakeWriteError
from prism.lake.layout import Partition, encode_object, object_key
from prism.lake.objects import S3LakeObjectStore
from prism.lake.sink import LakeSinkProcessor, LakeSinkSummary
from tests.support.cache import sqs_record
from tests.support.fakes import InMemoryClaimCheckStore
from tests.support.relational import change

NINE = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
TEN = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)


class FakeLakeObjects:
    """Keeps objects by key; a put whose key contains a marker in ``fail_when`` raises LakeWriteError."""

    def __init__(self, fail_when: str | None = None) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0
        self.fail_when = fail_when

    def put(self, key: str, body: bytes) -> None:
        if self.fail_when and self.fail_when in key:
            raise LakeWriteError(f"could not write {key}: simulated")
        self.puts += 1
        self.objects[key] = body


def at(event: ChangeEvent, when: datetime) -> ChangeEvent:
    return event.model_copy(update={"event_time": when})


def run(objects: FakeLakeObjects, changes: list[ChangeEvent], *extra: dict[str, Any]) -> tuple[Any, LakeSinkSummary]:
    processor = LakeSinkProcessor(ChangeReader(InMemoryClaimCheckStore()), objects)
    records = [sqs_record(c.to_json(), message_id=f"m-{n}") for n, c in enumerate(changes)] + list(extra)
    response = process_partial_response({"Records": records}, processor.parse_record, processor)
    return response, processor.summary


def rows(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def batch() -> list[ChangeEvent]:
    return [
        at(change("product", "p_1", 1), NINE),
        at(change("product", "p_2", 4), NINE),
        at(change("product", "p_1", 2), TEN),
        at(change("order", "o_1", 3), NINE),
        at(change("order", "o_1", 5, deleted=True), NINE),
    ]


def test_a_batch_is_written_as_one_object_per_entity_and_hour() -> None:
    changes, objects = batch(), FakeLakeObjects()

    response, summary = run(objects, changes)

    assert response == {"batchItemFailures": []}
    assert sorted(key.rsplit("/", 1)[0] for key in objects.objects) == [
        "lake/entity=order/dt=2026-11-30/hour=09",
        "lake/entity=product/dt=2026-11-30/hour=09",
        "lake/entity=product/dt=2026-11-30/hour=10",
    ]
    nine_products = object_key(
        "lake/", Partition("product", "2026-11-30", "09"), [changes[0].event_id, changes[1].event_id]
    )
    assert objects.objects[nine_products] == encode_object(changes[:2])
    assert sorted(r["event_id"] for body in objects.objects.values() for r in rows(body)) == sorted(
        c.event_id for c in changes
    )
    assert (summary.records, summary.changes, summary.objects_written) == (5, 5, 3)
    assert summary.bytes_written == sum(len(body) for body in objects.objects.values())


def test_a_delete_is_written_with_a_null_item() -> None:
    objects = FakeLakeObjects()

    run(objects, batch())

    (order_object,) = [body for key, body in objects.objects.items() if "entity=order" in key]
    assert [(r["version"], r["op"], r["item"] is None) for r in rows(order_object)] == [
        (3, "upsert", False),
        (5, "delete", True),
    ]


def test_a_retried_batch_rewrites_the_same_keys_with_the_same_bytes() -> None:
    changes, first, retried = batch(), FakeLakeObjects(), FakeLakeObjects()
    run(first, changes)

    run(retried, list(reversed(changes)))

    assert retried.objects == first.objects


def test_a_failed_put_fails_only_the_records_of_its_group() -> None:
    changes, objects = batch(), FakeLakeObjects(fail_when="entity=product/dt=2026-11-30/hour=09")

    response, summary = run(objects, changes)

    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m-0", "m-1"]
    assert len(objects.objects) == 2
    assert (summary.objects_written, summary.groups_failed, summary.write_failures) == (2, 1, 2)


def test_a_malformed_record_fails_alone() -> None:
    objects = FakeLakeObjects()

    response, summary = run(objects, batch(), sqs_record('{"schema": "prism.change.v1"}', message_id="bad"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert (summary.records, summary.changes, summary.malformed, summary.objects_written) == (6, 5, 1, 3)


def test_when_every_put_fails_every_record_is_reported_for_sqs_to_retry() -> None:
    changes = batch()

    response, summary = run(FakeLakeObjects(fail_when="lake/"), changes)

    assert len(response["batchItemFailures"]) == len(changes)
    assert (summary.objects_written, summary.groups_failed) == (0, 3)


class RecordingS3:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise self.error
        self.calls.append(kwargs)
        return {}


def test_the_s3_adapter_writes_gzipped_ndjson_encrypted_with_the_data_key() -> None:
    s3 = RecordingS3()
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    S3LakeObjectStore(s3, "lake-bucket", key_arn).put("lake/x.json.gz", b"body")  # type: ignore[arg-type]

    assert s3.calls == [
        {
            "Bucket": "lake-bucket",
            "Key": "lake/x.json.gz",
            "Body": b"body",
            "ContentType": "application/x-ndjson",
            "ContentEncoding": "gzip",
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": key_arn,
        }
    ]


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject"),
        EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
    ],
)
def test_the_s3_adapter_turns_vendor_errors_into_lake_write_errors(error: Exception) -> None:
    store = S3LakeObjectStore(RecordingS3(error), "lake-bucket", "arn:aws:kms:us-east-1:1:key/k")  # type: ignore[arg-type]

    with pytest.raises(LakeWriteError, match=r"s3://lake-bucket/lake/x\.json\.gz") as raised:
        store.put("lake/x.json.gz", b"body")
    assert raised.value.__cause__ is error
