"""The Lambda proxy integration event (REST API, payload 1.0) built from one HTTP request.

The shape follows "Input format of a Lambda function for proxy integration" (API Gateway developer guide), and
the details the guide leaves open follow what AWS actually sends, as recorded in LocalStack's AWS-validated
snapshot of ``test_lambda_aws_proxy_integration``:
- ``path`` is the raw, still percent-encoded request path; ``requestContext.path`` is ``/{stage}{path}``;
- ``headers``/``queryStringParameters`` keep the *last* value of a repeated name, the ``multiValue*`` maps all
  of them; query values are URL-decoded (``+`` is a space); a map with no entries is ``null``;
- ``Content-Length`` and ``Connection`` are not forwarded, ``Authorization`` and ``User-Agent`` arrive with
  those capitals (CloudFront's), and ``X-Forwarded-For``/``-Port``/``-Proto`` are added;
- ``body`` is ``null`` without a payload; ``requestContext.identity`` holds nulls but ``sourceIp``/``userAgent``
  (no authorizer is emulated).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from prism_local.runtime.api_gateway.media_types import first_media_type, matches_any

if TYPE_CHECKING:
    from prism_local.runtime.api_gateway.routes import RouteMatch

_NOT_FORWARDED: Final = frozenset({"content-length", "connection"})
_CLOUDFRONT_CASE: Final = {"authorization": "Authorization", "user-agent": "User-Agent"}
_ADDED: Final = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"})
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IDENTITY_FIELDS: Final = (
    "accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
    "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "user", "userArn",
)  # fmt: skip


@dataclass(frozen=True)
class HttpRequest:
    """One request as it arrived: ``target`` is the raw request-target (``/path?query``), ``headers`` keep
    their order, repeats and spelling."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    server_port: int
    protocol: str = "HTTP/1.1"

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0] or "/"

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        """The last value of a header, whatever its spelling."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return values[-1] if values else None


def single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """(last value per name, every value per name), each None when there are no pairs."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def forwarded_headers(request: HttpRequest) -> list[tuple[str, str]]:
    """The request's headers as the function receives them (see the module docstring for each rule)."""
    headers: list[tuple[str, str]] = []
    client_chain = request.header("X-Forwarded-For")
    for name, value in request.headers:
        lowered = name.lower()
        if lowered in _NOT_FORWARDED or lowered in _ADDED:
            continue
        headers.append((_CLOUDFRONT_CASE.get(lowered, name), value))
    headers += [
        ("X-Forwarded-For", f"{client_chain}, {request.source_ip}" if client_chain else request.source_ip),
        ("X-Forwarded-Port", str(request.server_port)),
        ("X-Forwarded-Proto", "http"),
    ]
    return headers


def event_body(body: bytes, content_type: str | None, binary_media_types: tuple[str, ...]) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): base64 when the Content-Type is one of the API's binary media types.

    A body that is not UTF-8 yet not declared binary is base64-encoded too (LocalStack's choice as well):
    a text payload must be UTF-8, and this keeps the bytes intact instead of mangling them.
    """
    if not body:
        return None, False
    if matches_any(first_media_type(content_type), binary_media_types):
        return base64.b64encode(body).decode("ascii"), True
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def request_time(epoch_s: float) -> str:
    """CLF time, as ``requestContext.requestTime``: ``09/Apr/2015:12:34:56 +0000`` (month names in English)."""
    utc = time.gmtime(epoch_s)
    return f"{utc.tm_mday:02d}/{_MONTHS[utc.tm_mon - 1]}/{utc.tm_year}:{time.strftime('%H:%M:%S', utc)} +0000"


def proxy_event(
    request: HttpRequest, match: RouteMatch, *, request_id: str, received_at: float, account_id: str
) -> dict[str, Any]:
    """The event API Gateway hands the matched route's function for ``request``."""
    route, api = match.route, match.route.api
    headers, multi_value_headers = single_and_multi(forwarded_headers(request))
    query, multi_value_query = single_and_multi(parse_qsl(request.query, keep_blank_values=True))
    body, is_base64 = event_body(request.body, request.header("Content-Type"), api.binary_media_types)
    domain_name = request.header("Host") or f"127.0.0.1:{request.server_port}"
    return {
        "resource": route.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_value_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": dict(api.stage_variables) if api.stage_variables else None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api.api_id,
            "deploymentId": hashlib.sha256(api.api_id.encode()).hexdigest()[:6],
            "domainName": domain_name,
            "domainPrefix": domain_name.split(":", 1)[0].split(".", 1)[0],
            "extendedRequestId": secrets.token_urlsafe(12),
            "httpMethod": request.method,
            "identity": {
                **dict.fromkeys(_IDENTITY_FIELDS),
                "sourceIp": request.source_ip,
                "userAgent": request.header("User-Agent"),
            },
            "path": f"/{api.stage}{request.path}",
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": request_time(received_at),
            "requestTimeEpoch": int(received_at * 1000),
            "resourceId": route.resource_id,
            "resourcePath": route.resource,
            "stage": api.stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }
