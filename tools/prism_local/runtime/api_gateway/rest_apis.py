"""The template's REST APIs as the local gateway serves them: id, stage, stage variables and binary media types.

An ``AWS::Serverless::Api`` is only named by ``prism stack up`` (``stack/emulated/recorded.py``); its Ref is the
``apiId`` events carry. An Api event without ``RestApiId`` belongs to the API SAM creates implicitly,
``ServerlessRestApi``, deployed to the stage ``Prod``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from prism_local.template.intrinsics import as_text
from prism_local.template.model import TemplateError

if TYPE_CHECKING:
    from prism_local.template.model import ProvisionedStack
    from prism_local.template.reader import Template

SERVERLESS_API: Final = "AWS::Serverless::Api"
IMPLICIT_API: Final = "ServerlessRestApi"
IMPLICIT_STAGE: Final = "Prod"


@dataclass(frozen=True)
class RestApi:
    """One REST API: what ``requestContext`` names it, and the settings that change what a function sees.

    ``stage_variables`` is None when the stage has none, because the event then carries ``null``.
    ``binary_media_types`` are MIME types (SAM's ``~1`` already turned back into ``/``).
    """

    logical_id: str
    api_id: str
    stage: str
    stage_variables: dict[str, str] | None = None
    binary_media_types: tuple[str, ...] = field(default=())


def local_api_id(stack_name: str, logical_id: str) -> str:
    """The id the local stack gives an API: stable per stack, as ``record_api`` computes it."""
    return hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:10]


def implicit_api(stack_name: str) -> RestApi:
    """SAM's implicit API, which serves every Api event that names no ``RestApiId``."""
    return RestApi(IMPLICIT_API, local_api_id(stack_name, IMPLICIT_API), IMPLICIT_STAGE)


def rest_apis(template: Template, stack: ProvisionedStack) -> list[RestApi]:
    """Every ``AWS::Serverless::Api`` of the template whose Condition holds, with its properties resolved.

    Only the properties that change the proxy event are read (``StageName``, ``Variables``,
    ``BinaryMediaTypes``), so an API whose access-log destination is not emulated locally still serves.
    """
    return [
        _read_api(template, stack, logical_id, resource.get("Properties") or {})
        for logical_id, resource in template.resources.items()
        if resource["Type"] == SERVERLESS_API
    ]


def _read_api(template: Template, stack: ProvisionedStack, logical_id: str, properties: dict[str, Any]) -> RestApi:
    path = f"Resources.{logical_id}.Properties"

    def prop(name: str) -> Any:
        return template.resolve(properties.get(name), stack, f"{path}.{name}")

    stage = prop("StageName")
    if stage is None:
        raise TemplateError(f"{path}.StageName is required for an AWS::Serverless::Api")
    return RestApi(
        logical_id=logical_id,
        api_id=stack.ref(logical_id),
        stage=as_text(stage, f"{path}.StageName"),
        stage_variables=_stage_variables(prop("Variables"), f"{path}.Variables"),
        binary_media_types=_binary_media_types(prop("BinaryMediaTypes"), f"{path}.BinaryMediaTypes"),
    )


def _stage_variables(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TemplateError(f"{path}: expected a map of stage variables, got {value!r}")
    return {str(name): as_text(item, f"{path}.{name}") for name, item in value.items()} or None


def _binary_media_types(value: Any, path: str) -> tuple[str, ...]:
    """SAM writes ``image~1png`` for ``image/png`` (a JSON-pointer escape), so ``~1`` becomes ``/`` again."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TemplateError(f"{path}: expected a list of media types, got {value!r}")
    return tuple(as_text(item, f"{path}[{index}]").replace("~1", "/") for index, item in enumerate(value))
