"""What every resource creator shares: boto3 clients against moto, naming, and property conversions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from botocore.config import Config

from prism_local.config import local_session
from prism_local.template.reader import partition_of

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import boto3
    from botocore.exceptions import ClientError
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

    from prism_local.template.model import ProvisionedStack
    from prism_local.template.reader import Template

    Progress = Callable[[str], None]

#: KMS keys have no name, so a key is found again by these tags (CloudFormation's own are reserved).
STACK_TAG: Final = "prism:stack-name"
LOGICAL_ID_TAG: Final = "prism:logical-id"


@dataclass(frozen=True)
class MotoContext:
    """What every resource creator needs: clients against moto, names, and where to report.

    ``stack`` is the stack being provisioned: it grows as resources are created, so a property that refers
    to an earlier resource resolves to that resource's physical name.
    """

    template: Template
    stack: ProvisionedStack
    endpoint_url: str
    progress: Progress

    @cached_property
    def session(self) -> boto3.Session:
        return local_session(self.stack.region)

    @cached_property
    def config(self) -> Config:
        return Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)

    @cached_property
    def kms(self) -> KMSClient:
        return self.session.client("kms", endpoint_url=self.endpoint_url, config=self.config)

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb", endpoint_url=self.endpoint_url, config=self.config)

    @cached_property
    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self.endpoint_url, config=self.config)

    @cached_property
    def sns(self) -> SNSClient:
        return self.session.client("sns", endpoint_url=self.endpoint_url, config=self.config)

    @cached_property
    def s3(self) -> S3Client:
        return self.session.client("s3", endpoint_url=self.endpoint_url, config=self.config)

    @cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        return self.session.client("secretsmanager", endpoint_url=self.endpoint_url, config=self.config)

    @cached_property
    def ssm(self) -> SSMClient:
        return self.session.client("ssm", endpoint_url=self.endpoint_url, config=self.config)

    @property
    def partition(self) -> str:
        return partition_of(self.stack.region)[0]

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's Properties with every intrinsic resolved against what is provisioned so far."""
        raw = self.template.resources[logical_id].get("Properties") or {}
        resolved = self.template.resolve(raw, self.stack, f"Resources.{logical_id}.Properties")
        return resolved if isinstance(resolved, dict) else {}

    def name(self, logical_id: str, explicit: Any, *, max_length: int, suffix: str = "", lower: bool = False) -> str:
        """The resource's own name property if set, else ``{stack_name}-{LogicalId}`` within the service limit.

        CloudFormation appends a random suffix; Prism's names are deterministic so that a second
        ``prism stack up`` finds what the first one created.
        """
        if explicit is not None:
            return str(explicit)
        name = f"{self.stack.stack_name}-{logical_id}"
        name = name.lower() if lower else name
        room = max_length - len(suffix)
        if len(name) > room:
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            name = f"{name[: room - 9]}-{digest}"
        return name + suffix

    def note_ignored(self, logical_id: str, properties: Mapping[str, Any], known: frozenset[str]) -> None:
        ignored = sorted(set(properties) - known)
        if ignored:
            self.progress(f"  {logical_id}: {', '.join(ignored)} not emulated locally (ignored)")


def attribute_text(value: Any) -> str:
    """SQS/SNS attribute values are strings; policies given as YAML maps are sent as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def tag_list(tags: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """CloudFormation writes tags as [{Key, Value}] (or, for a few types, a map); boto3 spellings vary."""
    pairs = tags.items() if isinstance(tags, dict) else ((t["Key"], t["Value"]) for t in tags or [])
    return [{key: str(k), value: str(v)} for k, v in pairs]
