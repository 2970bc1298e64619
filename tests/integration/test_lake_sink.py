"""The real lake sink, built in-process from LakeFunction's environment on a provisioned stack: objects land
in moto's S3 under the partitions the layout promises, encrypted with the data key, and a retried batch
rewrites the same objects instead of adding copies."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.lake.wiring import lake_sink_processor
from prism_local.demo.lake import read_lake
from prism_local.stack.provision import load_stack
from tests.support.cache import sqs_record
from tests.support.functions import built_in_process
from tests.support.relational import change

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from prism.changes.envelope import ChangeEvent
    from prism.lake.sink import LakeSinkProcessor
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

NINE = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
TEN = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)


def lake_sink(config: LocalConfig) -> AbstractContextManager[LakeSinkProcessor]:
    """The real lake sink, built by its own wiring from LakeFunction's environment, in-process."""
    return built_in_process(config, "LakeFunction", lake_sink_processor)


def deliver(sink: LakeSinkProcessor, changes: list[ChangeEvent]) -> list[str]:
    records = [sqs_record(c.to_json(), message_id=f"m-{n}") for n, c in enumerate(changes)]
    response = process_partial_response({"Records": records}, sink.parse_record, sink)
    return [str(f["itemIdentifier"]) for f in response["batchItemFailures"]]


def s3_client(config: LocalConfig) -> Any:
    return config.session().client("s3", endpoint_url=config.moto_endpoint)


def batch() -> list[ChangeEvent]:
    return [
        change("product", "p_1", 1).model_copy(update={"event_time": NINE}),
        change("product", "p_1", 2).model_copy(update={"event_time": TEN}),
        change("order", "o_1", 3).model_copy(update={"event_time": NINE}),
        change("order", "o_1", 4, deleted=True).model_copy(update={"event_time": NINE}),
    ]


def test_objects_land_under_their_partitions_encrypted_with_the_data_key(provisioned: LocalConfig) -> None:
    stack, changes, s3 = load_stack(provisioned.stack_file), batch(), s3_client(provisioned)
    bucket = stack.ref("LakeBucket")

    with lake_sink(provisioned) as sink:
        failures = deliver(sink, changes)

    assert failures == []
    lake = read_lake(s3, bucket)
    assert sorted(key.rsplit("/", 1)[0] for key in lake.objects) == [
        "lake/entity=order/dt=2026-11-30/hour=09",
        "lake/entity=product/dt=2026-11-30/hour=09",
        "lake/entity=product/dt=2026-11-30/hour=10",
    ]
    assert lake.event_ids == {c.event_id for c in changes}
    data_key_arn = stack.attribute("DataKey", "Arn")
    for key in lake.objects:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == data_key_arn
        assert (head["ContentType"], head["ContentEncoding"]) == ("application/x-ndjson", "gzip")
    (order_key,) = [key for key in lake.objects if "entity=order" in key]
    body = s3.get_object(Bucket=bucket, Key=order_key)["Body"].read()
    lines = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    assert [(line["op"], line["version"], line["item"] is None) for line in lines] == [
        ("upsert", 3, False),
        ("delete", 4, True),
    ]


def test_a_retried_batch_rewrites_the_same_objects_and_adds_no_line(provisioned: LocalConfig) -> None:
    bucket, changes, s3 = load_stack(provisioned.stack_file).ref("LakeBucket"), batch(), s3_client(provisioned)
    with lake_sink(provisioned) as sink:
        deliver(sink, changes)
        first = read_lake(s3, bucket)

        failures = deliver(sink, list(reversed(changes)))

    retried = read_lake(s3, bucket)
    assert failures == []
    assert retried.objects == first.objects
    assert (len(retried.objects), retried.lines) == (3, len(changes))
