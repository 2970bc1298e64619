"""The DynamoDB stream mapping against a real moto server: partial failures, bisection, filters, resuming."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from prism_local.runtime.esm import CheckpointStore, EventSourceRunner, PollerTiming
from prism_local.template.model import EventSource
from tests.support.esm_functions import FunctionInvoker, function_spec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.integration

REGION = "us-east-1"
FAST = PollerTiming(poll_interval_s=0.05, error_backoff_s=0.1)


@pytest.fixture
def dynamodb(aws_session: boto3.Session, moto_endpoint: str) -> DynamoDBClient:
    return aws_session.client("dynamodb", endpoint_url=moto_endpoint)


@pytest.fixture
def sqs(aws_session: boto3.Session, moto_endpoint: str) -> SQSClient:
    return aws_session.client("sqs", endpoint_url=moto_endpoint)


@pytest.fixture
def table(dynamodb: DynamoDBClient) -> tuple[str, str]:
    """A fresh table with a NEW_AND_OLD_IMAGES stream: (name, stream ARN)."""
    name = f"esm-{uuid.uuid4().hex[:8]}"
    created = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name, created["TableDescription"]["LatestStreamArn"]


@pytest.fixture
def failure_queue(sqs: SQSClient) -> tuple[str, str]:
    """The on-failure destination: (queue URL, ARN)."""
    url = sqs.create_queue(QueueName=f"esm-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def run_stream(moto_endpoint: str, tmp_path: Path) -> Iterator[Callable[..., EventSourceRunner]]:
    """Start a runner for one function with one DynamoDB event; every runner is stopped at teardown."""
    runners: list[EventSourceRunner] = []

    def run(stream_arn: str, invoker: FunctionInvoker, **properties: Any) -> EventSourceRunner:
        event = EventSource(
            "TableStream", "DynamoDB", {"Stream": stream_arn, "StartingPosition": "TRIM_HORIZON", **properties}
        )
        runner = EventSourceRunner(
            [function_spec("Fanout", event)],
            lambda spec: invoker,
            endpoint_url=moto_endpoint,
            region=REGION,
            checkpoints=CheckpointStore(tmp_path / "checkpoints.json", moto_instance_id="moto-under-test"),
            retry_backoff_s=0.0,
            timing=FAST,
        )
        runners.append(runner)
        runner.start()
        return runner

    yield run
    for runner in runners:
        assert runner.stop(10)


def put_items(dynamodb: DynamoDBClient, table_name: str, *keys: str, **attributes: dict[str, Any]) -> None:
    for key in keys:
        dynamodb.put_item(TableName=table_name, Item={"pk": {"S": key}, **attributes})


def keys_of(batch: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in batch]


def sequence_of(invoker: FunctionInvoker, key: str) -> str:
    return str(next(r["dynamodb"]["SequenceNumber"] for b in invoker.batches() for r in b if keys_of([r]) == [key]))


def invocation_records(sqs: SQSClient, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def report_failed(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function that reports the records of ``keys`` as batch item failures."""

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        failed = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if keys_of([r])[0] in keys]
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}

    return handler


def test_a_reported_failure_retries_from_that_record_and_ends_in_the_destination(
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    table: tuple[str, str],
    failure_queue: tuple[str, str],
    run_stream: Callable[..., EventSourceRunner],
) -> None:
    table_name, stream_arn = table
    queue_url, queue_arn = failure_queue
    put_items(dynamodb, table_name, "k1", "k2", "k3", "k4", "k5")
    invoker = FunctionInvoker(report_failed("k3"))

    runner = run_stream(
        stream_arn,
        invoker,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": queue_arn}},
    )
    assert runner.wait_until_idle(10)

    assert [keys_of(b) for b in invoker.batches()] == [
        ["k1", "k2", "k3", "k4", "k5"],
        ["k3", "k4", "k5"],
        ["k3", "k4", "k5"],
    ], "only the records from the failed one on are retried"
    (record,) = invocation_records(sqs, queue_url)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:prism-test-Fanout")
    info = record["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequence_of(invoker, "k3"),
        sequence_of(invoker, "k5"),
        3,
    )
    assert info["streamArn"] == stream_arn

    put_items(dynamodb, table_name, "k6")
    assert runner.wait_until_idle(10)
    assert keys_of(invoker.batches()[-1]) == ["k6"], "the shard moves on past the discarded records"
    stats = runner.stats()["Fanout.TableStream"]
    assert (stats.invocations, stats.partial_failures, stats.records_to_destination) == (4, 3, 3)
    assert stats.idle


