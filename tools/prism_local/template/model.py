"""The parts of template.yaml the local runtime needs, resolved against what the local stack provisioned.

This module defines the data the rest of prism_local consumes. ``Template`` (in ``template/reader.py``)
produces it; the runtime, the event-source pollers and the demo only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pathlib import Path


class TemplateError(ValueError):
    """template.yaml (or a parameter override) cannot be read, resolved or emulated. The message says where."""


EventSourceType = Literal["DynamoDB", "SQS", "Api"]


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's ``Events`` whose type the local runtime emulates.

    ``properties`` are the event's ``Properties`` with every intrinsic resolved against the provisioned
    stack: for a ``DynamoDB`` event ``properties["Stream"]`` is the moto stream ARN; for ``SQS``
    ``properties["Queue"]`` is the moto queue ARN; destinations (``DestinationConfig.OnFailure.Destination``)
    are ARNs too. Keys keep their CloudFormation spelling (``BatchSize``, ``FilterCriteria``, ...).
    """

    name: str
    type: EventSourceType
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """An ``AWS::Serverless::Function`` with SAM ``Globals`` merged in and intrinsics resolved."""

    logical_id: str
    function_name: str  # physical name, e.g. "prism-local-FanoutFunction"
    arn: str
    handler: str  # "app.lambda_handler"
    code_uri: Path  # absolute directory
    runtime: str
    architectures: tuple[str, ...]
    timeout: int  # seconds
    memory_size: int  # MB
    environment: dict[str, str]  # Globals + own variables, every value a string
    layers: tuple[Path, ...]  # absolute ContentUri directories of the template's own layers, in order
    events: tuple[EventSource, ...] = field(default_factory=tuple)
    tracing: str | None = None
    # (name, type) of the events the local runtime does not emulate (Schedule, S3, ...), so callers can say so
    unemulated_events: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PhysicalResource:
    """What a provisioned resource is called in the local stack: its ``Ref`` value and its attributes."""

    logical_id: str
    type: str  # "AWS::SQS::Queue", ...
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)  # GetAtt name -> value ("Arn", "StreamArn")


@dataclass(frozen=True)
class ProvisionedStack:
    """The result of provisioning a template into moto; saved as ``stack.json`` in the state dir."""

    stack_name: str
    region: str
    account_id: str
    resources: dict[str, PhysicalResource]
    not_emulated: dict[str, str]  # logical id -> resource type, for the resources with no local stand-in

    def ref(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].ref
        except KeyError as exc:
            raise TemplateError(f"{logical_id} was not provisioned in the local stack") from exc

    def attribute(self, logical_id: str, name: str) -> str:
        try:
            return self.resources[logical_id].attributes[name]
        except KeyError as exc:
            raise TemplateError(f"{logical_id}.{name} is not known in the local stack") from exc
