"""template.yaml's own event sources, provisioned into moto and run by the runner with a fake fanout."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from prism_local.config import ACCOUNT_ID, REPO_ROOT
from prism_local.runtime.esm import CheckpointStore, EventSourceRunner
from prism_local.stack.provision import provision
from prism_local.template.reader import Template
from tests.support.esm_functions import FunctionInvoker

if TYPE_CHECKING:
    from pathlib import Path

    import boto3

    from prism_local.template.model import FunctionSpec

pytestmark = pytest.mark.integration

REGION = "us-east-1"


def test_the_fanout_stream_mapping_delivers_changes_and_sends_poison_to_its_failure_queue(
    moto_endpoint: str, aws_session: boto3.Session, tmp_path: Path
) -> None:
    # Endpoints of existing stores, as the local stack gives them: the template then creates none of its own
    # (an Aurora cluster or an OpenSearch domain is not emulated locally).
    stores = {"DbHost": "127.0.0.1", "SearchUrl": "http://127.0.0.1:9", "CacheUrl": "none"}
    template = Template.load(
        REPO_ROOT / "template.yaml", stores, stack_name="esm-it", region=REGION, account_id=ACCOUNT_ID
    )
    stack = provision(template, endpoint_url=moto_endpoint, region=REGION)
    dynamodb = aws_session.client("dynamodb", endpoint_url=moto_endpoint)
    sqs = aws_session.client("sqs", endpoint_url=moto_endpoint)
    for key in ("good", "poison"):
        dynamodb.put_item(TableName=stack.ref("Table"), Item={"pk": {"S": key}, "sk": {"S": "v1"}})

    def fanout(event: dict[str, Any]) -> dict[str, Any]:
        failed = [r for r in event["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] == "poison"]
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}

    invokers: dict[str, FunctionInvoker] = {}

    def invoker_for(spec: FunctionSpec) -> FunctionInvoker:
        invokers[spec.logical_id] = FunctionInvoker(fanout, spec.function_name)
        return invokers[spec.logical_id]

    with EventSourceRunner(
        template.functions(stack),
        invoker_for,
        endpoint_url=moto_endpoint,
        region=REGION,
        checkpoints=CheckpointStore(tmp_path / "checkpoints.json", moto_instance_id="moto-under-test"),
        retry_backoff_s=0.0,
    ) as runner:
        assert runner.wait_until_idle(15)
        stats = runner.stats()["FanoutFunction.TableStream"]

    keys = [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in invokers["FanoutFunction"].batches()]
    assert keys == [["good", "poison"]] + [["poison"]] * 6, "1 try, then MaximumRetryAttempts: 5 alone"
    queue_url = sqs.get_queue_url(QueueName=stack.ref("FanoutFailureQueue").rsplit("/", 1)[-1])["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
    record = json.loads(message["Body"])
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert record["DDBStreamBatchInfo"]["streamArn"] == stack.attribute("Table", "StreamArn")
    assert (stats.records_read, stats.records_to_destination, stats.poller_errors) == (2, 1, 0)