def test_with_bisection_a_reported_record_ends_alone_in_the_destination(
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    table: tuple[str, str],
    failure_queue: tuple[str, str],
    run_stream: Callable[..., EventSourceRunner],
) -> None:
    table_name, stream_arn = table
    queue_url, queue_arn = failure_queue
    put_items(dynamodb, table_name, "k1", "k2", "k3", "k4", "k5")
    invoker = FunctionInvoker(report_failed("k3"))

    runner = run_stream(
        stream_arn,
        invoker,
        BisectBatchOnFunctionError=True,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=2,
        MaximumRecordAgeInSeconds=21600,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": queue_arn}},
    )
    assert runner.wait_until_idle(10)

    assert [keys_of(b) for b in invoker.batches()] == [
        ["k1", "k2", "k3", "k4", "k5"],
        ["k3", "k4", "k5"],  # bisected at the failed record
        ["k3"],  # isolated, then retried twice
        ["k3"],
        ["k3"],
        ["k4", "k5"],  # the records behind it are delivered
    ]
    (record,) = invocation_records(sqs, queue_url)
    info = record["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence_of(invoker, "k3")
    assert info["batchSize"] == 1
    assert record["requestContext"]["approximateInvokeCount"] == 5


def test_a_record_that_raises_is_isolated_by_bisection(
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    table: tuple[str, str],
    failure_queue: tuple[str, str],
    run_stream: Callable[..., EventSourceRunner],
) -> None:
    table_name, stream_arn = table
    queue_url, queue_arn = failure_queue
    put_items(dynamodb, table_name, *(f"k{i}" for i in range(1, 9)))

    def handler(event: dict[str, Any]) -> None:
        if "k6" in keys_of(event["Records"]):
            raise ValueError("poison")

    invoker = FunctionInvoker(handler)

    runner = run_stream(
        stream_arn,
        invoker,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": queue_arn}},
    )
    assert runner.wait_until_idle(10)

    delivered = [k for b in invoker.batches() if "k6" not in keys_of(b) for k in keys_of(b)]
    assert delivered == ["k1", "k2", "k3", "k4", "k5", "k7", "k8"], "everything else once, in order"
    (record,) = invocation_records(sqs, queue_url)
    info = record["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence_of(invoker, "k6")
    assert record["responseContext"]["functionError"] == "Unhandled"
    stats = runner.stats()["Fanout.TableStream"]
    assert stats.records_to_destination == 1
    assert stats.function_errors == sum("k6" in keys_of(b) for b in invoker.batches())


def test_filter_criteria_drop_records_that_do_not_match(
    dynamodb: DynamoDBClient, table: tuple[str, str], run_stream: Callable[..., EventSourceRunner]
) -> None:
    table_name, stream_arn = table
    put_items(dynamodb, table_name, "order-1", kind={"S": "order"}, blob={"B": b"\x00\xff"})
    put_items(dynamodb, table_name, "noise-1", kind={"S": "noise"})
    put_items(dynamodb, table_name, "order-1", kind={"S": "order"}, note={"S": "modified"})
    invoker = FunctionInvoker(lambda event: None)
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["order"]}}}}

    runner = run_stream(stream_arn, invoker, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    assert runner.wait_until_idle(10)

    (batch,) = invoker.batches()
    (record,) = batch
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}, "binary values arrive base64-encoded"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], float)
    assert (record["eventVersion"], record["eventSourceARN"]) == ("1.1", stream_arn)
    stats = runner.stats()["Fanout.TableStream"]
    assert (stats.records_read, stats.records_filtered_out, stats.invocations) == (3, 2, 1)


def test_a_new_runner_resumes_after_the_checkpoint(
    dynamodb: DynamoDBClient, table: tuple[str, str], run_stream: Callable[..., EventSourceRunner]
) -> None:
    table_name, stream_arn = table
    put_items(dynamodb, table_name, "k1", "k2")
    first = FunctionInvoker(lambda event: None)
    runner = run_stream(stream_arn, first)
    assert runner.wait_until_idle(10)
    assert runner.stop(10)

    put_items(dynamodb, table_name, "k3")
    second = FunctionInvoker(lambda event: None)
    assert run_stream(stream_arn, second).wait_until_idle(10)

    assert [k for b in first.batches() for k in keys_of(b)] == ["k1", "k2"]
    assert [keys_of(b) for b in second.batches()] == [["k3"]]


def test_an_sns_topic_can_be_the_on_failure_destination(
    aws_session: boto3.Session,
    moto_endpoint: str,
    dynamodb: DynamoDBClient,
    sqs: SQSClient,
    table: tuple[str, str],
    failure_queue: tuple[str, str],
    run_stream: Callable[..., EventSourceRunner],
) -> None:
    table_name, stream_arn = table
    queue_url, queue_arn = failure_queue
    sns = aws_session.client("sns", endpoint_url=moto_endpoint)
    topic_arn = sns.create_topic(Name=f"esm-failures-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    put_items(dynamodb, table_name, "k1")

    runner = run_stream(
        stream_arn,
        FunctionInvoker(lambda event: 1 / 0),
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Type": "SNS", "Destination": topic_arn}},
    )
    assert runner.wait_until_idle(10)

    (record,) = invocation_records(sqs, queue_url)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
