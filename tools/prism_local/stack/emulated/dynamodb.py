"""AWS::DynamoDB::Table: the table, then its TTL and point-in-time recovery, which are separate APIs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from prism_local.stack.emulated.context import is_true, tag_list
from prism_local.template.model import PhysicalResource, TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prism_local.stack.emulated.context import MotoContext


_TABLE_PROPERTIES: Final = frozenset(
    {"TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
     "BillingMode", "ProvisionedThroughput", "StreamSpecification", "SSESpecification", "TableClass",
     "DeletionProtectionEnabled", "Tags", "TimeToLiveSpecification", "PointInTimeRecoverySpecification",
     "OnDemandThroughput"}
)  # fmt: skip


def _index(index: Mapping[str, Any]) -> Any:
    """A CloudFormation index as CreateTable takes it (contributor insights is a separate API)."""
    return {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}


def _create(ctx: MotoContext, name: str, props: Mapping[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for name_ in ("ProvisionedThroughput", "TableClass", "OnDemandThroughput"):
        if name_ in props:
            arguments[name_] = props[name_]
    for name_ in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if name_ in props:
            arguments[name_] = [_index(index) for index in props[name_]]
    if "StreamSpecification" in props:
        view = props["StreamSpecification"]["StreamViewType"]
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    if "SSESpecification" in props:
        sse = props["SSESpecification"]
        arguments["SSESpecification"] = {"Enabled": is_true(sse.get("SSEEnabled"))} | {
            k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse
        }
    if "DeletionProtectionEnabled" in props:
        arguments["DeletionProtectionEnabled"] = is_true(props["DeletionProtectionEnabled"])
    if props.get("Tags"):
        arguments["Tags"] = tag_list(props["Tags"])
    ctx.dynamodb.create_table(**arguments)


def _converge_table(ctx: MotoContext, logical_id: str, table: Mapping[str, Any], props: Mapping[str, Any]) -> None:
    """Bring an existing table's settings in line with the template; its key schema cannot change."""
    path = f"Resources.{logical_id}.Properties"
    if table["KeySchema"] != props["KeySchema"]:
        raise TemplateError(
            f"{path}.KeySchema: the local table {table['TableName']} has a different key schema; "
            "a key change needs a new table: delete the local state (`prism stack down`, remove the state "
            "dir) and run `prism stack up` again"
        )
    wanted_stream = props.get("StreamSpecification", {}).get("StreamViewType")
    current = table.get("StreamSpecification", {})
    current_stream = current.get("StreamViewType") if current.get("StreamEnabled") else None
    if wanted_stream and current_stream != wanted_stream:
        if current_stream:
            raise TemplateError(
                f"{path}.StreamSpecification: the local table streams {current_stream}, the template wants "
                f"{wanted_stream}; reset the local stack to change it"
            )
        ctx.dynamodb.update_table(
            TableName=table["TableName"],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": wanted_stream},
        )
    present = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    for index in props.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] not in present:
            ctx.dynamodb.update_table(
                TableName=table["TableName"],
                AttributeDefinitions=props["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": _index(index)}],
            )
    if "DeletionProtectionEnabled" in props:
        wanted = is_true(props["DeletionProtectionEnabled"])
        if table.get("DeletionProtectionEnabled", False) != wanted:
            ctx.dynamodb.update_table(TableName=table["TableName"], DeletionProtectionEnabled=wanted)


def create_table(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the table (or converge an existing one); Ref is its name, GetAtt Arn and StreamArn.

    TTL and point-in-time recovery are set after creation, as CloudFormation does; items are never touched.
    """
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, _TABLE_PROPERTIES)
    name = ctx.name(logical_id, props.get("TableName"), max_length=255)
    try:
        table = ctx.dynamodb.describe_table(TableName=name)["Table"]
    except ctx.dynamodb.exceptions.ResourceNotFoundException:
        _create(ctx, name, props)
        ctx.progress(f"  {logical_id}: created table {name}")
    else:
        _converge_table(ctx, logical_id, table, props)
    ttl = props.get("TimeToLiveSpecification")
    if ttl is not None:
        current = ctx.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        enabled = current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        wanted = is_true(ttl.get("Enabled"))
        if enabled != wanted or (wanted and current.get("AttributeName") != ttl.get("AttributeName")):
            ctx.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": wanted},
            )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr is not None:
        spec: Any = {"PointInTimeRecoveryEnabled": is_true(pitr.get("PointInTimeRecoveryEnabled"))}
        if "RecoveryPeriodInDays" in pitr:
            spec["RecoveryPeriodInDays"] = int(pitr["RecoveryPeriodInDays"])
        ctx.dynamodb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
    table = ctx.dynamodb.describe_table(TableName=name)["Table"]
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return PhysicalResource(logical_id, "AWS::DynamoDB::Table", name, attributes)
