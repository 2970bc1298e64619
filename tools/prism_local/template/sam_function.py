"""``AWS::Serverless::Function`` as SAM deploys it: Globals merged in, defaults applied, intrinsics resolved.

The merge follows SAM's translator (``samtranslator/plugins/globals/globals.py``): a scalar or an intrinsic in
the function wins over Globals; maps merge key by key, recursively, with the function's keys winning; lists
concatenate, Globals first. So ``Environment.Variables`` merge and ``Layers`` add up, exactly as deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast, get_args

from prism_local.template.intrinsics import NO_VALUE, intrinsic_name
from prism_local.template.model import EventSource, EventSourceType, FunctionSpec, TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from prism_local.template.intrinsics import IntrinsicResolver

DEFAULT_TIMEOUT: Final = 3
DEFAULT_MEMORY_SIZE: Final = 128
DEFAULT_ARCHITECTURES: Final = ("x86_64",)
EMULATED_EVENT_TYPES: Final = frozenset(get_args(EventSourceType))

Key = str | int
_MISSING: Final = object()  # a key one side of the merge does not have
_REQUIRED: Final = object()  # no default: the property must be set


def _kind(value: object) -> str:
    if isinstance(value, dict) and intrinsic_name(value) is None:
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"  # strings, numbers, booleans and intrinsics (they resolve to a scalar)


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's merge of one Globals value with the function's own value of the same property."""
    kind = _kind(global_value)
    if kind != _kind(local_value) or kind == "scalar":
        return local_value
    if kind == "list":
        return [*global_value, *local_value]
    merged = dict(global_value)
    for key, item in local_value.items():
        merged[key] = merge_globals(merged[key], item) if key in merged else item
    return merged


def origin_path(logical_id: str, global_props: Any, local_props: Any, keys: Sequence[Key]) -> str:
    """Where in template.yaml a merged value was written: under Globals.Function or under the function.

    Error messages name this path, so a bad global points at Globals rather than at every function.
    """
    local: Any = local_props
    global_: Any = global_props
    local_path, global_path = f"Resources.{logical_id}.Properties", "Globals.Function"
    for key in keys:
        both = local is not _MISSING and global_ is not _MISSING
        if both and (_kind(local) != _kind(global_) or _kind(local) == "scalar"):
            global_ = _MISSING  # the function's own value replaces the global one
        if isinstance(key, int):
            offset = len(global_) if isinstance(global_, list) else 0
            if key < offset:  # lists concatenate, Globals first
                global_, local = global_[key], _MISSING
                global_path += f"[{key}]"
            else:
                position = key - offset
                inside = isinstance(local, list) and position < len(local)
                local, global_ = (local[position] if inside else _MISSING), _MISSING
                local_path += f"[{position}]"
        else:
            local = local.get(key, _MISSING) if isinstance(local, dict) else _MISSING
            global_ = global_.get(key, _MISSING) if isinstance(global_, dict) else _MISSING
            local_path += f".{key}"
            global_path += f".{key}"
    return global_path if local is _MISSING and global_ is not _MISSING else local_path


