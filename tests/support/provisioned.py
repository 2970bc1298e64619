"""A ProvisionedStack built by hand, so template resolution can be tested without moto."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prism_local.template.model import PhysicalResource, ProvisionedStack

if TYPE_CHECKING:
    from prism_local.template.reader import Template

NOT_EMULATED_PREFIXES = ("AWS::IAM::", "AWS::Logs::", "AWS::CloudWatch::", "AWS::SQS::QueuePolicy",
                         "AWS::S3::BucketPolicy", "AWS::Lambda::")  # fmt: skip


class EveryAttribute(dict[str, str]):
    """Attributes of a fake resource: any name answers ``<LogicalId>.<Name>``, as GetAtt would locally."""

    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self.logical_id = logical_id

    def __missing__(self, name: str) -> str:
        return f"{self.logical_id}.{name}"


def fake_stack(template: Template, **refs: str) -> ProvisionedStack:
    """Every resource of ``template`` "provisioned": Ref gives ``ref:<LogicalId>`` unless given in ``refs``."""
    resources: dict[str, PhysicalResource] = {}
    not_emulated: dict[str, str] = {}
    for logical_id, resource in template.resources.items():
        resource_type = resource["Type"]
        if resource_type.startswith(NOT_EMULATED_PREFIXES):
            not_emulated[logical_id] = resource_type
            continue
        ref = refs.get(logical_id, f"ref:{logical_id}")
        resources[logical_id] = PhysicalResource(logical_id, resource_type, ref, EveryAttribute(logical_id))
    return ProvisionedStack(template.stack_name, template.region, template.account_id, resources, not_emulated)
