"""The local stack's moto behaves like DynamoDB where moto alone does not: a refused transaction writes
nothing (no item, no stream record), and concurrent refused transactions lose nobody else's writes."""

from __future__ import annotations

import threading

import pytest

from prism_local.config import LocalConfig
from prism_local.stack.provision import load_stack
from tests.support.pipeline import client

pytestmark = pytest.mark.integration


class StreamReader:
    """Reads a stream the way Prism's poller does: one iterator chain, followed from the start."""

    def __init__(self, config: LocalConfig, stream_arn: str) -> None:
        self._streams = client(config, "dynamodbstreams")
        shard = self._streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]  # type: ignore[attr-defined]
        self._iterator = self._streams.get_shard_iterator(  # type: ignore[attr-defined]
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def keys(self) -> list[str]:
        response = self._streams.get_records(ShardIterator=self._iterator, Limit=1000)  # type: ignore[attr-defined]
        self._iterator = response["NextShardIterator"]
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in response["Records"]]


def guarded_put(table: str, n: int, guard: str) -> dict[str, object]:
    return {
        "TransactItems": [
            {"Put": {"TableName": table, "Item": {"pk": {"S": guard}, "sk": {"S": "GUARD"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": f"ITEM#{n}"}, "sk": {"S": "A"}}}},
        ]
    }  # fmt: skip


def test_a_refused_transaction_leaves_no_item_and_no_stream_record(provisioned: LocalConfig) -> None:
    stack = load_stack(provisioned.stack_file)
    table, dynamodb = stack.ref("Table"), client(provisioned, "dynamodb")
    reader = StreamReader(provisioned, stack.attribute("Table", "StreamArn"))
    dynamodb.transact_write_items(**guarded_put(table, 1, "GUARD#a"))  # type: ignore[attr-defined]
    assert reader.keys() == ["GUARD#a", "ITEM#1"]

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):  # type: ignore[attr-defined]
        dynamodb.transact_write_items(**guarded_put(table, 2, "GUARD#a"))  # type: ignore[attr-defined]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "AFTER"}, "sk": {"S": "A"}})  # type: ignore[attr-defined]

    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "ITEM#2"}, "sk": {"S": "A"}})  # type: ignore[attr-defined]
    assert reader.keys() == ["AFTER"], "nothing of the refused transaction, and the write after it"


def test_refused_transactions_lose_no_concurrent_write(provisioned: LocalConfig) -> None:
    stack = load_stack(provisioned.stack_file)
    table, dynamodb = stack.ref("Table"), client(provisioned, "dynamodb")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "GUARD#taken"}, "sk": {"S": "GUARD"}})  # type: ignore[attr-defined]

    def refused(n: int) -> None:
        for attempt in range(10):
            try:
                dynamodb.transact_write_items(**guarded_put(table, 1000 + n * 10 + attempt, "GUARD#taken"))  # type: ignore[attr-defined]
            except dynamodb.exceptions.TransactionCanceledException:  # type: ignore[attr-defined]
                continue

    def plain(n: int) -> None:
        for m in range(20):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": f"PLAIN#{n}-{m}"}, "sk": {"S": "A"}})  # type: ignore[attr-defined]

    threads = [threading.Thread(target=refused, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=plain, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    items = dynamodb.scan(TableName=table)["Items"]  # type: ignore[attr-defined]
    assert sum(1 for i in items if str(i["pk"]["S"]).startswith("PLAIN#")) == 80
    assert not any(str(i["pk"]["S"]).startswith("ITEM#") for i in items)