def stringify_environment(variables: Mapping[str, Any], path: str) -> dict[str, str]:
    """Lambda environment values are strings; YAML booleans become ``"true"``/``"false"`` as SAM sends them."""
    environment: dict[str, str] = {}
    for name, value in variables.items():
        if value is NO_VALUE:
            continue
        if isinstance(value, bool):
            environment[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            environment[name] = str(value)
        else:
            raise TemplateError(f"{path}.{name}: an environment value must be a string, got {value!r}")
    return environment


def _as_int(value: Any, path: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{path}: expected a whole number, got {value!r}") from None


class FunctionReader:
    """Builds one FunctionSpec; a small object so each field's resolution can name its own path."""

    def __init__(
        self,
        logical_id: str,
        local_props: Mapping[str, Any],
        global_props: Mapping[str, Any],
        resolver: IntrinsicResolver,
        template_dir: Path,
    ) -> None:
        self.logical_id = logical_id
        self.local_props = local_props
        self.global_props = global_props
        self.merged: dict[str, Any] = merge_globals(dict(global_props), dict(local_props))
        self.resolver = resolver
        self.template_dir = template_dir

    def path(self, *keys: Key) -> str:
        return origin_path(self.logical_id, self.global_props, self.local_props, keys)

    def value(self, name: str, default: Any = _REQUIRED) -> Any:
        """The merged, resolved property; ``default`` when neither side sets it (or it resolves to NoValue)."""
        resolved = self.resolver.resolve(self.merged[name], self.path(name)) if name in self.merged else NO_VALUE
        if resolved is not NO_VALUE:
            return resolved
        if default is _REQUIRED:
            raise TemplateError(
                f"Resources.{self.logical_id}.Properties.{name} is required (set it on the function "
                "or under Globals.Function)"
            )
        return default

    def _container(self, value: Any, path: str, kind: type) -> Any:
        """A map or list that may itself be an intrinsic (``Environment: !If [...]``), resolved if it is."""
        if intrinsic_name(value) is not None:
            value = self.resolver.resolve(value, path)
        if value is NO_VALUE:
            return kind()
        if not isinstance(value, kind):
            raise TemplateError(f"{path}: expected a {'map' if kind is dict else 'list'}, got {value!r}")
        return value

    def code_uri(self) -> Path:
        if "InlineCode" in self.merged or self.merged.get("PackageType") == "Image":
            raise TemplateError(f"Resources.{self.logical_id}: only zip functions with a local CodeUri can run locally")
        code_uri = self.value("CodeUri")
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            raise TemplateError(
                f"{self.path('CodeUri')}: {code_uri!r} is not a local directory; Prism runs the source tree"
            )
        directory = (self.template_dir / code_uri).resolve()
        if not directory.is_dir():
            raise TemplateError(f"{self.path('CodeUri')}: {directory} is not a directory")
        return directory

    def architectures(self) -> tuple[str, ...]:
        architectures = tuple(str(item) for item in self.value("Architectures", list(DEFAULT_ARCHITECTURES)))
        if len(architectures) != 1:
            # SAM concatenates list Globals, so Globals [arm64] + function [x86_64] deploys as two, which
            # Lambda rejects (aws/serverless-application-model#3939). Say so here rather than at deploy.
            raise TemplateError(
                f"{self.path('Architectures')}: a function has exactly one architecture, got "
                f"{list(architectures)} (SAM adds the function's list to the one in Globals)"
            )
        return architectures

    def environment(self) -> dict[str, str]:
        environment = self._container(self.merged.get("Environment", {}), self.path("Environment"), dict)
        variables_path = self.path("Environment", "Variables")
        variables = self._container(environment.get("Variables", {}), variables_path, dict)
        resolved = {
            name: self.resolver.resolve(value, self.path("Environment", "Variables", name))
            for name, value in variables.items()
        }
        return stringify_environment(resolved, variables_path)

    def layers(self, local_layers: Mapping[str, Path]) -> tuple[Path, ...]:
        """Each layer must be one of this template's LayerVersions; an external ARN has no local code."""
        directories: list[Path] = []
        for index, item in enumerate(self._container(self.merged.get("Layers", []), self.path("Layers"), list)):
            path = self.path("Layers", index)
            arn = self.resolver.resolve(item, path)
            if arn is NO_VALUE:
                continue
            if arn not in local_layers:
                raise TemplateError(
                    f"{path}: {arn!r} is not an AWS::Serverless::LayerVersion of this template; an external "
                    "layer cannot be emulated locally (vendor it into a layer of the template)"
                )
            directories.append(local_layers[arn])
        return tuple(directories)

    def events(self) -> tuple[tuple[EventSource, ...], tuple[tuple[str, str], ...]]:
        """The events Prism emulates, resolved; and (name, type) of the rest so callers can say so."""
        emulated: list[EventSource] = []
        unemulated: list[tuple[str, str]] = []
        for name, event in self.local_props.get("Events", {}).items():
            path = f"Resources.{self.logical_id}.Properties.Events.{name}"
            event_type = event.get("Type") if isinstance(event, dict) else None
            if not isinstance(event_type, str):
                raise TemplateError(f"{path}.Type: every event needs a Type")
            if event_type not in EMULATED_EVENT_TYPES:
                unemulated.append((name, event_type))
                continue
            properties = self.resolver.resolve(event.get("Properties", {}), f"{path}.Properties")
            emulated.append(EventSource(name, cast("EventSourceType", event_type), properties))
        return tuple(emulated), tuple(unemulated)

    def spec(self, function_name: str, arn: str, local_layers: Mapping[str, Path]) -> FunctionSpec:
        events, unemulated_events = self.events()
        tracing = self.value("Tracing", None)
        return FunctionSpec(
            logical_id=self.logical_id,
            function_name=function_name,
            arn=arn,
            handler=str(self.value("Handler")),
            code_uri=self.code_uri(),
            runtime=str(self.value("Runtime")),
            architectures=self.architectures(),
            timeout=_as_int(self.value("Timeout", DEFAULT_TIMEOUT), self.path("Timeout")),
            memory_size=_as_int(self.value("MemorySize", DEFAULT_MEMORY_SIZE), self.path("MemorySize")),
            environment=self.environment(),
            layers=self.layers(local_layers),
            events=events,
            unemulated_events=unemulated_events,
            tracing=None if tracing is None else str(tracing),
        )
