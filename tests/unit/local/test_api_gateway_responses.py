"""A function's proxy result as the HTTP response API Gateway sends, and the results it refuses with a 502."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from prism_local.runtime.api_gateway.responses import (
    BinaryDecodingError,
    MalformedProxyResultError,
    gateway_response,
    proxy_result_response,
)

BINARY = ("application/octet-stream", "image/png")


def respond(result: Any, accept: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    response = proxy_result_response(result, request_id="req-1", accept=accept, binary_media_types=BINARY)
    return response.status, list(response.headers), response.body


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def test_status_headers_and_body_pass_through_with_the_request_id() -> None:
    status, headers, body = respond({"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "body": "made"})

    assert (status, body) == (201, b"made")
    assert values(headers, "Content-Type") == ["text/plain"]
    assert values(headers, "x-amzn-RequestId") == ["req-1"]


def test_multi_value_headers_merge_with_headers_and_win_for_a_shared_name() -> None:
    _, headers, _ = respond(
        {
            "statusCode": 200,
            "headers": {"X-Solo": "s", "X-Both": "from-headers", "X-Flag": True},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-both": ["m1", "m2"]},
        }
    )

    assert values(headers, "X-Solo") == ["s"]
    assert values(headers, "X-Flag") == ["true"]
    assert values(headers, "Set-Cookie") == ["a=1", "b=2"]
    assert values(headers, "X-Both") == ["m1", "m2"]


def test_a_missing_status_is_200_a_missing_body_empty_and_content_type_defaults_to_json() -> None:
    status, headers, body = respond({"headers": {"test-header": "value"}})

    assert (status, body) == (200, b"")
    assert values(headers, "Content-Type") == ["application/json"]
    assert respond({"statusCode": "201", "headers": None})[0] == 201


def test_framing_headers_of_the_function_are_dropped() -> None:
    _, headers, _ = respond({"statusCode": 200, "headers": {"Content-Length": "999", "Connection": "close"}})

    assert values(headers, "Content-Length") == []
    assert values(headers, "Connection") == []


def test_a_base64_body_is_decoded_when_the_client_accepts_a_binary_type() -> None:
    image = b"\x89PNG\r\n\x1a\n\x00\xff"
    result = {"statusCode": 200, "body": base64.b64encode(image).decode(), "isBase64Encoded": True}

    assert respond(result, accept="image/png, */*")[2] == image
    assert respond(result, accept="text/html, image/png")[2] == base64.b64encode(image)  # only the first counts
    assert respond(result)[2] == base64.b64encode(image)


def test_a_body_flagged_base64_that_is_not_is_an_api_configuration_error() -> None:
    with pytest.raises(BinaryDecodingError):
        respond({"statusCode": 200, "body": "not base64!", "isBase64Encoded": True}, accept="image/png")


@pytest.mark.parametrize(
    "result",
    [
        "justAString",
        None,
        ["statusCode", 200],
        {"statusCode": 200, "wrongValue": "value"},
        {"statusCode": "test"},
        {"statusCode": True},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": {"X-Count": 5}},
        {"statusCode": 200, "headers": "X-A: b"},
        {"statusCode": 200, "multiValueHeaders": {"test-multi-invalid": "value1"}},
        {"statusCode": 200, "body": "x", "isBase64Encoded": "yes"},
    ],
)
def test_a_result_that_is_not_a_proxy_response_is_malformed(result: Any) -> None:
    with pytest.raises(MalformedProxyResultError):
        respond(result)


def test_gateway_responses_are_json_messages_with_the_error_type() -> None:
    response = gateway_response(403, "Missing Authentication Token", "MissingAuthenticationTokenException", "r")

    assert response.status == 403
    assert json.loads(response.body) == {"message": "Missing Authentication Token"}
    assert dict(response.headers) == {
        "Content-Type": "application/json",
        "x-amzn-RequestId": "r",
        "x-amzn-ErrorType": "MissingAuthenticationTokenException",
    }
