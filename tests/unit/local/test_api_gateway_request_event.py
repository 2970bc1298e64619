"""The proxy event: every field API Gateway (REST, payload 1.0) sends, as a Powertools resolver reads it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from prism_local.runtime.api_gateway.request_event import HttpRequest, proxy_event, request_time
from prism_local.runtime.api_gateway.rest_apis import RestApi
from prism_local.runtime.api_gateway.routes import Route, RouteTable

API = RestApi("Api", "a1b2c3d4e5", "dev", {"flavour": "vanilla"}, ("application/octet-stream", "image/*"))
ROUTES = RouteTable(
    [
        Route("GET", "/customers/{id}", "Fn", API),
        Route("ANY", "/files/{proxy+}", "Fn", API),
        Route("POST", "/customers", "Fn", API),
        Route("GET", "/health", "Fn", RestApi("Other", "f0f0f0f0f0", "Prod")),
    ]
)
RECEIVED_AT = 1_700_000_000.123


def request(
    method: str = "GET",
    target: str = "/customers/42",
    headers: tuple[tuple[str, str], ...] = (("Host", "127.0.0.1:3000"), ("User-Agent", "curl/8")),
    body: bytes = b"",
) -> HttpRequest:
    return HttpRequest(method, target, headers, body, source_ip="127.0.0.7", server_port=3000)


def event_for(http_request: HttpRequest) -> dict[str, Any]:
    match = ROUTES.match(http_request.method, http_request.path)
    assert match is not None
    return proxy_event(http_request, match, request_id="req-1", received_at=RECEIVED_AT, account_id="123456789012")


def test_a_get_carries_every_top_level_field_with_nulls_where_there_is_nothing() -> None:
    event = event_for(request())

    assert set(event) == {
        "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
        "isBase64Encoded",
    }  # fmt: skip
    assert event["resource"] == "/customers/{id}"
    assert event["path"] == "/customers/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] == {"flavour": "vanilla"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_the_request_context_names_the_api_stage_resource_and_caller() -> None:
    context = event_for(request(target="/customers/42/?x=1"))["requestContext"]

    assert context["accountId"] == "123456789012"
    assert context["apiId"] == "a1b2c3d4e5"
    assert context["stage"] == "dev"
    assert context["path"] == "/dev/customers/42/"
    assert context["resourcePath"] == "/customers/{id}"
    assert context["resourceId"] == ROUTES.routes[0].resource_id
    assert context["httpMethod"] == "GET"
    assert context["requestId"] == "req-1"
    assert context["requestTimeEpoch"] == 1_700_000_000_123
    assert context["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert context["protocol"] == "HTTP/1.1"
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["identity"]["sourceIp"] == "127.0.0.7"
    assert context["identity"]["userAgent"] == "curl/8"
    assert context["identity"]["caller"] is None
    assert context["identity"]["userArn"] is None


def test_an_api_without_stage_variables_sends_null() -> None:
    event = event_for(request(target="/health"))

    assert event["stageVariables"] is None
    assert event["pathParameters"] is None
    assert event["requestContext"]["path"] == "/Prod/health"


def test_repeated_headers_keep_the_last_value_in_headers_and_all_in_multi_value_headers() -> None:
    headers = (
        ("Host", "localhost:3000"),
        ("X-Tag", "one"),
        ("X-Tag", "two"),
        ("tEsT-HEADeR", "aValUE"),
        ("user-agent", "lower/1"),
        ("authorization", "Bearer t"),
        ("Content-Length", "0"),
        ("Connection", "keep-alive"),
    )

    event = event_for(request(headers=headers))

    assert event["headers"]["X-Tag"] == "two"
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"]
    assert event["headers"]["tEsT-HEADeR"] == "aValUE"  # names keep the client's spelling
    assert event["headers"]["User-Agent"] == "lower/1"  # except the two CloudFront capitalises
    assert event["headers"]["Authorization"] == "Bearer t"
    assert "Content-Length" not in event["headers"]
    assert "Connection" not in event["multiValueHeaders"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.7"
    assert event["headers"]["X-Forwarded-Port"] == "3000"
    assert event["headers"]["X-Forwarded-Proto"] == "http"


def test_a_client_forwarded_for_chain_gets_the_caller_appended() -> None:
    event = event_for(request(headers=(("Host", "h"), ("X-Forwarded-For", "10.0.0.1"))))

    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["10.0.0.1, 127.0.0.7"]


def test_query_strings_are_decoded_with_the_last_value_single_and_all_values_multi() -> None:
    target = "/customers/42?category=electronics&category=books&email=test%2Balias%40x.com&plus=a+b&blank="

    event = event_for(request(target=target))

    assert event["queryStringParameters"] == {
        "category": "books",
        "email": "test+alias@x.com",
        "plus": "a b",
        "blank": "",
    }
    assert event["multiValueQueryStringParameters"]["category"] == ["electronics", "books"]
    assert event["path"] == "/customers/42"


def test_the_path_and_path_parameters_stay_percent_encoded() -> None:
    event = event_for(request(target="/files/docs/a%20b.txt"))

    assert event["path"] == "/files/docs/a%20b.txt"
    assert event["pathParameters"] == {"proxy": "docs/a%20b.txt"}
    assert event["resource"] == "/files/{proxy+}"


def test_a_json_body_is_text() -> None:
    body = json.dumps({"name": "Ada", "note": "π"}).encode()

    event = event_for(
        request("POST", "/customers", (("Host", "h"), ("Content-Type", "application/json; charset=utf-8")), body)
    )

    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/png", "IMAGE/JPEG; q=1"])
def test_a_body_of_a_binary_media_type_is_base64(content_type: str) -> None:
    payload = b"\x89PNG\r\n\x1a\n\x00\xff"

    event = event_for(request("PUT", "/files/logo.png", (("Content-Type", content_type),), payload))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_a_text_type_body_of_a_binary_api_stays_text_and_undeclared_bytes_are_kept_as_base64() -> None:
    text = event_for(request("PUT", "/files/a.txt", (("Content-Type", "text/plain"),), b"plain"))
    raw = event_for(request("PUT", "/files/a.bin", (("Content-Type", "text/plain"),), b"\xff\xfe"))

    assert (text["body"], text["isBase64Encoded"]) == ("plain", False)
    assert raw["isBase64Encoded"] is True
    assert base64.b64decode(raw["body"]) == b"\xff\xfe"


def test_request_time_uses_english_month_names() -> None:
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"


def test_powertools_reads_the_event_as_api_gateway_sends_it() -> None:
    app = APIGatewayRestResolver()
    seen: dict[str, Any] = {}

    @app.get("/customers/<customer_id>")
    def get_customer(customer_id: str) -> Response[str]:
        event = app.current_event
        seen.update(
            customer_id=customer_id,
            tags=event.multi_value_query_string_parameters.get("tag"),
            tag=event.query_string_parameters.get("tag"),
            header=event.headers.get("x-request-tag"),
            stage=event.request_context.stage,
            source_ip=event.request_context.identity.source_ip,
        )
        return Response(200, "application/json", json.dumps({"id": customer_id}))

    raw = event_for(request(target="/customers/42?tag=a&tag=b", headers=(("Host", "h"), ("X-Request-Tag", "t"))))
    result = app.resolve(raw, context=None)

    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"id": "42"}
    assert seen == {
        "customer_id": "42",
        "tags": ["a", "b"],
        "tag": "b",
        "header": "t",
        "stage": "dev",
        "source_ip": "127.0.0.7",
    }
    assert APIGatewayProxyEvent(raw).resolved_query_string_parameters["tag"] == ["a", "b"]


def test_powertools_decodes_a_base64_body() -> None:
    raw = event_for(request("PUT", "/files/a.bin", (("Content-Type", "application/octet-stream"),), b"abc"))

    assert APIGatewayProxyEvent(raw).decoded_body == "abc"
