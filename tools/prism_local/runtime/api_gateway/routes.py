"""Routes: the template's ``Type: Api`` events, matched against request paths the way API Gateway does.

Pure functions and values only (no sockets), so the matching rules are unit-tested directly.

The rules, and where they come from:
- A path segment is a literal, a ``{name}`` parameter (one whole, non-empty segment) or a greedy ``{name+}``
  that must come last and takes one or more segments ("Set up a proxy resource with Lambda proxy
  integration", API Gateway developer guide). ``{proxy+}`` does not match the root ``/``.
- The most specific route wins, compared segment by segment from the left: a literal beats a parameter, which
  beats a greedy parameter; on the same path, an explicit method beats ``ANY`` ("ANY ... matches all methods
  that you haven't defined for a resource", the HTTP API routing rules, which the REST resource tree follows).
- Method and path are matched together: a path with no route for the request's method (and no ``ANY``) is
  unmatched, and unmatched requests get API Gateway's 403 ``Missing Authentication Token`` ("the client
  attempts to invoke an unsupported API method or resource", Gateway response types).
- Trailing slashes are ignored and paths are case-sensitive; parameter values are taken from the raw path and
  stay percent-encoded, as REST APIs deliver them (LocalStack's AWS-recorded snapshot
  ``test_lambda_aws_proxy_integration``: ``/user/test%2Balias@gmail.com`` arrives as ``test%2Balias@gmail.com``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Final

from prism_local.template.model import TemplateError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from prism_local.runtime.api_gateway.rest_apis import RestApi
    from prism_local.template.model import FunctionSpec

ANY: Final = "ANY"
HTTP_METHODS: Final = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

_PARAMETER = re.compile(r"^\{([A-Za-z0-9_.\-]+)(\+?)\}$")


class SegmentKind(IntEnum):
    """Ordered by precedence: a lower kind is more specific."""

    LITERAL = 0
    PARAMETER = 1
    GREEDY = 2


@dataclass(frozen=True)
class PathSegment:
    kind: SegmentKind
    text: str  # the literal, or the parameter's name


def parse_resource_path(path: str) -> tuple[PathSegment, ...]:
    """A template ``Path`` as segments; ValueError says what API Gateway would refuse in it."""
    if not path.startswith("/"):
        raise ValueError(f"{path!r} must start with '/'")
    parts = path.strip("/").split("/") if path.strip("/") else []
    segments: list[PathSegment] = []
    for index, part in enumerate(parts):
        if not part:
            raise ValueError(f"{path!r} has an empty segment")
        parameter = _PARAMETER.match(part)
        if parameter is None:
            if "{" in part or "}" in part:
                raise ValueError(f"{path!r}: a path parameter must be a whole segment, like {{id}}")
            segments.append(PathSegment(SegmentKind.LITERAL, part))
            continue
        name, greedy = parameter.groups()
        if greedy and index != len(parts) - 1:
            raise ValueError(f"{path!r}: the greedy parameter {{{name}+}} must be the last segment")
        segments.append(PathSegment(SegmentKind.GREEDY if greedy else SegmentKind.PARAMETER, name))
    return tuple(segments)


def resource_path(segments: tuple[PathSegment, ...]) -> str:
    """The canonical resource path (``resource`` and ``requestContext.resourcePath`` of the event)."""
    rendered = {
        SegmentKind.LITERAL: "{}",
        SegmentKind.PARAMETER: "{{{}}}",
        SegmentKind.GREEDY: "{{{}+}}",
    }
    return "/" + "/".join(rendered[segment.kind].format(segment.text) for segment in segments)


@dataclass(frozen=True)
class Route:
    """One method on one resource of one API, integrated with one function (by logical id)."""

    method: str  # an HTTP method in upper case, or "ANY"
    path: str  # as the template writes it, e.g. "/customers/{id}"
    function_id: str
    api: RestApi
    event_name: str = ""
    segments: tuple[PathSegment, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", parse_resource_path(self.path))

    @property
    def resource(self) -> str:
        return resource_path(self.segments)

    @property
    def resource_id(self) -> str:
        """A stable stand-in for API Gateway's resource id (``requestContext.resourceId``)."""
        return hashlib.sha256(f"{self.api.api_id}{self.resource}".encode()).hexdigest()[:6]

    def accepts(self, method: str) -> bool:
        return self.method in (ANY, method)

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters if the request path's segments fit this route, else None."""
        parameters: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.kind is SegmentKind.GREEDY:
                rest = parts[index:]
                if not rest:
                    return None
                parameters[segment.text] = "/".join(rest)
                return parameters
            if index >= len(parts):
                return None
            part = parts[index]
            if segment.kind is SegmentKind.LITERAL:
                if part != segment.text:
                    return None
            elif not part:
                return None
            else:
                parameters[segment.text] = part
        return parameters if len(parts) == len(self.segments) else None

    def precedence(self) -> tuple[tuple[int, ...], int]:
        """Sort key: lower is more specific (segment kinds from the left, then an explicit method)."""
        return tuple(int(segment.kind) for segment in self.segments), int(self.method == ANY)


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]  # empty when the resource has none


