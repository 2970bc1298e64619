"""HTTP responses: the function's proxy result mapped as API Gateway maps it, and the gateway's own errors.

"Output format of a Lambda function for proxy integration" (API Gateway developer guide): the result is
``{isBase64Encoded, statusCode, headers, multiValueHeaders, body}``; ``headers`` and ``multiValueHeaders`` merge,
the multi-value entry winning for a name in both; "If the function output is of a different format, API Gateway
returns a 502 Bad Gateway error response". Which results count as "a different format" follows LocalStack's
checks and AWS-validated tests (``test_aws_proxy_response_payload_format_validation``): not an object, a key
outside those five, a ``statusCode`` that is not a whole number (``"201"`` is fine), a header value that is
neither string nor boolean, a ``multiValueHeaders`` entry that is not a list, a ``body`` that is not a string.
A missing ``statusCode`` means 200.
A response without a Content-Type gets ``application/json`` ("Set up a proxy integration with a proxy resource").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from prism_local.runtime.api_gateway.media_types import first_media_type, matches_any

if TYPE_CHECKING:
    from collections.abc import Mapping

PROXY_RESULT_KEYS: Final = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# Framing is the server's to write; a function cannot set it (API Gateway remaps these, see "Important notes").
_FRAMING_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class MalformedProxyResultError(ValueError):
    """The function returned something that is not a proxy result: API Gateway answers 502."""


class BinaryDecodingError(ValueError):
    """``isBase64Encoded`` was set on a body that is not base64: API Gateway's API_CONFIGURATION_ERROR (500)."""


def gateway_response(status: int, message: str, error_type: str, request_id: str) -> HttpResponse:
    """A response API Gateway writes itself: ``{"message": ...}`` with its ``x-amzn-ErrorType`` header."""
    return HttpResponse(
        status,
        (
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", error_type),
        ),
        json.dumps({"message": message}).encode(),
    )


def _header_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise MalformedProxyResultError(f"{where}: a header value must be a string or a boolean, got {value!r}")


def _status_code(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedProxyResultError(f"statusCode must be a whole number, got {value!r}")
    try:
        status = int(value)
    except ValueError:
        raise MalformedProxyResultError(f"statusCode must be a whole number, got {value!r}") from None
    if not 100 <= status <= 599:
        raise MalformedProxyResultError(f"statusCode {status} is not an HTTP status")
    return status


def merged_headers(headers: Any, multi_value_headers: Any) -> list[tuple[str, str]]:
    """``headers`` then ``multiValueHeaders``; a name in both (any spelling) keeps only its multi values."""
    if headers is not None and not isinstance(headers, dict):
        raise MalformedProxyResultError(f"headers must be an object, got {headers!r}")
    if multi_value_headers is not None and not isinstance(multi_value_headers, dict):
        raise MalformedProxyResultError(f"multiValueHeaders must be an object, got {multi_value_headers!r}")
    multi: dict[str, list[str]] = {}
    for name, values in (multi_value_headers or {}).items():
        if not isinstance(values, list):
            raise MalformedProxyResultError(f"multiValueHeaders.{name} must be a list, got {values!r}")
        multi[str(name)] = [_header_text(item, f"multiValueHeaders.{name}") for item in values]
    overridden = {name.lower() for name in multi}
    merged = [
        (str(name), _header_text(value, f"headers.{name}"))
        for name, value in (headers or {}).items()
        if str(name).lower() not in overridden
    ]
    merged += [(name, value) for name, values in multi.items() for value in values]
    return [(name, value) for name, value in merged if name.lower() not in _FRAMING_HEADERS]


def _body_bytes(result: Mapping[str, Any], accept: str | None, binary_media_types: tuple[str, ...]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyResultError(f"body must be a string, got {type(body).__name__}")
    encoded = result.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedProxyResultError(f"isBase64Encoded must be a boolean, got {encoded!r}")
    if encoded and matches_any(first_media_type(accept), binary_media_types):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise BinaryDecodingError(f"body is not valid base64: {exc}") from exc
    return body.encode("utf-8")


def proxy_result_response(
    result: Any, *, request_id: str, accept: str | None, binary_media_types: tuple[str, ...]
) -> HttpResponse:
    """The HTTP response for a function's proxy result; raises MalformedProxyResultError (502) or
    BinaryDecodingError (500) as API Gateway would answer them."""
    if not isinstance(result, dict):
        raise MalformedProxyResultError(f"the result must be an object, got {type(result).__name__}")
    unknown = sorted(set(result) - PROXY_RESULT_KEYS)
    if unknown:
        raise MalformedProxyResultError(
            f"unexpected keys {unknown}; a proxy result has only {sorted(PROXY_RESULT_KEYS)}"
        )
    status = _status_code(result.get("statusCode", 200))
    headers = merged_headers(result.get("headers"), result.get("multiValueHeaders"))
    body = _body_bytes(result, accept, binary_media_types)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return HttpResponse(status, tuple(headers), body)
