"""Provision template.yaml into a moto server, idempotently, and record what each resource is called.

Each resource is created in dependency order with boto3, exactly as its template properties say. Running it
again against the same moto finds every resource by name (KMS keys by tag) and creates nothing twice; data
already there (items, messages, objects, secret values) is left alone. Resources with no moto stand-in are
recorded in ``ProvisionedStack.not_emulated``, never dropped silently.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from prism_local.stack.emulated import dynamodb, kms, messaging, recorded, s3, secret, ssm
from prism_local.stack.emulated.context import MotoContext
from prism_local.stack.errors import StackError
from prism_local.template.model import PhysicalResource, ProvisionedStack, TemplateError
from prism_local.template.reader import SERVERLESS_FUNCTION, SERVERLESS_LAYER

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

    from prism_local.template.reader import Template

    Creator = Callable[[MotoContext, str], PhysicalResource]


class StackNotProvisionedError(StackError):
    """There is no usable record of a provisioned local stack (``stack.json``)."""


class ProvisioningError(StackError):
    """moto refused a resource, or could not be reached; the message names the resource and the call."""


#: Resource type -> how it is created in moto.
MOTO_CREATORS: Final[Mapping[str, Creator]] = {
    "AWS::KMS::Key": kms.create_key,
    "AWS::KMS::Alias": kms.create_alias,
    "AWS::DynamoDB::Table": dynamodb.create_table,
    "AWS::SQS::Queue": messaging.create_queue,
    "AWS::SNS::Topic": messaging.create_topic,
    "AWS::SNS::Subscription": messaging.create_subscription,
    "AWS::S3::Bucket": s3.create_bucket,
    "AWS::SecretsManager::Secret": secret.create_secret,
    "AWS::SSM::Parameter": ssm.create_parameter,
}

#: Resource type -> how it is recorded without moto (Prism's own runtime stands in for it).
RECORDERS: Final[Mapping[str, Creator]] = {
    SERVERLESS_FUNCTION: recorded.record_function,
    SERVERLESS_LAYER: recorded.record_layer,
    "AWS::Serverless::Api": recorded.record_api,
}


def check_emulated_references(template: Template) -> None:
    """Refuse, before creating anything, a moto resource whose properties need what Prism cannot provide.

    Checking first keeps a bad template from leaving half a stack behind.
    """
    for logical_id, resource in template.resources.items():
        if resource["Type"] not in MOTO_CREATORS:
            continue
        for target, path in template.undeclared_references(logical_id).items():
            raise TemplateError(
                f"{path}: {logical_id} ({resource['Type']}) refers to {target}, which is not a parameter or "
                "resource of the template (resources SAM generates, such as a function's Role, are not emulated)"
            )
        for target, path in template.references(logical_id, depends_on=False).items():
            target_type = template.resource_type(target)
            if target_type not in MOTO_CREATORS and target_type not in RECORDERS:
                raise TemplateError(
                    f"{path}: {logical_id} ({resource['Type']}) refers to {target} ({target_type}), "
                    "which is not emulated locally"
                )


def provision(
    template: Template, *, endpoint_url: str, region: str, progress: Callable[[str], None] | None = None
) -> ProvisionedStack:
    """Create (or find) every resource of ``template`` in the moto server at ``endpoint_url``.

    Safe to run again: what exists is found by name and brought in line with the template, never created
    twice, and its data is kept. Returns what each resource is called, for ``Template.resolve``.
    """
    if region != template.region:
        raise TemplateError(
            f"the template was loaded for region {template.region} but is being provisioned into {region}"
        )
    report = progress or (lambda _message: None)
    order = template.creation_order()
    check_emulated_references(template)
    stack = ProvisionedStack(template.stack_name, region, template.account_id, resources={}, not_emulated={})
    ctx = MotoContext(template, stack, endpoint_url, report)
    for logical_id in order:
        resource_type = template.resource_type(logical_id)
        creator = MOTO_CREATORS.get(resource_type) or RECORDERS.get(resource_type)
        if creator is None:
            stack.not_emulated[logical_id] = resource_type
            continue
        try:
            stack.resources[logical_id] = creator(ctx, logical_id)
        except ClientError as exc:
            operation = getattr(exc, "operation_name", "a call")
            raise ProvisioningError(
                f"Resources.{logical_id} ({resource_type}): moto refused {operation}: {exc}"
            ) from exc
        except BotoCoreError as exc:
            raise ProvisioningError(
                f"Resources.{logical_id} ({resource_type}): cannot talk to moto at {endpoint_url}: {exc}; "
                "is the local stack running (`prism stack up`)?"
            ) from exc
    report(f"provisioned {_by_type(stack.resources[r].type for r in stack.resources)}")
    if stack.not_emulated:
        report(f"not emulated locally (AWS only): {_by_type(stack.not_emulated.values())}")
    return stack


def _by_type(resource_types: Iterable[str]) -> str:
    """'3 AWS::SQS::Queue, 1 AWS::SNS::Topic': a one-line census, most common first."""
    counts = Counter(resource_types)
    return ", ".join(f"{count} {resource_type}" for resource_type, count in counts.most_common())


def save_stack(stack: ProvisionedStack, path: Path) -> None:
    """Write ``stack`` as JSON, atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(asdict(stack), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def load_stack(path: Path) -> ProvisionedStack:
    """Read what ``save_stack`` wrote; a missing or unreadable file says to run ``prism stack up``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackNotProvisionedError(
            f"{path} does not exist: the local stack is not provisioned; run `prism stack up`"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise StackNotProvisionedError(
            f"{path} cannot be read ({exc}); run `prism stack up` to provision the stack and rewrite it"
        ) from exc
    try:
        return ProvisionedStack(
            stack_name=document["stack_name"],
            region=document["region"],
            account_id=document["account_id"],
            resources={
                logical_id: PhysicalResource(**resource) for logical_id, resource in document["resources"].items()
            },
            not_emulated=dict(document["not_emulated"]),
        )
    except (KeyError, TypeError) as exc:
        raise StackNotProvisionedError(
            f"{path} is not a stack record ({exc!r}); run `prism stack up` to rewrite it"
        ) from exc
