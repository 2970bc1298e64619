"""The HTTP side of ``prism start-api``: a ThreadingHTTPServer (one thread per connection) in front of ApiGateway.

Only translation happens here: bytes off the socket into an HttpRequest, an HttpResponse back onto it, and an
access-log line per request. Routing, events and responses live in the pure modules beside this one.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final, cast

from prism_local.runtime.api_gateway.docs_site import ApiDocs
from prism_local.runtime.api_gateway.gateway import (
    INTEGRATION_TIMEOUT_S,
    MAX_PAYLOAD_BYTES,
    ApiGateway,
    request_too_large,
)
from prism_local.runtime.api_gateway.request_event import HttpRequest
from prism_local.runtime.api_gateway.responses import gateway_response
from prism_local.runtime.api_gateway.rest_apis import implicit_api, rest_apis
from prism_local.runtime.api_gateway.routes import RouteTable, routes_from_functions

if TYPE_CHECKING:
    from pathlib import Path

    from prism_local.runtime.api_gateway.responses import HttpResponse
    from prism_local.runtime.local_runtime import LocalRuntime

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 3000

_log = logging.getLogger(__name__)
access_log = logging.getLogger("prism_local.runtime.api_gateway.access")


class ApiServerStartError(RuntimeError):
    """The server could not listen where it was asked to (the message says where and why)."""


class BadRequestError(ValueError):
    """The request cannot be read (a malformed Content-Length or chunk)."""


class PayloadTooLargeError(ValueError):
    """The body is larger than API Gateway accepts."""


class ApiGatewayServer:
    """The template's Api events served over HTTP on ``host:port``, invoking through ``runtime``'s pools.

    ``stage`` replaces every API's StageName when given (the stage appears in ``requestContext``); by default
    each API keeps the one the template deploys it to. ``port=0`` takes a free port (see ``url``).
    """

    def __init__(
        self,
        runtime: LocalRuntime,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        stage: str | None = None,
        openapi_file: Path | None = None,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
    ) -> None:
        functions = runtime.functions()
        stack = runtime.stack
        explicit, implicit = rest_apis(runtime.template, stack), implicit_api(stack.stack_name)
        if stage is not None:
            explicit, implicit = [replace(api, stage=stage) for api in explicit], replace(implicit, stage=stage)
        self.routes = RouteTable(routes_from_functions(functions, {api.api_id: api for api in explicit}, implicit))
        specs = {function.logical_id: function for function in functions}
        self.gateway = ApiGateway(
            self.routes,
            lambda function_id: runtime.pool(specs[function_id]),
            account_id=stack.account_id,
            integration_timeout_s=integration_timeout_s,
        )
        self.docs = ApiDocs(openapi_file)
        self._address = (host, port)
        self._httpd: _HttpServer | None = None
        self._serving: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2] if self._httpd is not None else self._address
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Listen and serve in a background thread; ApiServerStartError if the address cannot be bound."""
        try:
            self._httpd = _HttpServer(self._address, self)
        except OSError as exc:
            host, port = self._address
            raise ApiServerStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self._serving = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="api-server", daemon=True
        )
        self._serving.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (up to ``timeout``), close idle connections."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections(timeout)
            self._httpd = None
        if self._serving is not None:
            self._serving.join(timeout)
            self._serving = None

    def __enter__(self) -> ApiGatewayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respond(self, request: HttpRequest) -> HttpResponse:
        if self.docs.serves(request):
            return self.docs.respond(request)
        return self.gateway.handle(request)


class _HttpServer(ThreadingHTTPServer):
    """Keeps track of its connections, so stopping can wake idle keep-alive readers and wait for the rest."""

    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when a client opens twenty at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], application: ApiGatewayServer) -> None:
        self.application = application
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name="api-request", daemon=True
        )
        with self._lock:
            self._connections[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An error escaping a request (a bug: failures of the function are answered as 502s) is logged."""
        _log.exception("Unexpected error serving a request from %s", client_address)

    def close_connections(self, timeout: float) -> None:
        """Wake connections waiting for their next request (their reads end) and wait for all to finish."""
        with self._lock:
            connections = dict(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                continue  # already closed by its client
        deadline = time.monotonic() + timeout
        for thread in connections.values():
            thread.join(max(0.0, deadline - time.monotonic()))
        laggards = sum(thread.is_alive() for thread in connections.values())
        if laggards:
            _log.warning("%d API requests still running after stop", laggards)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's connection is reused across requests
    # Headers and body go out in two writes; without TCP_NODELAY a kept-alive request waits ~40 ms on
    # a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "prism-start-api"

    def do_GET(self) -> None:
        self._serve()

    do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_POST = do_PUT = do_GET

    @property
    def _application(self) -> ApiGatewayServer:
        return cast("_HttpServer", self.server).application

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            response = self._application.respond(self._request())
        except PayloadTooLargeError:
            self.close_connection = True  # the body was not read: the connection cannot be reused
            response = request_too_large(request_id="-")
        except BadRequestError as exc:
            self.close_connection = True
            response = gateway_response(400, str(exc), "BadRequestException", "-")
        access_log.info(
            "%s %s %d %.1f ms",
            self.command,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
            extra={"method": self.command, "path": self.path, "status": response.status},
        )  # before writing, so a client that has its answer can also find the line
        self._write(response)

    def _request(self) -> HttpRequest:
        return HttpRequest(
            method=self.command,
            target=self.path,
            headers=tuple((name, value) for name, value in self.headers.items()),
            body=self._body(),
            source_ip=str(self.client_address[0]),
            server_port=cast("_HttpServer", self.server).server_port,
            protocol=self.request_version,
        )

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked_body()
        declared = self.headers.get("Content-Length")
        if not declared:
            return b""
        try:
            length = int(declared)
        except ValueError:
            raise BadRequestError(f"Content-Length {declared!r} is not a number") from None
        if length > MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError
        return self.rfile.read(length)

    def _chunked_body(self) -> bytes:
        """A ``Transfer-Encoding: chunked`` body (RFC 9112 §7.1), refused once it passes the payload limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                chunk_size = int(line, 16)
            except ValueError:
                raise BadRequestError(f"bad chunk size {line!r}") from None
            if chunk_size == 0:
                while self.rfile.readline(1024).strip():
                    continue  # trailer fields, ignored
                return b"".join(chunks)
            size += chunk_size
            if size > MAX_PAYLOAD_BYTES:
                raise PayloadTooLargeError
            chunks.append(self.rfile.read(chunk_size))
            self.rfile.readline(16)  # the CRLF after each chunk

    def _write(self, response: HttpResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError as exc:  # the client went away; nothing is left to answer
            _log.debug("Could not write the response to %s: %s", self.client_address, exc)
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by the access log written in ``_serve``."""

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)
