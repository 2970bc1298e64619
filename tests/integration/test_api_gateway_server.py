"""`prism start-api` over real sockets: a fixture template's Api events served by ApiGatewayServer."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from prism_local.config import REPO_ROOT, LocalConfig
from prism_local.runtime.api_gateway import ApiGatewayServer, ApiServerStartError
from prism_local.runtime.api_gateway.gateway import MAX_PAYLOAD_BYTES
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.control import stack_up
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

TEMPLATE = REPO_ROOT / "tests" / "fixtures" / "templates" / "api-echo.yaml"


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    request = urllib.request.Request(base_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


@pytest.fixture(scope="module")
def echo_stack(local_servers: LocalConfig) -> LocalConfig:
    config = local_servers.with_overrides(stack_name="api-echo", template=TEMPLATE)
    stack_up(config)
    return config


@pytest.fixture(scope="module")
def runtime(echo_stack: LocalConfig) -> Iterator[LocalRuntime]:
    with LocalRuntime(echo_stack) as local_runtime:
        yield local_runtime


@pytest.fixture(scope="module")
def docs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = tmp_path_factory.mktemp("docs") / "openapi.json"
    document.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "Echo", "version": "1"}, "paths": {}}))
    return document


@pytest.fixture(scope="module")
def api(runtime: LocalRuntime, docs_file: Path) -> Iterator[str]:
    server = ApiGatewayServer(runtime, port=free_port(), openapi_file=docs_file)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_a_path_parameter_query_string_and_headers_reach_the_function(api: str) -> None:
    reply = call(api, "GET", "/customers/a%40b?tag=x&tag=y&q=two+words", headers={"X-Trace": "t1"})

    assert reply.status == 200
    event = reply.json()["event"]
    assert event["resource"] == "/customers/{id}"
    assert event["path"] == "/customers/a%40b"
    assert event["pathParameters"] == {"id": "a%40b"}
    assert event["queryStringParameters"] == {"tag": "y", "q": "two words"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["x", "y"]
    assert event["headers"]["X-Trace"] == "t1"
    assert event["stageVariables"] == {"flavour": "vanilla"}
    assert event["requestContext"]["path"] == "/test/customers/a%40b"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] is None


def test_the_function_response_headers_are_merged(api: str) -> None:
    reply = call(api, "GET", "/customers/1")

    assert reply.headers["X-Echo"] == "single"
    assert reply.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert reply.headers.get_all("X-Both") == ["from-multi"]
    assert reply.headers["x-amzn-RequestId"] == reply.json()["event"]["requestContext"]["requestId"]


def test_a_json_body_arrives_as_text_on_any_method_of_an_any_route(api: str) -> None:
    document = {"sku": "A-1", "qty": 2}

    reply = call(
        api, "PATCH", "/customers/7/orders/", json.dumps(document).encode(), {"Content-Type": "application/json"}
    )

    event = reply.json()["event"]
    assert event["httpMethod"] == "PATCH"
    assert json.loads(event["body"]) == document
    assert event["isBase64Encoded"] is False
    assert event["resource"] == "/customers/{id}/orders"


def test_a_binary_body_goes_in_base64_and_comes_back_as_bytes(api: str) -> None:
    payload = bytes(range(256)) * 64
    binary = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}

    reply = call(api, "POST", "/uploads", payload, binary)
    as_text = call(api, "POST", "/uploads", payload, {"Content-Type": "application/octet-stream"})

    assert (reply.status, reply.body) == (201, payload)
    assert as_text.body == base64.b64encode(payload)  # no binary Accept: API Gateway returns the base64 text


def test_greedy_and_root_routes(api: str) -> None:
    files = call(api, "DELETE", "/files/a/b/c.txt").json()["event"]
    root = call(api, "GET", "/").json()["event"]

    assert files["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert (root["resource"], root["pathParameters"]) == ("/", None)


def test_a_head_request_gets_the_headers_without_the_body(api: str) -> None:
    reply = call(api, "HEAD", "/files/report.txt")

    assert reply.status == 200
    assert reply.body == b""
    assert int(reply.headers["Content-Length"]) > 0


def test_a_chunked_body_arrives_whole(api: str) -> None:
    host, port = api.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        chunks = iter([b'{"part": ', b'"one", ', b'"more": true}'])
        connection.request("POST", "/files/upload", body=chunks, encode_chunked=True)
        event = json.loads(connection.getresponse().read())["event"]
    finally:
        connection.close()

    assert json.loads(event["body"]) == {"part": "one", "more": True}
    assert "Transfer-Encoding" in event["headers"]


def test_unknown_routes_and_methods_are_403_missing_authentication_token(api: str) -> None:
    for method, path in [("GET", "/nowhere"), ("POST", "/customers/1"), ("GET", "/files")]:
        reply = call(api, method, path, b"" if method == "POST" else None)
        assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"}), (method, path)


def test_a_raising_handler_is_502_and_logged(api: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="prism_local.runtime.api_gateway"):
        reply = call(api, "POST", "/boom", b"{}")

    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})
    assert "RuntimeError: the handler raised" in caplog.text
    assert "POST /boom 502" in caplog.text  # the access log line


def test_a_malformed_result_is_502(api: str) -> None:
    assert call(api, "GET", "/malformed").status == 502


def test_a_function_past_its_own_timeout_is_502(api: str) -> None:
    assert call(api, "GET", "/slow?seconds=1.5").status == 502  # SlowFunction's Timeout is 1 s


def test_a_function_past_the_integration_timeout_is_504(runtime: LocalRuntime) -> None:
    server = ApiGatewayServer(runtime, port=free_port(), integration_timeout_s=0.3)
    server.start()
    try:
        reply = call(server.url, "GET", "/slow?seconds=0.8")
    finally:
        server.stop()

    assert (reply.status, reply.json()) == (504, {"message": "Endpoint request timed out"})


def test_a_body_over_10_mb_is_413_without_being_read(api: str) -> None:
    host, port = api.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/uploads")
        connection.putheader("Content-Length", str(MAX_PAYLOAD_BYTES + 1))
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 413
    assert json.loads(body) == {"message": "Request Too Long"}


def test_ten_parallel_requests_are_all_answered_within_the_pool(api: str) -> None:
    with ThreadPoolExecutor(max_workers=10) as clients:
        replies = list(clients.map(lambda n: call(api, "GET", f"/customers/{n}"), range(10)))

    assert [reply.status for reply in replies] == [200] * 10
    assert [reply.json()["event"]["pathParameters"]["id"] for reply in replies] == [str(n) for n in range(10)]
    assert len({reply.json()["pid"] for reply in replies}) <= 4  # LocalRuntime's default pool size


def test_swagger_ui_and_the_document_are_served_under_docs(api: str, docs_file: Path) -> None:
    page = call(api, "GET", "/_docs")
    document = call(api, "GET", "/_docs/openapi.json")
    bundle = call(api, "GET", "/_docs/swagger-ui-bundle.min.js")

    assert page.status == 200
    assert b"SwaggerUIBundle" in page.body
    assert document.json() == json.loads(docs_file.read_text())
    assert bundle.status == 200


def test_stopping_leaves_no_server_threads(runtime: LocalRuntime) -> None:
    before = set(threading.enumerate())
    server = ApiGatewayServer(runtime, port=free_port())
    server.start()
    idle = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=10)
    try:
        idle.request("GET", "/customers/1")  # keep-alive: the connection stays open after this
        assert idle.getresponse().read()
        server.stop()
    finally:
        idle.close()

    left = [thread.name for thread in set(threading.enumerate()) - before if thread.name.startswith("api-")]
    assert left == []


def test_a_taken_port_is_a_clear_start_error(runtime: LocalRuntime, api: str) -> None:
    taken = int(api.rsplit(":", 1)[1])

    with pytest.raises(ApiServerStartError, match=f"cannot listen on 127.0.0.1:{taken}"):
        ApiGatewayServer(runtime, port=taken).start()
