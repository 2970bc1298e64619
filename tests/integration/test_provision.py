"""template.yaml (and the fixture template) provisioned into a real moto server, then checked through boto3."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from prism_local.config import ACCOUNT_ID, REPO_ROOT
from prism_local.stack.provision import provision
from prism_local.template.reader import Template

if TYPE_CHECKING:
    import boto3

    from prism_local.template.model import ProvisionedStack

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SINKS = ("Relational", "Search", "Lake", "Cache")
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "templates" / "features.yaml"


def load(path: Any, stack_name: str, **overrides: str) -> Template:
    return Template.load(path, overrides, stack_name=stack_name, region=REGION, account_id=ACCOUNT_ID)


@pytest.fixture(scope="module")
def prism_stack(moto_endpoint: str) -> ProvisionedStack:
    return provision(load(REPO_ROOT / "template.yaml", "it-prism"), endpoint_url=moto_endpoint, region=REGION)


@pytest.fixture(scope="module")
def clients(aws_session: boto3.Session, moto_endpoint: str) -> dict[str, Any]:
    names = ("dynamodb", "dynamodbstreams", "sqs", "sns", "s3", "kms", "secretsmanager", "ssm")
    return {name: aws_session.client(name, endpoint_url=moto_endpoint) for name in names}  # type: ignore[call-overload]


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return list(messages)


def test_the_table_has_its_index_stream_ttl_and_point_in_time_recovery(
    prism_stack: ProvisionedStack, clients: dict[str, Any]
) -> None:
    dynamodb = clients["dynamodb"]

    table = dynamodb.describe_table(TableName=prism_stack.ref("Table"))["Table"]

    assert prism_stack.ref("Table") == "it-prism-Table"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["LatestStreamArn"] == prism_stack.attribute("Table", "StreamArn")
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=prism_stack.ref("Table"))["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    backups = dynamodb.describe_continuous_backups(TableName=prism_stack.ref("Table"))
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_each_sink_queue_redrives_to_its_own_dead_letter_queue(
    prism_stack: ProvisionedStack, clients: dict[str, Any]
) -> None:
    for sink in SINKS:
        attributes = clients["sqs"].get_queue_attributes(
            QueueUrl=prism_stack.ref(f"{sink}Queue"), AttributeNames=["All"]
        )["Attributes"]

        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": prism_stack.attribute(f"{sink}DeadLetterQueue", "Arn"),
            "maxReceiveCount": 5,
        }
        assert (attributes["VisibilityTimeout"], attributes["MessageRetentionPeriod"]) == ("180", "345600")
        assert attributes["KmsMasterKeyId"] == prism_stack.ref("DataKey")


def test_each_subscription_is_raw_with_the_entity_filter(
    prism_stack: ProvisionedStack, clients: dict[str, Any]
) -> None:
    for sink in SINKS:
        attributes = clients["sns"].get_subscription_attributes(SubscriptionArn=prism_stack.ref(f"{sink}Subscription"))[
            "Attributes"
        ]

        assert attributes["TopicArn"] == prism_stack.ref("ChangesTopic")
        assert attributes["Endpoint"] == prism_stack.attribute(f"{sink}Queue", "Arn")
        assert attributes["RawMessageDelivery"] == "true"
        assert attributes["FilterPolicyScope"] == "MessageAttributes"
        assert json.loads(attributes["FilterPolicy"]) == {"entity": ["customer", "product", "order"]}
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": prism_stack.attribute("DeliveryFailureQueue", "Arn")
        }


def test_not_emulated_resources_are_recorded_not_dropped(prism_stack: ProvisionedStack) -> None:
    assert prism_stack.not_emulated["SinkQueuesPolicy"] == "AWS::SQS::QueuePolicy"
    assert prism_stack.not_emulated["FanoutLogGroup"] == "AWS::Logs::LogGroup"
    assert prism_stack.not_emulated["FanoutIteratorAgeAlarm"] == "AWS::CloudWatch::Alarm"
    assert "AlarmEmailSubscription" not in prism_stack.resources  # its Condition is false by default
    assert prism_stack.ref("FanoutFunction") == "it-prism-FanoutFunction"
    assert prism_stack.ref("DataKeyAlias") == "alias/it-prism-data"


def test_an_item_written_to_the_table_shows_up_in_its_stream(
    prism_stack: ProvisionedStack, clients: dict[str, Any]
) -> None:
    clients["dynamodb"].put_item(
        TableName=prism_stack.ref("Table"), Item={"pk": {"S": "customer#stream"}, "sk": {"S": "v"}}
    )

    streams = clients["dynamodbstreams"]
    stream_arn = prism_stack.attribute("Table", "StreamArn")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]

    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records if r["eventName"] == "INSERT"]
    assert "customer#stream" in keys


def test_the_topic_fans_customer_changes_out_to_every_sink_and_filters_the_rest(
    prism_stack: ProvisionedStack, clients: dict[str, Any]
) -> None:
    sns, sqs = clients["sns"], clients["sqs"]
    for sink in SINKS:
        sqs.purge_queue(QueueUrl=prism_stack.ref(f"{sink}Queue"))

    for entity in ("other", "customer"):
        sns.publish(
            TopicArn=prism_stack.ref("ChangesTopic"),
            Message=json.dumps({"entity": entity}),
            MessageAttributes={"entity": {"DataType": "String", "StringValue": entity}},
        )

    for sink in SINKS:
        messages = receive_all(sqs, prism_stack.ref(f"{sink}Queue"))
        assert [json.loads(m["Body"]) for m in messages] == [{"entity": "customer"}], sink  # raw: no SNS envelope


def test_provisioning_again_is_idempotent_and_keeps_data(moto_endpoint: str, clients: dict[str, Any]) -> None:
    template = load(REPO_ROOT / "template.yaml", "it-again")
    first = provision(template, endpoint_url=moto_endpoint, region=REGION)
    table, queue, bucket = first.ref("Table"), first.ref("RelationalQueue"), first.ref("ClaimCheckBucket")
    clients["dynamodb"].put_item(TableName=table, Item={"pk": {"S": "kept"}, "sk": {"S": "1"}})
    clients["sqs"].send_message(QueueUrl=queue, MessageBody="kept")
    clients["s3"].put_object(Bucket=bucket, Key="changes/kept.json", Body=b"{}")
    keys_before = len(clients["kms"].list_keys()["Keys"])
    subscriptions_before = clients["sns"].list_subscriptions_by_topic(TopicArn=first.ref("ChangesTopic"))

    second = provision(template, endpoint_url=moto_endpoint, region=REGION)

    assert second == first
    assert len(clients["kms"].list_keys()["Keys"]) == keys_before
    subscriptions_after = clients["sns"].list_subscriptions_by_topic(TopicArn=first.ref("ChangesTopic"))
    assert subscriptions_after["Subscriptions"] == subscriptions_before["Subscriptions"]
    assert "Item" in clients["dynamodb"].get_item(TableName=table, Key={"pk": {"S": "kept"}, "sk": {"S": "1"}})
    assert [m["Body"] for m in receive_all(clients["sqs"], queue)] == ["kept"]
    assert clients["s3"].get_object(Bucket=bucket, Key="changes/kept.json")["Body"].read() == b"{}"


def test_a_resource_missing_from_moto_is_created_again_and_the_rest_found(
    moto_endpoint: str, clients: dict[str, Any]
) -> None:
    template = load(REPO_ROOT / "template.yaml", "it-heal")
    first = provision(template, endpoint_url=moto_endpoint, region=REGION)
    clients["sqs"].delete_queue(QueueUrl=first.ref("SearchQueue"))
    clients["sns"].unsubscribe(SubscriptionArn=first.ref("SearchSubscription"))

    second = provision(template, endpoint_url=moto_endpoint, region=REGION)

    assert second.ref("SearchQueue") == first.ref("SearchQueue")
    assert second.ref("SearchSubscription") != first.ref("SearchSubscription")
    assert second.ref("Table") == first.ref("Table")
    assert clients["sqs"].get_queue_attributes(QueueUrl=second.ref("SearchQueue"), AttributeNames=["RedrivePolicy"])


def test_the_fixture_templates_secret_parameter_and_fifo_resources_exist(
    moto_endpoint: str, clients: dict[str, Any]
) -> None:
    template = load(FIXTURE, "it-features")
    messages: list[str] = []

    stack = provision(template, endpoint_url=moto_endpoint, region=REGION, progress=messages.append)
    again = provision(template, endpoint_url=moto_endpoint, region=REGION)

    secret = json.loads(
        clients["secretsmanager"].get_secret_value(SecretId=stack.ref("DatabaseSecret"))["SecretString"]
    )
    assert secret["username"] == "prism"
    assert len(secret["password"]) == 24
    assert not set(secret["password"]) & set('"@/\\')
    assert again.ref("DatabaseSecret") == stack.ref("DatabaseSecret")
    again_secret = clients["secretsmanager"].get_secret_value(SecretId=stack.ref("DatabaseSecret"))["SecretString"]
    assert json.loads(again_secret) == secret  # an existing secret keeps its value
    parameter = clients["ssm"].get_parameter(Name="/it-features/orders-queue-url")["Parameter"]
    assert (parameter["Value"], parameter["Type"]) == (stack.ref("OrdersQueue"), "String")
    assert stack.attribute("QueueUrlParameter", "Value") == stack.ref("OrdersQueue")
    queue = clients["sqs"].get_queue_attributes(QueueUrl=stack.ref("OrdersQueue"), AttributeNames=["All"])["Attributes"]
    assert stack.attribute("OrdersQueue", "QueueName") == "it-features-OrdersQueue.fifo"
    assert (queue["FifoQueue"], queue["ContentBasedDeduplication"], queue["VisibilityTimeout"]) == (
        "true",
        "true",
        "45",
    )
    assert queue["MessageRetentionPeriod"] == "345600"  # Fn::If gave AWS::NoValue: the SQS default applies
    assert stack.attribute("OrdersTopic", "TopicName") == "it-features-OrdersTopic.fifo"
    assert "ProdOnlyQueue" not in stack.resources
    assert stack.ref("PublicApi") == again.ref("PublicApi")  # Prism serves it; the id only has to be stable
    (worker,) = template.functions(stack)
    assert worker.events[1].properties["RestApiId"] == stack.ref("PublicApi")
    assert worker.events[0].properties["Queue"] == stack.attribute("OrdersQueue", "Arn")
    assert any(m.startswith("provisioned ") and "AWS::SQS::Queue" in m for m in messages)
