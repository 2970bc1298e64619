"""A tiny HTTP client for the API under test: one request in, status, headers and the parsed body out.

Built on ``http.client`` (no new dependency), with a new connection per request, so any number of threads
may share one client.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from email.message import Message

JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """What the API answered; ``body`` is the parsed JSON (None when the body is empty or not JSON)."""

    status: int
    headers: Message
    body: Any
    raw: bytes

    def header(self, name: str) -> str | None:
        """A response header, whatever its spelling."""
        return self.headers.get(name)

    @property
    def etag_version(self) -> int:
        """The version the ETag names (``"123"`` -> 123)."""
        etag = self.header("ETag")
        assert etag is not None, f"no ETag in a {self.status} answer"
        return int(etag.strip('"'))

    @property
    def error_code(self) -> str:
        """The ``error.code`` of an error body (and asserts the body is one)."""
        assert_error_shape(self)
        return str(self.body["error"]["code"])


def assert_error_shape(reply: Reply) -> None:
    """Every error is JSON ``{"error": {"code", "message", "details"}}`` and nothing more."""
    assert reply.header("Content-Type") == JSON, reply
    assert isinstance(reply.body, dict), reply
    assert set(reply.body) == {"error"}, reply.body
    error = reply.body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert "Traceback" not in reply.raw.decode(errors="replace")


class ApiClient:
    """Requests to ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        assert parts.scheme == "http"
        assert parts.hostname
        self.base_url = base_url
        self._host = parts.hostname
        self._port = parts.port or 80
        self._timeout_s = timeout_s
        self.sent: list[tuple[str, str]] = []  # (method, path without query) of every request, in order

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        data: bytes | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> Reply:
        """Send ``json_body`` as JSON (or ``data`` as it is, with the caller's Content-Type), on ``connection``
        (left open) or on a connection of its own (closed after the answer)."""
        sent = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", JSON)
        self.sent.append((method, path.split("?", 1)[0]))
        own = connection is None
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            return Reply(response.status, response.headers, _parsed(raw), raw)
        finally:
            if own:
                connection.close()

    def connect(self) -> http.client.HTTPConnection:
        """A kept-alive connection the server has already accepted (a first ``GET /health`` on it proves it), for
        requests that must start at the same moment: a burst of connects would race the server's accept
        backlog rather than the requests racing each other. Close it when done."""
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
        reply = self.request("GET", "/health", connection=connection)
        assert reply.status == 200, reply
        return connection

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, json_body: Any, headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, json_body, headers)

    def patch(self, path: str, json_body: Any, if_match: str | None = None) -> Reply:
        return self.request("PATCH", path, json_body, {"If-Match": if_match} if if_match is not None else None)

    def delete(self, path: str, if_match: str | None = None) -> Reply:
        return self.request("DELETE", path, headers={"If-Match": if_match} if if_match is not None else None)


def _parsed(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
