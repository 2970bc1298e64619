"""``Template``: template.yaml read once, with parameters and conditions decided, resolved on demand.

The local runtime never copies a table schema, queue setting or environment variable by hand: it asks this
class, which answers from template.yaml against what ``prism stack up`` provisioned.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_local.template.intrinsics import NO_VALUE, IntrinsicResolver, as_text, references
from prism_local.template.model import TemplateError
from prism_local.template.parameters import ParameterValue, resolve_parameters
from prism_local.template.sam_function import FunctionReader
from prism_local.template.yaml_loader import load_yaml, load_yaml_text

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prism_local.template.model import FunctionSpec, ProvisionedStack

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"


def partition_of(region: str) -> tuple[str, str]:
    """(partition, URL suffix) of a region, as the AWS::Partition and AWS::URLSuffix pseudo parameters."""
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


class Template:
    """A SAM template with its parameters resolved and its conditions evaluated.

    ``resources`` holds only the resources whose ``Condition`` is true; everything that reads resources
    (functions, provisioning, outputs) therefore sees the stack CloudFormation would create.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        directory: Path,
        parameter_overrides: Mapping[str, str] | None,
        stack_name: str,
        region: str,
        account_id: str,
        source: str,
    ) -> None:
        self.directory = directory
        self.source = source
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self._document = document
        raw_resources = document.get("Resources")
        if not isinstance(raw_resources, dict) or not raw_resources:
            raise TemplateError(f"{source}: the template has no Resources")
        for logical_id, resource in raw_resources.items():
            if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
                raise TemplateError(f"Resources.{logical_id}: a resource needs a Type")
        self._all_resources: dict[str, dict[str, Any]] = raw_resources
        self._resource_types = {logical_id: str(r["Type"]) for logical_id, r in raw_resources.items()}
        self.parameters: Mapping[str, ParameterValue] = resolve_parameters(
            document.get("Parameters") or {}, parameter_overrides or {}
        )
        partition, url_suffix = partition_of(region)
        stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"prism-local/{account_id}/{region}/{stack_name}")
        self.pseudo_parameters: Mapping[str, str | list[str]] = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/{stack_uuid}",
            "AWS::Partition": partition,
            "AWS::URLSuffix": url_suffix,
            "AWS::NotificationARNs": [],
        }
        self._conditions = self._evaluate_conditions(document.get("Conditions") or {})
        self.resources: dict[str, dict[str, Any]] = {
            logical_id: resource
            for logical_id, resource in raw_resources.items()
            if self._resource_condition(logical_id, resource)
        }

    @classmethod
    def load(
        cls,
        path: Path,
        parameter_overrides: Mapping[str, str] | None = None,
        *,
        stack_name: str,
        region: str,
        account_id: str,
    ) -> Template:
        """Read ``path``; CodeUri and ContentUri are relative to its directory, as for ``sam build``."""
        path = Path(path).resolve()
        return cls(
            load_yaml(path),
            directory=path.parent,
            parameter_overrides=parameter_overrides,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
            source=str(path),
        )

    @classmethod
    def parse(
        cls,
        text: str,
        parameter_overrides: Mapping[str, str] | None = None,
        *,
        directory: Path,
        stack_name: str,
        region: str,
        account_id: str,
    ) -> Template:
        """Like ``load``, from template text (tests, generated templates)."""
        return cls(
            load_yaml_text(text),
            directory=directory,
            parameter_overrides=parameter_overrides,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
            source="<template>",
        )

    # ------------------------------------------------------------------ conditions

    def _evaluate_conditions(self, declarations: Mapping[str, Any]) -> dict[str, bool]:
        """Decide every condition once, following ``Condition`` references and refusing cycles."""
        decided: dict[str, bool] = {}
        deciding: list[str] = []

        def decide(name: str) -> bool:
            if name in decided:
                return decided[name]
            if name not in declarations:
                user = f"Conditions.{deciding[-1]}" if deciding else "the template"
                raise TemplateError(f"{user} uses the condition {name}, which is not declared")
            if name in deciding:
                raise TemplateError(f"Conditions form a cycle: {' -> '.join([*deciding, name])}")
            deciding.append(name)
            decided[name] = self._resolver(None, decide).condition_value(declarations[name], f"Conditions.{name}")
            deciding.pop()
            return decided[name]

        for name in declarations:
            decide(name)
        return decided

    def condition(self, name: str) -> bool:
        """The value of a declared condition; an undeclared name is a TemplateError."""
        try:
            return self._conditions[name]
        except KeyError:
            raise TemplateError(
                f"Conditions.{name} is not declared (declared: {', '.join(self._conditions) or 'none'})"
            ) from None

    def _resource_condition(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        name = resource.get("Condition")
        if name is None:
            return True
        if not isinstance(name, str) or name not in self._conditions:
            raise TemplateError(f"Resources.{logical_id}.Condition: {name!r} is not a declared condition")
        return self._conditions[name]

    # ------------------------------------------------------------------ resolution

    def _resolver(
        self, stack: ProvisionedStack | None, condition: Callable[[str], bool] | None = None
    ) -> IntrinsicResolver:
        return IntrinsicResolver(
            parameters=self.parameters,
            pseudo_parameters=self.pseudo_parameters,
            mappings=self._document.get("Mappings") or {},
            condition=condition or self.condition,
            resource_types=self._resource_types,
            region=self.region,
            stack=stack,
        )

    def resolve(self, value: Any, stack: ProvisionedStack | None, path: str = "Template") -> Any:
        """``value`` with every intrinsic evaluated against ``stack``; AWS::NoValue at the top gives None.

        With ``stack=None`` only parameters, pseudo parameters, mappings and conditions resolve.
        """
        resolved = self._resolver(stack).resolve(value, path)
        return None if resolved is NO_VALUE else resolved

    def resource_type(self, logical_id: str) -> str:
        return str(self._all_resources[logical_id]["Type"])

    def references(self, logical_id: str, *, depends_on: bool = True) -> dict[str, str]:
        """Resources ``logical_id`` needs first (target -> the path that refers to it).

        Parameters and pseudo parameters are not resources and are left out; so are names the template does
        not declare, which resolution reports with their path. ``depends_on=False`` leaves out DependsOn,
        which orders creation but hands no value over.
        """
        resource = self.resources[logical_id]
        sources = [(resource.get("Properties") or {}, f"Resources.{logical_id}.Properties")]
        if resource["Type"] == SERVERLESS_FUNCTION:
            sources.append((self.function_globals(), "Globals.Function"))
        found: dict[str, str] = {}
        for properties, path in sources:
            for target, where in references(properties, path, self.condition):
                if target in self._all_resources and target != logical_id:
                    found.setdefault(target, where)
        declared = resource.get("DependsOn", []) if depends_on else []
        for target in [declared] if isinstance(declared, str) else declared:
            if target not in self._all_resources:
                raise TemplateError(f"Resources.{logical_id}.DependsOn: {target} is not a resource")
            found.setdefault(target, f"Resources.{logical_id}.DependsOn")
        for target, where in found.items():
            if target not in self.resources:
                raise TemplateError(
                    f"{where}: refers to {target}, whose Condition "
                    f"{self._all_resources[target].get('Condition')} is false"
                )
        return found

    def undeclared_references(self, logical_id: str) -> dict[str, str]:
        """Names ``logical_id``'s properties refer to that are no parameter, pseudo parameter or resource.

        SAM-generated resources (``MyFunctionRole``, ``ServerlessRestApi``) show up here: they exist only
        after the SAM transform, which the local stack does not run.
        """
        path = f"Resources.{logical_id}.Properties"
        known = {*self.parameters, *self.pseudo_parameters, "AWS::NoValue", *self._all_resources}
        undeclared: dict[str, str] = {}
        for target, where in references(self.resources[logical_id].get("Properties") or {}, path, self.condition):
            if target not in known:
                undeclared.setdefault(target, where)
        return undeclared

    def creation_order(self) -> list[str]:
        """Every resource after the ones it refers to (Ref, GetAtt, Sub, DependsOn), else in template order."""
        pending = {logical_id: set(self.references(logical_id)) for logical_id in self.resources}
        order: list[str] = []
        while pending:
            ready = [logical_id for logical_id, needs in pending.items() if not needs]
            if not ready:
                cycle = ", ".join(sorted(pending))
                raise TemplateError(f"Resources refer to each other in a cycle among: {cycle}")
            for logical_id in ready:
                order.append(logical_id)
                del pending[logical_id]
            for needs in pending.values():
                needs.difference_update(ready)
        return order

    # ------------------------------------------------------------------ functions

    def function_globals(self) -> dict[str, Any]:
        globals_section = self._document.get("Globals") or {}
        function_globals = globals_section.get("Function") or {}
        if not isinstance(function_globals, dict):
            raise TemplateError("Globals.Function: expected a map of function properties")
        return function_globals

    def function_ids(self) -> list[str]:
        return [i for i, resource in self.resources.items() if resource["Type"] == SERVERLESS_FUNCTION]

    def function_name(self, logical_id: str, stack: ProvisionedStack | None) -> str:
        """``FunctionName`` if set, else ``{stack_name}-{LogicalId}`` (deterministic, unlike CloudFormation)."""
        properties = self.resources[logical_id].get("Properties") or {}
        if "FunctionName" in properties:
            path = f"Resources.{logical_id}.Properties.FunctionName"
            return as_text(self.resolve(properties["FunctionName"], stack, path), path)
        return f"{self.stack_name}-{logical_id}"

    def function_arn(self, function_name: str) -> str:
        partition, _ = partition_of(self.region)
        return f"arn:{partition}:lambda:{self.region}:{self.account_id}:function:{function_name}"

    def layer_directories(self, stack: ProvisionedStack) -> dict[str, Path]:
        """Local layer ARN (its Ref in ``stack``) -> its absolute ContentUri directory."""
        directories: dict[str, Path] = {}
        for logical_id, resource in self.resources.items():
            if resource["Type"] != SERVERLESS_LAYER:
                continue
            path = f"Resources.{logical_id}.Properties.ContentUri"
            content_uri = self.resolve((resource.get("Properties") or {}).get("ContentUri"), stack, path)
            directory = self.directory / content_uri if isinstance(content_uri, str) else None
            if directory is None or content_uri.startswith("s3://") or not directory.is_dir():
                raise TemplateError(f"{path}: {content_uri!r} is not a local directory next to the template")
            directories[stack.ref(logical_id)] = directory.resolve()
        return directories

    def function(self, logical_id: str, stack: ProvisionedStack) -> FunctionSpec:
        """The function as Prism runs it; an unknown id is a TemplateError listing the functions there are."""
        if logical_id not in self.function_ids():
            if logical_id not in self._all_resources:
                what = "is not a resource of this template"
            elif logical_id not in self.resources:
                what = f"is not in the stack: its Condition {self._all_resources[logical_id]['Condition']} is false"
            else:
                what = f"is an {self.resource_type(logical_id)}, not a function"
            raise TemplateError(f"{logical_id} {what} (functions: {', '.join(self.function_ids()) or 'none'})")
        reader = FunctionReader(
            logical_id,
            self.resources[logical_id].get("Properties") or {},
            self.function_globals(),
            self._resolver(stack),
            self.directory,
        )
        name = self.function_name(logical_id, stack)
        return reader.spec(name, self.function_arn(name), self.layer_directories(stack))

    def functions(self, stack: ProvisionedStack) -> list[FunctionSpec]:
        """Every AWS::Serverless::Function whose Condition holds, in template order."""
        return [self.function(logical_id, stack) for logical_id in self.function_ids()]

    def outputs(self, stack: ProvisionedStack) -> dict[str, str]:
        """Outputs whose Condition holds, resolved to strings (a list joins with commas, as exports do)."""
        values: dict[str, str] = {}
        for name, output in (self._document.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not self.condition(condition):
                continue
            path = f"Outputs.{name}.Value"
            value = self.resolve(output.get("Value"), stack, path)
            values[name] = (
                ",".join(as_text(v, path) for v in value) if isinstance(value, list) else as_text(value, path)
            )
        return values
