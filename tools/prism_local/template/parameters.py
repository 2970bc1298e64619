"""Template parameters: overrides, else Default, checked against the constraints CloudFormation checks.

A bad override fails here, before anything is provisioned, with the parameter's path in the message, just
as ``sam deploy`` would refuse it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from prism_local.template.model import TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping

ParameterValue = str | list[str]

_SSM_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"


def _as_parameter_text(value: Any, path: str) -> str:
    """Defaults may be written as YAML numbers or lists; CloudFormation sees them as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(_as_parameter_text(item, path) for item in value)
    raise TemplateError(f"{path}: a parameter value must be a string, got {value!r}")


def _is_list_type(parameter_type: str) -> bool:
    return parameter_type == "CommaDelimitedList" or parameter_type.startswith("List<")


def _check_constraints(name: str, declaration: Mapping[str, Any], value: str, items: list[str]) -> None:
    path = f"Parameters.{name}"
    allowed = declaration.get("AllowedValues")
    if allowed is not None:
        allowed_text = [_as_parameter_text(option, path) for option in allowed]
        for item in items:
            if item not in allowed_text:
                raise TemplateError(f"{path}: {item!r} is not one of the AllowedValues {allowed_text}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and not all(re.fullmatch(str(pattern), item) for item in items):
        raise TemplateError(f"{path}: {value!r} does not match the AllowedPattern {pattern!r}")
    if "MinLength" in declaration and len(value) < int(declaration["MinLength"]):
        raise TemplateError(f"{path}: {value!r} is shorter than MinLength {declaration['MinLength']}")
    if "MaxLength" in declaration and len(value) > int(declaration["MaxLength"]):
        raise TemplateError(f"{path}: {value!r} is longer than MaxLength {declaration['MaxLength']}")
    if declaration.get("Type") in ("Number", "List<Number>"):
        for item in items:
            try:
                number = float(item)
            except ValueError:
                raise TemplateError(f"{path}: {item!r} is not a number") from None
            if "MinValue" in declaration and number < float(declaration["MinValue"]):
                raise TemplateError(f"{path}: {item} is below MinValue {declaration['MinValue']}")
            if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
                raise TemplateError(f"{path}: {item} is above MaxValue {declaration['MaxValue']}")


def resolve_parameters(declarations: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, ParameterValue]:
    """Each declared parameter's value: the override, else its Default.

    List types (``CommaDelimitedList``, ``List<...>``) become lists of trimmed strings, which is what ``Ref``
    gives for them. An unknown override name, a value outside the constraints or a parameter with neither
    override nor Default is a TemplateError.
    """
    unknown = sorted(set(overrides) - set(declarations))
    if unknown:
        raise TemplateError(
            f"parameter override(s) {', '.join(unknown)} are not declared in Parameters "
            f"(declared: {', '.join(declarations) or 'none'})"
        )
    values: dict[str, ParameterValue] = {}
    for name, declaration in declarations.items():
        path = f"Parameters.{name}"
        if not isinstance(declaration, dict) or "Type" not in declaration:
            raise TemplateError(f"{path}: a parameter needs a Type")
        parameter_type = str(declaration["Type"])
        if name in overrides:
            value = overrides[name]
        elif "Default" in declaration:
            value = _as_parameter_text(declaration["Default"], path)
        else:
            raise TemplateError(f"{path} has no Default: pass a value for it as a parameter override")
        if parameter_type.startswith(_SSM_TYPE_PREFIX) and name not in overrides:
            raise TemplateError(
                f"{path}: {parameter_type} reads SSM when deployed; locally pass the resolved value as an override"
            )
        items = [item.strip() for item in value.split(",")] if _is_list_type(parameter_type) else [value]
        _check_constraints(name, declaration, value, items)
        values[name] = items if _is_list_type(parameter_type) else value
    return values
