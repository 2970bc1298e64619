"""A DynamoEntityStore on template.yaml's table, provisioned into the session's moto under a stack of its own."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from prism.changes.stream_decoder import Skipped, decode_stream_record
from prism.store.dynamodb import DynamoEntityStore
from prism_local.config import ACCOUNT_ID, LOCAL_CREDENTIALS, REPO_ROOT, local_session
from prism_local.stack.provision import provision
from prism_local.template.reader import Template

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism.changes.envelope import ChangeEvent

REGION = "us-east-1"
CURSOR_KEY = "integration-tests-cursor-key-0123456789"


@dataclass(frozen=True)
class StoreUnderTest:
    store: DynamoEntityStore
    table_name: str
    stream_arn: str
    endpoint: str

    def client(self, service: str) -> Any:
        return local_session(REGION).client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def another_store(self, cursor_key: str = CURSOR_KEY) -> DynamoEntityStore:
        return DynamoEntityStore(self.table_name, cursor_key, host=self.endpoint, region=REGION)

    def raw_item(self, pk: str) -> dict[str, Any] | None:
        """The item as DynamoDB holds it (AttributeValues), read consistently."""
        response = self.client("dynamodb").get_item(
            TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": "A"}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def changes_of(self, pk: str) -> list[ChangeEvent]:
        """What the fanout would publish for the key ``pk``: its stream records, decoded, oldest first."""
        streams = self.client("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        changes = []
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in response["Records"]:
                if record["dynamodb"]["Keys"]["pk"]["S"] == pk:
                    record.setdefault("eventSourceARN", self.stream_arn)
                    created = record["dynamodb"]["ApproximateCreationDateTime"]
                    record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
                    decoded = decode_stream_record(record)
                    if not isinstance(decoded, Skipped):
                        changes.append(decoded)
            iterator = response.get("NextShardIterator") if response["Records"] else None
        return changes


@contextmanager
def provisioned_store(moto_endpoint: str, purpose: str) -> Iterator[StoreUnderTest]:
    """template.yaml provisioned under a fresh stack name, and a store on its table (dummy credentials)."""
    stack_name = f"{purpose}-{uuid.uuid4().hex[:6]}"
    template = Template.load(REPO_ROOT / "template.yaml", stack_name=stack_name, region=REGION, account_id=ACCOUNT_ID)
    stack = provision(template, endpoint_url=moto_endpoint, region=REGION)
    with pytest.MonkeyPatch.context() as env:
        # pynamodb builds its botocore client from the environment's credentials; moto accepts any.
        env.setenv("AWS_ACCESS_KEY_ID", LOCAL_CREDENTIALS["aws_access_key_id"])
        env.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS["aws_secret_access_key"])
        env.setenv("AWS_SESSION_TOKEN", LOCAL_CREDENTIALS["aws_session_token"])
        env.delenv("AWS_PROFILE", raising=False)
        table_name = stack.ref("Table")
        yield StoreUnderTest(
            store=DynamoEntityStore(table_name, CURSOR_KEY, host=moto_endpoint, region=REGION),
            table_name=table_name,
            stream_arn=stack.attribute("Table", "StreamArn"),
            endpoint=moto_endpoint,
        )


def unique_email(name: str = "someone") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


def unique_word(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
