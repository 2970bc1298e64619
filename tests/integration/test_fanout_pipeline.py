"""The real fanout, in the local runtime, between the real table stream and the real sink queues."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from prism.changes import exact_json
from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.reader import ChangeReader
from prism_local.config import LocalConfig
from prism_local.demo.lake import read_lake
from prism_local.stack.provision import load_stack
from tests.support.pipeline import client, receive_all, running_pipeline

pytestmark = pytest.mark.integration

# CacheQueue, RelationalQueue and LakeQueue are consumed by the cache, relational and lake sink functions,
# which running_pipeline runs too; their metrics (and the lake bucket) show it.
SINK_QUEUES = ("SearchQueue",)


def test_a_write_reaches_every_sink_queue_exactly_as_the_envelope_says(provisioned: LocalConfig) -> None:
    stack = load_stack(provisioned.stack_file)
    dynamodb, sqs, s3 = client(provisioned, "dynamodb"), client(provisioned, "sqs"), client(provisioned, "s3")
    item = {
        "pk": {"S": "PRODUCT#p-1"},
        "sk": {"S": "A"},
        "entity": {"S": "product"},
        "id": {"S": "p-1"},
        "version": {"N": "1795420800000001"},
        "price": {"N": "12345678901234567890.123456789012345678"},
        "tags": {"SS": ["b", "a"]},
        "dimensions": {"M": {"depth_cm": {"N": "0.1"}}},
        "thumbnail": {"B": b"\x89PNG"},
        "discontinued": {"BOOL": False},
        "supplier": {"NULL": True},
    }

    with running_pipeline(provisioned) as (runtime, runner):
        dynamodb.put_item(TableName=stack.ref("Table"), Item=item)  # type: ignore[attr-defined]
        deliveries = {queue: receive_all(sqs, stack.ref(queue), expected=1) for queue in SINK_QUEUES}
        assert runner.wait_until_idle(10)
        assert runtime.metrics.total("CacheSinkFunction", "CacheChangeRecords") == 1
        assert runtime.metrics.total("RelationalFunction", "RelationalChangeRecords") == 1
        # A 38-digit price fits DynamoDB and the envelope, not DECIMAL(12, 2): the sink dead-letters it.
        assert runtime.metrics.total("RelationalFunction", "RelationalChangesDeadLettered") == 1
        assert runtime.metrics.total("LakeFunction", "LakeChangeRecords") == 1
        assert runtime.metrics.total("LakeFunction", "LakeObjectsWritten") == 1

    lake = read_lake(s3, stack.ref("LakeBucket"))  # type: ignore[arg-type]
    (key,) = lake.objects
    assert key.startswith("lake/entity=product/dt=")
    assert lake.event_ids == {exact_json.loads(str(deliveries["SearchQueue"][0]["Body"]))["event_id"]}

    for queue, messages in deliveries.items():
        assert len(messages) == 1, queue
        message = messages[0]
        envelope = exact_json.loads(message["Body"])  # raw delivery: the envelope itself, no SNS wrapper
        assert envelope["schema"] == "prism.change.v1"
        assert (envelope["entity"], envelope["id"], envelope["op"], envelope["version"]) == (
            "product",
            "p-1",
            "upsert",
            1795420800000001,
        )
        assert envelope["event_name"] == "INSERT"
        assert envelope["key"] == {"pk": "PRODUCT#p-1", "sk": "A"}
        assert envelope["new_image"]["price"] == Decimal("12345678901234567890.123456789012345678")
        assert '"price":12345678901234567890.123456789012345678' in message["Body"]
        assert envelope["new_image"]["tags"] == ["a", "b"]
        assert envelope["new_image"]["dimensions"] == {"depth_cm": Decimal("0.1")}
        assert envelope["new_image"]["thumbnail"] == "iVBORw=="
        assert envelope["new_image"]["supplier"] is None
        assert envelope["old_image"] is None
        assert envelope["source_arn"] == stack.attribute("Table", "StreamArn")
        assert message["MessageAttributes"]["entity"]["StringValue"] == "product"
        assert message["MessageAttributes"]["op"]["StringValue"] == "upsert"


def test_an_oversized_item_travels_by_claim_check_and_reads_back_whole(provisioned: LocalConfig) -> None:
    stack = load_stack(provisioned.stack_file)
    dynamodb, sqs, s3 = client(provisioned, "dynamodb"), client(provisioned, "sqs"), client(provisioned, "s3")
    description = "é" * 150_000  # 300 KB of UTF-8: over SNS's 256 KiB, under DynamoDB's 400 KB

    with running_pipeline(provisioned):
        dynamodb.put_item(  # type: ignore[attr-defined]
            TableName=stack.ref("Table"),
            Item={
                "pk": {"S": "PRODUCT#big"},
                "sk": {"S": "A"},
                "entity": {"S": "product"},
                "id": {"S": "big"},
                "version": {"N": "7"},
                "description": {"S": description},
            },
        )
        (message,) = receive_all(sqs, stack.ref("SearchQueue"), expected=1)

    assert "claim_check" in json.loads(message["Body"])
    change = ChangeReader(S3ClaimCheckStore(s3, stack.ref("ClaimCheckBucket"))).read(message["Body"])  # type: ignore[arg-type]
    assert change.new_image is not None
    assert change.new_image["description"] == description


def test_a_poison_stream_record_does_not_block_the_records_behind_it(provisioned: LocalConfig) -> None:
    stack = load_stack(provisioned.stack_file)
    dynamodb, sqs = client(provisioned, "dynamodb"), client(provisioned, "sqs")

    def customer(n: int, version: dict[str, str]) -> dict[str, object]:
        return {
            "pk": {"S": f"CUSTOMER#c-{n}"},
            "sk": {"S": "A"},
            "entity": {"S": "customer"},
            "id": {"S": f"c-{n}"},
            "version": version,
        }

    with running_pipeline(provisioned) as (runtime, runner):
        dynamodb.put_item(TableName=stack.ref("Table"), Item=customer(0, {"N": "1"}))  # type: ignore[attr-defined]
        dynamodb.put_item(TableName=stack.ref("Table"), Item=customer(1, {"S": "not-a-number"}))  # type: ignore[attr-defined]
        for n in range(2, 6):
            dynamodb.put_item(TableName=stack.ref("Table"), Item=customer(n, {"N": "1"}))  # type: ignore[attr-defined]
        # The poison holds its shard until its retries run out (as on Lambda); records behind it follow then.
        failed = receive_all(sqs, stack.ref("FanoutFailureQueue"), expected=1, wait_s=90)
        delivered = receive_all(sqs, stack.ref("SearchQueue"), expected=5, wait_s=60)
        assert runner.wait_until_idle(10)
        malformed = runtime.metrics.total("FanoutFunction", "MalformedRecords")

    assert sorted({json.loads(m["Body"])["id"] for m in delivered}) == ["c-0", "c-2", "c-3", "c-4", "c-5"]
    assert len(failed) == 1
    record = json.loads(failed[0]["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    batch = record["DDBStreamBatchInfo"]
    assert batch["batchSize"] == 1, "bisection isolated the poison record"
    assert batch["streamArn"] == stack.attribute("Table", "StreamArn")
    assert malformed >= 6, "tried once, then MaximumRetryAttempts (5) more times"
