"""One request through the emulated REST API: route, proxy event, invoke, response. No sockets here.

What API Gateway answers when it cannot use the function's result (API Gateway developer guide):
- no route for the method and path: 403 ``{"message": "Missing Authentication Token"}``
  (MISSING_AUTHENTICATION_TOKEN, "Gateway response types");
- the function failed, or ran past its own Timeout (Lambda reports that as a function error too), or returned
  something that is not a proxy result: 502 ``{"message": "Internal server error"}`` ("Output format of a
  Lambda function for proxy integration");
- no answer within the integration timeout, 29 s for REST APIs ("Amazon API Gateway quotas"): 504
  ``{"message": "Endpoint request timed out"}`` (INTEGRATION_TIMEOUT). The invocation goes on, as on AWS.
- a payload over 10 MB ("Amazon API Gateway quotas"): 413 (REQUEST_TOO_LARGE), answered by the server before
  the body is read.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future
from typing import TYPE_CHECKING, Final

from prism_local.runtime.api_gateway.request_event import proxy_event
from prism_local.runtime.api_gateway.responses import (
    BinaryDecodingError,
    MalformedProxyResultError,
    gateway_response,
    proxy_result_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from prism_local.runtime.api_gateway.request_event import HttpRequest
    from prism_local.runtime.api_gateway.responses import HttpResponse
    from prism_local.runtime.api_gateway.routes import RouteMatch, RouteTable
    from prism_local.runtime.invocation import Invocation, Invoker

INTEGRATION_TIMEOUT_S: Final = 29.0
MAX_PAYLOAD_BYTES: Final = 10 * 1024 * 1024

_log = logging.getLogger(__name__)


def missing_authentication_token(request_id: str) -> HttpResponse:
    return gateway_response(403, "Missing Authentication Token", "MissingAuthenticationTokenException", request_id)


def internal_server_error(request_id: str, status: int = 502) -> HttpResponse:
    return gateway_response(status, "Internal server error", "InternalServerErrorException", request_id)


def endpoint_request_timed_out(request_id: str) -> HttpResponse:
    return gateway_response(504, "Endpoint request timed out", "InternalServerErrorException", request_id)


def request_too_large(request_id: str) -> HttpResponse:
    return gateway_response(413, "Request Too Long", "RequestTooLargeException", request_id)


class ApiGateway:
    """Answers requests for ``routes``, invoking each route's function through ``invoker_for(function_id)``.

    Stateless between requests: safe to call from every server thread at once.
    """

    def __init__(
        self,
        routes: RouteTable,
        invoker_for: Callable[[str], Invoker],
        *,
        account_id: str,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
    ) -> None:
        self.routes = routes
        self._invoker_for = invoker_for
        self._account_id = account_id
        self.integration_timeout_s = integration_timeout_s

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        match = self.routes.match(request.method, request.path)
        if match is None:
            return missing_authentication_token(request_id)
        event = proxy_event(request, match, request_id=request_id, received_at=time.time(), account_id=self._account_id)
        try:
            invocation = self._invoke(match, event, request_id)
        except RuntimeError:  # no execution environment could start, or the runtime is shutting down
            _log.exception("%s could not be invoked (request %s)", match.route.function_id, request_id)
            return internal_server_error(request_id)
        if invocation is None:
            return endpoint_request_timed_out(request_id)
        return self._response(match, invocation, request, request_id)

    def _invoke(self, match: RouteMatch, event: dict[str, object], request_id: str) -> Invocation | None:
        """The invocation, or None when it outlasts the integration timeout (it then goes on unobserved).

        Each invocation runs on a thread of its own so the request can stop waiting; the function's pool
        still bounds how many run at once.
        """
        function_id = match.route.function_id
        invoker = self._invoker_for(function_id)
        outcome: Future[Invocation] = Future()

        def run() -> None:
            try:
                outcome.set_result(invoker.invoke(event))
            except Exception as exc:  # noqa: BLE001 - handed to the waiting request thread, which re-raises it
                outcome.set_exception(exc)

        started = time.monotonic()
        threading.Thread(target=run, name=f"api-invoke-{function_id}", daemon=True).start()
        try:
            return outcome.result(timeout=self.integration_timeout_s)
        except TimeoutError:
            _log.error(
                "%s did not answer within the %.1f s integration timeout (request %s): 504",
                function_id,
                self.integration_timeout_s,
                request_id,
                extra={"function": function_id, "request_id": request_id, "waited_ms": _elapsed_ms(started)},
            )
            return None

    def _response(
        self, match: RouteMatch, invocation: Invocation, request: HttpRequest, request_id: str
    ) -> HttpResponse:
        function_id = match.route.function_id
        if invocation.error is not None:
            error = invocation.error
            trace = "".join(str(line) for line in error.get("stackTrace") or [])
            _log.error(
                "%s failed (request %s): %s: %s%s",
                function_id,
                request_id,
                error.get("errorType"),
                error.get("errorMessage"),
                f"\n{trace.rstrip()}" if trace else "",
                extra={"function": function_id, "request_id": request_id, "error_type": error.get("errorType")},
            )
            return internal_server_error(request_id)
        try:
            return proxy_result_response(
                invocation.payload,
                request_id=request_id,
                accept=request.header("Accept"),
                binary_media_types=match.route.api.binary_media_types,
            )
        except MalformedProxyResultError as exc:
            _log.error(
                "%s returned a malformed Lambda proxy response (request %s): %s",
                function_id,
                request_id,
                exc,
                extra={"function": function_id, "request_id": request_id},
            )
            return internal_server_error(request_id)
        except BinaryDecodingError as exc:
            _log.error("%s: %s (request %s)", function_id, exc, request_id, extra={"function": function_id})
            return internal_server_error(request_id, status=500)


def _elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
