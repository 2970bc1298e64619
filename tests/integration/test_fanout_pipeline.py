"""The real fanout, in the local runtime, between the real table stream and the real sink functions.

Every sink queue is consumed by its sink function (running_pipeline runs them all), so the envelopes
themselves are read from a probe queue this test subscribes to the changes topic the way the sink queues
are (raw delivery), and each sink is checked through its metrics and its store (the lake bucket, the search
index)."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from prism.changes import exact_json
from prism_local.config import LocalConfig
from prism_local.demo.lake import read_lake
from prism_local.stack.provision import load_stack
from tests.support.pipeline import client, receive_all, running_pipeline
from tests.support.search import documents

pytestmark = pytest.mark.integration


def probe_queue(config: LocalConfig, sqs: Any, sns: Any, topic_arn: str) -> str:
    """A queue subscribed to the changes topic with raw delivery, as the sink queues are; its URL."""
    url = str(sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def indexed(config: LocalConfig, entity: str, ids: list[str], wait_s: float = 30.0) -> dict[str, Any]:
    """id -> _source of the search documents among ``ids``, once all are there or ``wait_s`` passed."""
    deadline = time.monotonic() + wait_s
    while True:
        found = {doc_id: source for doc_id, (_, _, source) in documents(config, entity, ids).items()}
        if len(found) == len(ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_write_reaches_every_sink_exactly_as_the_envelope_says(provisioned: LocalConfig) -> None:
    stack = load_stack(provisioned.stack_file)
    dynamodb, sqs, s3 = client(provisioned, "dynamodb"), client(provisioned, "sqs"), client(provisioned, "s3")
    probe = probe_queue(provisioned, sqs, client(provisioned, "sns"), stack.ref("ChangesTopic"))
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
        deliveries: dict[str, list[Any]] = {"probe": receive_all(sqs, probe, expected=1)}
        document = indexed(provisioned, "product", ["p-1"]).get("p-1")
        assert runner.wait_until_idle(10)
        assert runtime.metrics.total("CacheSinkFunction", "CacheChangeRecords") == 1
        assert runtime.metrics.total("RelationalFunction", "RelationalChangeRecords") == 1
        # A 38-digit price fits DynamoDB and the envelope, not DECIMAL(12, 2): the sink dead-letters it.
        assert runtime.metrics.total("RelationalFunction", "RelationalChangesDeadLettered") == 1
        assert runtime.metrics.total("LakeFunction", "LakeChangeRecords") == 1
        assert runtime.metrics.total("LakeFunction", "LakeObjectsWritten") == 1
        assert runtime.metrics.total("SearchFunction", "SearchChangeRecords") == 1
        assert runtime.metrics.total("SearchFunction", "SearchDocumentsIndexed") == 1

    # The search document holds the item exactly as the envelope carries it, at the change's version.
    assert document is not None
    assert (document["version"], document["deleted"]) == (1795420800000001, False)
    assert document["item"]["price"] == Decimal("12345678901234567890.123456789012345678")
    assert document["item"]["tags"] == ["a", "b"]
    assert document["item"]["thumbnail"] == "iVBORw=="
    lake = read_lake(s3, stack.ref("LakeBucket"))  # type: ignore[arg-type]
    (key,) = lake.objects
    assert key.startswith("lake/entity=product/dt=")
    assert lake.event_ids == {exact_json.loads(str(deliveries["probe"][0]["Body"]))["event_id"]}

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
    dynamodb, sqs = client(provisioned, "dynamodb"), client(provisioned, "sqs")
    probe = probe_queue(provisioned, sqs, client(provisioned, "sns"), stack.ref("ChangesTopic"))
    description = "é" * 150_000  # 300 KB of UTF-8: over SNS's 256 KiB, under DynamoDB's 400 KB

    with running_pipeline(provisioned) as (runtime, runner):
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
        (message,) = receive_all(sqs, probe, expected=1)
        document = indexed(provisioned, "product", ["big"]).get("big")
        assert runner.wait_until_idle(10)
        assert runtime.metrics.total("FanoutFunction", "ClaimChecksWritten") == 1
        assert runtime.metrics.total("SearchFunction", "ClaimCheckReadFailures") == 0

    assert "claim_check" in json.loads(str(message["Body"]))
    # The search sink read the claim check back: its document holds the whole item.
    assert document is not None
    assert document["version"] == 7
    assert document["item"]["description"] == description


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
        delivered = indexed(provisioned, "customer", ["c-0", "c-2", "c-3", "c-4", "c-5"], wait_s=60)
        assert runner.wait_until_idle(10)
        malformed = runtime.metrics.total("FanoutFunction", "MalformedRecords")

    assert sorted(delivered) == ["c-0", "c-2", "c-3", "c-4", "c-5"]
    assert documents(provisioned, "customer", ["c-1"]) == {}
    assert len(failed) == 1
    record = json.loads(str(failed[0]["Body"]))
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    batch = record["DDBStreamBatchInfo"]
    assert batch["batchSize"] == 1, "bisection isolated the poison record"
    assert batch["streamArn"] == stack.attribute("Table", "StreamArn")
    assert malformed >= 6, "tried once, then MaximumRetryAttempts (5) more times"
