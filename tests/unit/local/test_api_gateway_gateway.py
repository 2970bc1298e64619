"""One request end to end through ApiGateway, with fake invokers: the statuses API Gateway answers."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

import pytest

from prism_local.runtime.api_gateway.gateway import ApiGateway
from prism_local.runtime.api_gateway.request_event import HttpRequest
from prism_local.runtime.api_gateway.rest_apis import RestApi
from prism_local.runtime.api_gateway.routes import Route, RouteTable
from prism_local.runtime.invocation import Invocation

if TYPE_CHECKING:
    from collections.abc import Callable

    from prism_local.runtime.api_gateway.responses import HttpResponse

API = RestApi("Api", "a1b2c3d4e5", "dev")


class FakeInvoker:
    """Answers every invocation with ``outcome(event)``; remembers the events."""

    def __init__(self, outcome: Callable[[dict[str, Any]], Invocation]) -> None:
        self.outcome = outcome
        self.events: list[dict[str, Any]] = []

    @property
    def function_name(self) -> str:
        return "fake"

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        return self.outcome(event)


def returning(payload: Any) -> FakeInvoker:
    return FakeInvoker(lambda _event: Invocation(payload, None, 1.0, "lambda-req"))


@pytest.fixture
def gateway_with() -> Callable[..., ApiGateway]:
    def make(invoker: FakeInvoker, timeout_s: float = 5.0) -> ApiGateway:
        routes = RouteTable([Route("ANY", "/customers/{id}", "Fn", API)])
        return ApiGateway(routes, lambda _id: invoker, account_id="123456789012", integration_timeout_s=timeout_s)

    return make


def get(gateway: ApiGateway, target: str = "/customers/42", method: str = "GET") -> HttpResponse:
    return gateway.handle(HttpRequest(method, target, (("Host", "h"),), b"", "127.0.0.1", 3000))


def message(response: HttpResponse) -> Any:
    return json.loads(response.body)["message"]


def test_a_routed_request_reaches_the_function_and_its_result_is_the_response(
    gateway_with: Callable[..., ApiGateway],
) -> None:
    invoker = returning({"statusCode": 200, "body": '{"id": "42"}'})

    response = get(gateway_with(invoker))

    assert (response.status, response.body) == (200, b'{"id": "42"}')
    (event,) = invoker.events
    assert event["pathParameters"] == {"id": "42"}
    assert dict(response.headers)["x-amzn-RequestId"] == event["requestContext"]["requestId"]


def test_an_unrouted_request_is_403_missing_authentication_token(gateway_with: Callable[..., ApiGateway]) -> None:
    invoker = returning({"statusCode": 200})

    response = get(gateway_with(invoker), "/orders/1")

    assert response.status == 403
    assert message(response) == "Missing Authentication Token"
    assert dict(response.headers)["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert invoker.events == []


def test_a_function_error_is_502_and_logged_with_its_stack_trace(
    gateway_with: Callable[..., ApiGateway], caplog: pytest.LogCaptureFixture
) -> None:
    error = {"errorType": "ValueError", "errorMessage": "bad id", "stackTrace": ['  File "app.py", line 3\n']}
    invoker = FakeInvoker(lambda _event: Invocation(None, error, 1.0, "lambda-req"))

    with caplog.at_level(logging.ERROR, logger="prism_local.runtime.api_gateway"):
        response = get(gateway_with(invoker))

    assert (response.status, message(response)) == (502, "Internal server error")
    assert "Fn failed" in caplog.text
    assert "ValueError: bad id" in caplog.text
    assert 'File "app.py", line 3' in caplog.text


def test_a_function_past_its_timeout_is_502_as_lambda_reports_it_as_an_error(
    gateway_with: Callable[..., ApiGateway],
) -> None:
    error = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"}
    invoker = FakeInvoker(lambda _event: Invocation(None, error, 3000.0, "lambda-req"))

    assert get(gateway_with(invoker)).status == 502


def test_a_malformed_result_is_502_and_logged(
    gateway_with: Callable[..., ApiGateway], caplog: pytest.LogCaptureFixture
) -> None:
    invoker = returning({"statusCode": 200, "body": {"not": "a string"}})

    with caplog.at_level(logging.ERROR, logger="prism_local.runtime.api_gateway"):
        response = get(gateway_with(invoker))

    assert (response.status, message(response)) == (502, "Internal server error")
    assert "malformed Lambda proxy response" in caplog.text


def test_a_function_that_cannot_start_is_502(gateway_with: Callable[..., ApiGateway]) -> None:
    def cannot_start(_event: dict[str, Any]) -> Invocation:
        raise RuntimeError("Fn: the runtime is shutting down")

    assert get(gateway_with(FakeInvoker(cannot_start))).status == 502


def test_no_answer_within_the_integration_timeout_is_504(gateway_with: Callable[..., ApiGateway]) -> None:
    release = threading.Event()

    def hang(_event: dict[str, Any]) -> Invocation:
        release.wait(5)
        return Invocation({"statusCode": 200}, None, 5000.0, "lambda-req")

    try:
        response = get(gateway_with(FakeInvoker(hang), timeout_s=0.05))
    finally:
        release.set()

    assert (response.status, message(response)) == (504, "Endpoint request timed out")
