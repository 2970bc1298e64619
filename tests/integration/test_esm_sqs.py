"""The SQS mapping against a real moto server: partial failures, the DLQ, function errors, filters."""

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

    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.integration

REGION = "us-east-1"
FAST = PollerTiming(poll_interval_s=0.05, error_backoff_s=0.1, sqs_long_poll_s=1)


@pytest.fixture
def sqs(aws_session: boto3.Session, moto_endpoint: str) -> SQSClient:
    return aws_session.client("sqs", endpoint_url=moto_endpoint)


@pytest.fixture
def queues(sqs: SQSClient) -> dict[str, str]:
    """A sink queue (1 s visibility timeout, redrive after 2 receives) and its DLQ: URLs and the queue ARN."""
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"esm-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = sqs.create_queue(
        QueueName=f"esm-sink-{suffix}", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn, "dlq_url": dlq_url}


@pytest.fixture
def run_queue(moto_endpoint: str, tmp_path: Path) -> Iterator[Callable[..., EventSourceRunner]]:
    runners: list[EventSourceRunner] = []

    def run(queue_arn: str, invoker: FunctionInvoker, **properties: Any) -> EventSourceRunner:
        event = EventSource("Changes", "SQS", {"Queue": queue_arn, **properties})
        runner = EventSourceRunner(
            [function_spec("Sink", event, timeout=1)],
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


def send(sqs: SQSClient, url: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"entity": {"DataType": "String", "StringValue": "order"}},
        )


def bodies_of(batch: list[dict[str, Any]]) -> list[str]:
    return [record["body"] for record in batch]


def drain(sqs: SQSClient, url: str) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    )
    return [dict(message) for message in response.get("Messages", [])]


def test_a_reported_failure_is_retried_alone_then_lands_in_the_dlq_whole(
    sqs: SQSClient, queues: dict[str, str], run_queue: Callable[..., EventSourceRunner]
) -> None:
    poison = json.dumps({"entity": "order", "id": "poison", "payload": "x" * 1000})
    send(sqs, queues["url"], '{"id": "a"}', poison, '{"id": "b"}')

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if "poison" in r["body"]]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    invoker = FunctionInvoker(handler)

    runner = run_queue(queues["arn"], invoker, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert runner.wait_until_idle(20)

    seen = [body for batch in invoker.batches() for body in bodies_of(batch)]
    assert seen.count('{"id": "a"}') == seen.count('{"id": "b"}') == 1, "the others are deleted after one success"
    assert seen.count(poison) == 2, "the reported message is received maxReceiveCount times"
    (dead,) = drain(sqs, queues["dlq_url"])
    assert dead["Body"] == poison, "the DLQ keeps the full message"
    assert dead["MessageAttributes"]["entity"]["StringValue"] == "order"
    assert drain(sqs, queues["url"]) == []
    stats = runner.stats()["Sink.Changes"]
    assert (stats.records_read, stats.partial_failures, stats.records_retried) == (4, 2, 2)
    assert stats.idle


def test_records_have_lambdas_shape(
    sqs: SQSClient, queues: dict[str, str], run_queue: Callable[..., EventSourceRunner]
) -> None:
    send(sqs, queues["url"], "hello")
    invoker = FunctionInvoker(lambda event: None)

    assert run_queue(queues["arn"], invoker).wait_until_idle(10)

    ((record,),) = invoker.batches()
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues["arn"]
    assert record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "entity": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert all(record[key] for key in ("md5OfBody", "receiptHandle", "messageId"))


def test_a_function_error_deletes_nothing_and_the_message_comes_back(
    sqs: SQSClient, queues: dict[str, str], run_queue: Callable[..., EventSourceRunner]
) -> None:
    send(sqs, queues["url"], "flaky")
    calls: list[str] = []

    def handler(event: dict[str, Any]) -> None:
        calls.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        if len(calls) == 1:
            raise TimeoutError("first try fails")

    runner = run_queue(queues["arn"], FunctionInvoker(handler))
    assert runner.wait_until_idle(15)

    assert calls == ["1", "2"]
    assert drain(sqs, queues["url"]) == []
    assert drain(sqs, queues["dlq_url"]) == []
    stats = runner.stats()["Sink.Changes"]
    assert (stats.invocations, stats.function_errors) == (2, 1)


def test_messages_that_do_not_match_the_filter_are_deleted_without_an_invocation(
    sqs: SQSClient, queues: dict[str, str], run_queue: Callable[..., EventSourceRunner]
) -> None:
    send(sqs, queues["url"], '{"entity": "order", "n": 1}', '{"entity": "user"}', "plain text", '{"entity": "order"}')
    invoker = FunctionInvoker(lambda event: None)
    pattern = {"body": {"entity": ["order"], "n": [{"numeric": [">", 0]}]}}

    runner = run_queue(queues["arn"], invoker, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    assert runner.wait_until_idle(10)

    assert [body for batch in invoker.batches() for body in bodies_of(batch)] == ['{"entity": "order", "n": 1}']
    assert drain(sqs, queues["url"]) == []
    assert drain(sqs, queues["dlq_url"]) == []
    stats = runner.stats()["Sink.Changes"]
    assert (stats.records_read, stats.records_filtered_out, stats.invocations) == (4, 3, 1)
