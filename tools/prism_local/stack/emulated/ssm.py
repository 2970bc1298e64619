"""AWS::SSM::Parameter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prism_local.stack.emulated.context import tag_list
from prism_local.template.model import PhysicalResource

if TYPE_CHECKING:
    from prism_local.stack.emulated.context import MotoContext


def create_parameter(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the parameter; Ref is its name, GetAtt Type and Value.

    Its value is template configuration (unlike a secret's generated value), so an existing parameter whose
    value differs is brought back to the template's.
    """
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, frozenset({"Name", "Type", "Value", "Description", "AllowedPattern",
                                                   "Tier", "DataType", "Tags"}))  # fmt: skip
    name = ctx.name(logical_id, props.get("Name"), max_length=2048)
    value, kind = str(props["Value"]), str(props["Type"])
    arguments: dict[str, Any] = {"Name": name, "Value": value, "Type": kind}
    for key in ("Description", "AllowedPattern", "Tier", "DataType"):
        if key in props:
            arguments[key] = str(props[key])
    try:
        current = ctx.ssm.get_parameter(Name=name)["Parameter"]
    except ctx.ssm.exceptions.ParameterNotFound:
        if props.get("Tags"):
            arguments["Tags"] = tag_list(props["Tags"])
        ctx.ssm.put_parameter(**arguments)
        ctx.progress(f"  {logical_id}: created parameter {name}")
    else:
        if current.get("Value") != value or current.get("Type") != kind:
            ctx.ssm.put_parameter(**arguments, Overwrite=True)
    return PhysicalResource(logical_id, "AWS::SSM::Parameter", name, {"Type": kind, "Value": value})
