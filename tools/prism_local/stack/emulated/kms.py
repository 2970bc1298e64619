"""AWS::KMS::Key and AWS::KMS::Alias. A key has no name, so it is found again by its Prism tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from prism_local.stack.emulated.context import LOGICAL_ID_TAG, STACK_TAG, attribute_text, is_true, tag_list
from prism_local.template.model import PhysicalResource

if TYPE_CHECKING:
    from prism_local.stack.emulated.context import MotoContext


_KEY_PROPERTIES: Final = frozenset(
    {"Description", "KeyPolicy", "EnableKeyRotation", "RotationPeriodInDays", "KeyUsage", "KeySpec",
     "MultiRegion", "Enabled", "Tags", "PendingWindowInDays"}
)  # fmt: skip


def _find_key(ctx: MotoContext, logical_id: str) -> str | None:
    wanted = {STACK_TAG: ctx.stack.stack_name, LOGICAL_ID_TAG: logical_id}
    for page in ctx.kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            tags = ctx.kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
            if wanted.items() <= {t["TagKey"]: t["TagValue"] for t in tags}.items():
                state = ctx.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
                if state != "PendingDeletion":
                    return key["KeyId"]
    return None


def create_key(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the key once (found again by tag); Ref is the key id, GetAtt Arn and KeyId."""
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, _KEY_PROPERTIES)
    key_id = _find_key(ctx, logical_id)
    if key_id is None:
        arguments: dict[str, Any] = {
            "Tags": [
                *tag_list(props.get("Tags"), "TagKey", "TagValue"),
                {"TagKey": STACK_TAG, "TagValue": ctx.stack.stack_name},
                {"TagKey": LOGICAL_ID_TAG, "TagValue": logical_id},
            ]
        }
        if "KeyPolicy" in props:
            arguments["Policy"] = attribute_text(props["KeyPolicy"])
        for name in ("Description", "KeyUsage", "KeySpec"):
            if name in props:
                arguments[name] = str(props[name])
        if "MultiRegion" in props:
            arguments["MultiRegion"] = is_true(props["MultiRegion"])
        key_id = ctx.kms.create_key(**arguments)["KeyMetadata"]["KeyId"]
        ctx.progress(f"  {logical_id}: created key {key_id}")
    elif "KeyPolicy" in props:
        ctx.kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=attribute_text(props["KeyPolicy"]))
    if is_true(props.get("EnableKeyRotation")):
        rotation: dict[str, Any] = {"KeyId": key_id}
        if "RotationPeriodInDays" in props:
            rotation["RotationPeriodInDays"] = int(props["RotationPeriodInDays"])
        ctx.kms.enable_key_rotation(**rotation)
    if "Enabled" in props and not is_true(props["Enabled"]):
        ctx.kms.disable_key(KeyId=key_id)
    arn = ctx.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    return PhysicalResource(logical_id, "AWS::KMS::Key", key_id, {"Arn": arn, "KeyId": key_id})


def create_alias(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Point the alias at its key, creating or moving it as needed; Ref is the alias name."""
    props = ctx.properties(logical_id)
    alias, target = str(props["AliasName"]), str(props["TargetKeyId"])
    existing = {
        a["AliasName"]: a.get("TargetKeyId", "")
        for page in ctx.kms.get_paginator("list_aliases").paginate()
        for a in page["Aliases"]
    }
    if alias not in existing:
        ctx.kms.create_alias(AliasName=alias, TargetKeyId=target)
    elif existing[alias] not in (target, target.rpartition("/")[2]):
        ctx.kms.update_alias(AliasName=alias, TargetKeyId=target)
    return PhysicalResource(logical_id, "AWS::KMS::Alias", alias)