def request_path_parts(raw_path: str) -> list[str]:
    """The segments of a request path, ignoring trailing slashes (``/customers/`` is ``/customers``)."""
    stripped = raw_path.rstrip("/")
    return stripped[1:].split("/") if stripped else []


class RouteTable:
    """The routes a local API server answers, all APIs on one port (as ``sam local start-api`` does).

    Two routes with the same method and path shape cannot both be served on one port: the first, in
    template order, is kept and the other listed in ``shadowed`` so the caller can say so.
    """

    def __init__(self, routes: Iterable[Route]) -> None:
        kept: dict[tuple[str, tuple[tuple[int, str], ...]], Route] = {}
        self.shadowed: list[tuple[Route, Route]] = []  # (ignored, the route that serves instead)
        for route in routes:
            shape = tuple((int(s.kind), s.text if s.kind is SegmentKind.LITERAL else "") for s in route.segments)
            key = (route.method, shape)
            if key in kept:
                self.shadowed.append((route, kept[key]))
            else:
                kept[key] = route
        self.routes: tuple[Route, ...] = tuple(kept.values())

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The most specific route for ``method`` on ``raw_path`` (percent-encoded, without the query)."""
        parts = request_path_parts(raw_path)
        best: RouteMatch | None = None
        for route in self.routes:
            if not route.accepts(method):
                continue
            parameters = route.bind(parts)
            if parameters is None:
                continue
            if best is None or route.precedence() < best.route.precedence():
                best = RouteMatch(route, parameters)
        return best


def _event_method(value: object, where: str) -> str:
    method = str(value).upper() if isinstance(value, str) else ""
    if method != ANY and method not in HTTP_METHODS:
        raise TemplateError(f"{where}.Method: {value!r} is not an HTTP method ({', '.join(HTTP_METHODS)}) or 'any'")
    return method


def routes_from_functions(
    functions: Iterable[FunctionSpec], apis: Mapping[str, RestApi], implicit: RestApi
) -> list[Route]:
    """One Route per ``Type: Api`` event, in template order; ``apis`` maps an API id (the resolved
    ``RestApiId``) to its API, and an event without ``RestApiId`` goes to ``implicit``."""
    routes: list[Route] = []
    for function in functions:
        for event in function.events:
            if event.type != "Api":
                continue
            where = f"Resources.{function.logical_id}.Properties.Events.{event.name}.Properties"
            api_id = event.properties.get("RestApiId")
            if api_id is None:
                api = implicit
            elif api_id in apis:
                api = apis[api_id]
            else:
                raise TemplateError(f"{where}.RestApiId: {api_id!r} is not an AWS::Serverless::Api of this template")
            path = event.properties.get("Path")
            if not isinstance(path, str):
                raise TemplateError(f"{where}.Path: every Api event needs a Path, like /customers/{{id}}")
            method = _event_method(event.properties.get("Method"), where)
            try:
                routes.append(Route(method, path, function.logical_id, api, event.name))
            except ValueError as exc:
                raise TemplateError(f"{where}.Path: {exc}") from exc
    return routes
