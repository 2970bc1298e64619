"""Functions, layers and APIs: Prism runs them itself, so they are only named, never created in moto."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from prism_local.template.model import PhysicalResource
from prism_local.template.reader import SERVERLESS_FUNCTION, SERVERLESS_LAYER

if TYPE_CHECKING:
    from prism_local.stack.emulated.context import MotoContext


def record_function(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Prism runs functions itself (moto's Lambda needs Docker), so a function is only named here."""
    name = ctx.template.function_name(logical_id, ctx.stack)
    return PhysicalResource(logical_id, SERVERLESS_FUNCTION, name, {"Arn": ctx.template.function_arn(name)})


def record_layer(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """A layer's Ref is a version ARN; the local one points at nothing but names the template's layer."""
    explicit = (ctx.template.resources[logical_id].get("Properties") or {}).get("LayerName")
    name = ctx.name(logical_id, ctx.template.resolve(explicit, ctx.stack, f"Resources.{logical_id}"), max_length=140)
    arn = f"arn:{ctx.partition}:lambda:{ctx.stack.region}:{ctx.stack.account_id}:layer:{name}:1"
    return PhysicalResource(logical_id, SERVERLESS_LAYER, arn, {"LayerVersionArn": arn})


def record_api(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Prism serves Api events itself; the API gets a stable local id so ``RestApiId: !Ref Api`` resolves."""
    api_id = hashlib.sha256(f"{ctx.stack.stack_name}/{logical_id}".encode()).hexdigest()[:10]
    return PhysicalResource(logical_id, "AWS::Serverless::Api", api_id, {"RootResourceId": "root"})
