"""CloudFormation intrinsic functions, evaluated against parameters, conditions and the provisioned stack.

Values come from ``yaml_loader`` in long form. Resolution is pure: no network, no clock. A resource reference
is answered from a ``ProvisionedStack`` (moto's physical names), so the same template resolves to the local
stack's queues and tables exactly as CloudFormation would resolve it to AWS's.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from prism_local.template.model import TemplateError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from prism_local.template.model import PhysicalResource, ProvisionedStack


class _NoValue:
    """``Ref: AWS::NoValue``: the enclosing key or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()

CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"})

# ``${Name}``, ``${Res.Attr}`` or ``${!Literal}`` inside an Fn::Sub string.
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def intrinsic_name(value: object) -> str | None:
    """The intrinsic a value is (``"Ref"``, ``"Fn::Sub"``, ...), or None for plain data.

    ``Condition`` counts only inside condition functions (see ``IntrinsicResolver.condition_value``): IAM
    policy statements use a ``Condition`` key for something else entirely.
    """
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if isinstance(key, str) and (key == "Ref" or key.startswith("Fn::")):
            return key
    return None


def as_text(value: object, path: str) -> str:
    """A scalar as CloudFormation renders it inside a string: booleans lower-case, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"{path}: expected a string, got {type(value).__name__} {value!r}")


def sub_references(text: str, variables: Mapping[str, Any] | None = None) -> Iterator[tuple[str, str | None]]:
    """The (name, attribute) pairs an Fn::Sub string refers to, leaving out literals and its own variables."""
    for match in _SUB_VARIABLE.finditer(text):
        name = match.group(1).strip()
        if name.startswith("!") or name in (variables or {}):
            continue
        target, dot, attribute = name.partition(".")
        yield target, (attribute if dot else None)


def references(value: Any, path: str, condition: Callable[[str], bool]) -> Iterator[tuple[str, str]]:
    """Every (name, path) that ``value`` refers to through Ref, Fn::GetAtt or Fn::Sub.

    Branches of Fn::If that the conditions rule out are skipped, as CloudFormation does, so a resource that
    only exists in prod is not a dependency of the dev stack.
    """
    name = intrinsic_name(value)
    if name == "Ref" and isinstance(value["Ref"], str):
        yield value["Ref"], path
        return
    if name == "Fn::GetAtt":
        target = value[name]
        if isinstance(target, str):
            yield target.partition(".")[0], path
        elif isinstance(target, list) and target and isinstance(target[0], str):
            yield target[0], path
        return
    if name == "Fn::Sub":
        body = value[name]
        parts = [body] if isinstance(body, str) else body if isinstance(body, list) else []
        text = parts[0] if parts else None
        variables = parts[1] if len(parts) > 1 and isinstance(parts[1], dict) else {}
        if not isinstance(text, str):
            return  # malformed: resolving it reports the problem with its path
        for target, _ in sub_references(text, variables):
            yield target, path
        yield from references(variables, f"{path}.Fn::Sub", condition)
        return
    if name == "Fn::If" and isinstance(value[name], list) and len(value[name]) == 3:
        condition_name, when_true, when_false = value[name]
        taken = when_true if condition(condition_name) else when_false
        yield from references(taken, f"{path}.Fn::If", condition)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from references(item, f"{path}.{key}", condition)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]", condition)


@dataclass(frozen=True)
class IntrinsicResolver:
    """Evaluates intrinsics for one template, optionally against a provisioned stack.

    Without a stack only parameters, pseudo parameters, mappings and conditions resolve: that is all
    ``Conditions`` may use, and it is what lets conditions be decided before anything is provisioned.
    """

    parameters: Mapping[str, str | list[str]]
    pseudo_parameters: Mapping[str, str | list[str]]
    mappings: Mapping[str, Any]
    condition: Callable[[str], bool]
    resource_types: Mapping[str, str]  # every resource of the template, including condition-false ones
    region: str
    stack: ProvisionedStack | None = None

    def resolve(self, value: Any, path: str) -> Any:
        """``value`` with every intrinsic evaluated; keys and list items that resolve to AWS::NoValue go."""
        name = intrinsic_name(value)
        if name == "Fn::ImportValue":
            raise TemplateError(
                f"{path}: Fn::ImportValue cannot be emulated locally (it reads another stack's exports); "
                "give the value to the local stack as a parameter instead"
            )
        if name is not None:
            return self._intrinsic(name, value[name], f"{path}.{name}" if name != "Ref" else path)
        if isinstance(value, dict):
            resolved_dict = {key: self.resolve(item, f"{path}.{key}") for key, item in value.items()}
            return {key: item for key, item in resolved_dict.items() if item is not NO_VALUE}
        if isinstance(value, list):
            resolved_list = [self.resolve(item, f"{path}[{index}]") for index, item in enumerate(value)]
            return [item for item in resolved_list if item is not NO_VALUE]
        return value

    def condition_value(self, value: Any, path: str) -> bool:
        """Evaluate a condition expression: Fn::Equals/Not/And/Or, ``{"Condition": name}`` or a literal."""
        if isinstance(value, dict) and len(value) == 1:
            (key,) = value
            if key == "Condition" and isinstance(value[key], str):
                return self.condition(value[key])
            if key in CONDITION_FUNCTIONS:
                return bool(self._intrinsic(key, value[key], f"{path}.{key}"))
        resolved = self.resolve(value, path)
        if isinstance(resolved, bool):
            return resolved
        if resolved in ("true", "false"):
            return bool(resolved == "true")
        raise TemplateError(f"{path}: a condition must be true or false, got {resolved!r}")

    # ------------------------------------------------------------------ dispatch

    def _intrinsic(self, name: str, argument: Any, path: str) -> Any:
        function = _FUNCTIONS.get(name)
        if function is None:
            raise TemplateError(f"{path}: {name} is not supported by the local runtime")
        return function(self, argument, path)

    def _list_argument(self, argument: Any, path: str, length: int, name: str) -> list[Any]:
        if not isinstance(argument, list) or len(argument) != length:
            raise TemplateError(f"{path}: {name} takes a list of {length} items, got {argument!r}")
        return argument

    # ------------------------------------------------------------------ references

    def _ref(self, argument: Any, path: str) -> Any:
        if not isinstance(argument, str):
            raise TemplateError(f"{path}: Ref takes a name, got {argument!r}")
        if argument == "AWS::NoValue":
            return NO_VALUE
        if argument in self.pseudo_parameters:
            return self.pseudo_parameters[argument]
        if argument in self.parameters:
            return self.parameters[argument]
        return self._provisioned(argument, path).ref

    def _get_att(self, argument: Any, path: str) -> str:
        if isinstance(argument, str):
            target, _, attribute = argument.partition(".")
        else:
            target, attribute = self._list_argument(argument, path, 2, "Fn::GetAtt")
            attribute = as_text(self.resolve(attribute, path), path)
        resource = self._provisioned(target, path)
        try:
            return resource.attributes[attribute]
        except KeyError:
            known = ", ".join(sorted(resource.attributes)) or "none"
            raise TemplateError(
                f"{path}: {target} ({resource.type}) has no attribute {attribute} locally (known: {known})"
            ) from None

    def _provisioned(self, logical_id: str, path: str) -> PhysicalResource:
        resource_type = self.resource_types.get(logical_id)
        if resource_type is None:
            raise TemplateError(
                f"{path}: {logical_id} is not a parameter, pseudo parameter or resource of this template"
            )
        if self.stack is None:
            raise TemplateError(
                f"{path}: refers to the resource {logical_id}, but only parameters, mappings and "
                "pseudo parameters are known here (conditions are decided before anything is provisioned)"
            )
        if logical_id in self.stack.not_emulated:
            raise TemplateError(f"{path}: refers to {logical_id} ({resource_type}), which is not emulated locally")
        resource = self.stack.resources.get(logical_id)
        if resource is None:
            raise TemplateError(
                f"{path}: {logical_id} ({resource_type}) is not in the local stack: its Condition is false, "
                "or the stack was provisioned from an older template (run `prism stack up`)"
            )
        return resource

    def _sub(self, argument: Any, path: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif (
            isinstance(argument, list)
            and len(argument) == 2
            and isinstance(argument[0], str)
            and isinstance(argument[1], dict)
        ):
            text, variables = argument[0], self.resolve(argument[1], f"{path}[1]")
        else:
            raise TemplateError(f"{path}: Fn::Sub takes a string or [string, {{variables}}], got {argument!r}")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return as_text(variables[name], f"{path}.${{{name}}}")
            target, dot, attribute = name.partition(".")
            if dot:
                return self._get_att([target, attribute], f"{path}.${{{name}}}")
            return as_text(self._ref(name, f"{path}.${{{name}}}"), f"{path}.${{{name}}}")

        return _SUB_VARIABLE.sub(substitute, text)

    # ------------------------------------------------------------------ strings and lists

    def _join(self, argument: Any, path: str) -> str:
        delimiter, items = self._list_argument(argument, path, 2, "Fn::Join")
        values = self.resolve(items, f"{path}[1]")
        if not isinstance(values, list):
            raise TemplateError(f"{path}: Fn::Join needs a list to join, got {values!r}")
        return as_text(delimiter, path).join(as_text(item, path) for item in values)

    def _select(self, argument: Any, path: str) -> Any:
        index, items = self._list_argument(argument, path, 2, "Fn::Select")
        position = self.resolve(index, f"{path}[0]")
        values = self.resolve(items, f"{path}[1]")
        try:
            position = int(position)
        except (TypeError, ValueError):
            raise TemplateError(f"{path}: Fn::Select index must be a number, got {position!r}") from None
        if not isinstance(values, list) or not 0 <= position < len(values):
            raise TemplateError(f"{path}: Fn::Select index {position} is outside {values!r}")
        return values[position]

    def _split(self, argument: Any, path: str) -> list[str]:
        delimiter, source = self._list_argument(argument, path, 2, "Fn::Split")
        text = as_text(self.resolve(source, f"{path}[1]"), path)
        return text.split(as_text(delimiter, path))

    def _base64(self, argument: Any, path: str) -> str:
        text = as_text(self.resolve(argument, path), path)
        return base64.b64encode(text.encode()).decode()

    def _get_azs(self, argument: Any, path: str) -> list[str]:
        region = self.resolve(argument, path) or self.region
        return [f"{as_text(region, path)}{zone}" for zone in "abc"]

    def _find_in_map(self, argument: Any, path: str) -> Any:
        if not isinstance(argument, list) or len(argument) not in (3, 4):
            raise TemplateError(f"{path}: Fn::FindInMap takes [map, top key, second key], got {argument!r}")
        keys = [as_text(self.resolve(key, f"{path}[{i}]"), path) for i, key in enumerate(argument[:3])]
        default: Any = NO_VALUE
        if len(argument) == 4:
            if not isinstance(argument[3], dict) or "DefaultValue" not in argument[3]:
                raise TemplateError(f"{path}[3]: the optional fourth item is {{DefaultValue: ...}}")
            default = argument[3]["DefaultValue"]
        node: Any = self.mappings
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                if default is not NO_VALUE:
                    return self.resolve(default, f"{path}[3]")
                where = "Mappings." + ".".join(keys[:depth])
                raise TemplateError(f"{path}: {where.rstrip('.')} has no key {key!r}")
            node = node[key]
        return node

    def _cidr(self, argument: Any, path: str) -> list[str]:
        block, count, bits = (
            self.resolve(item, f"{path}[{i}]")
            for i, item in enumerate(self._list_argument(argument, path, 3, "Fn::Cidr"))
        )
        try:
            network = ipaddress.ip_network(as_text(block, path))
            prefix = network.max_prefixlen - int(bits)
            subnets = network.subnets(new_prefix=prefix)
            return [str(next(subnets)) for _ in range(int(count))]
        except (ValueError, StopIteration) as exc:
            raise TemplateError(f"{path}: Fn::Cidr cannot split {block} into {count} /{bits}: {exc}") from exc

    def _length(self, argument: Any, path: str) -> int:
        values = self.resolve(argument, path)
        if not isinstance(values, list):
            raise TemplateError(f"{path}: Fn::Length needs a list, got {values!r}")
        return len(values)

    def _to_json_string(self, argument: Any, path: str) -> str:
        return json.dumps(self.resolve(argument, path), separators=(",", ":"))

    # ------------------------------------------------------------------ conditions

    def _if(self, argument: Any, path: str) -> Any:
        name, when_true, when_false = self._list_argument(argument, path, 3, "Fn::If")
        if self.condition(as_text(name, path)):
            return self.resolve(when_true, f"{path}[1]")
        return self.resolve(when_false, f"{path}[2]")

    def _equals(self, argument: Any, path: str) -> bool:
        left, right = (
            self.resolve(item, f"{path}[{i}]")
            for i, item in enumerate(self._list_argument(argument, path, 2, "Fn::Equals"))
        )
        if isinstance(left, list) or isinstance(right, list):
            return bool(left == right)
        return as_text(left, path) == as_text(right, path)

    def _not(self, argument: Any, path: str) -> bool:
        (inner,) = self._list_argument(argument, path, 1, "Fn::Not")
        return not self.condition_value(inner, f"{path}[0]")

    def _and(self, argument: Any, path: str) -> bool:
        return all(self.condition_value(item, f"{path}[{i}]") for i, item in enumerate(argument))

    def _or(self, argument: Any, path: str) -> bool:
        return any(self.condition_value(item, f"{path}[{i}]") for i, item in enumerate(argument))


_FUNCTIONS: Final[Mapping[str, Callable[[IntrinsicResolver, Any, str], Any]]] = {
    "Ref": IntrinsicResolver._ref,
    "Fn::GetAtt": IntrinsicResolver._get_att,
    "Fn::Sub": IntrinsicResolver._sub,
    "Fn::Join": IntrinsicResolver._join,
    "Fn::Select": IntrinsicResolver._select,
    "Fn::Split": IntrinsicResolver._split,
    "Fn::Base64": IntrinsicResolver._base64,
    "Fn::GetAZs": IntrinsicResolver._get_azs,
    "Fn::FindInMap": IntrinsicResolver._find_in_map,
    "Fn::Cidr": IntrinsicResolver._cidr,
    "Fn::Length": IntrinsicResolver._length,
    "Fn::ToJsonString": IntrinsicResolver._to_json_string,
    "Fn::If": IntrinsicResolver._if,
    "Fn::Equals": IntrinsicResolver._equals,
    "Fn::Not": IntrinsicResolver._not,
    "Fn::And": IntrinsicResolver._and,
    "Fn::Or": IntrinsicResolver._or,
}
