"""Readiness probes for the private servers and the port check that runs before anything starts.

A probe never raises for a server that is not up yet: it answers whether the server is ready and, if not,
why, so a timeout can say what the server last answered.
"""

from __future__ import annotations

import errno
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

# A probe targets 127.0.0.1 directly; an HTTP(S)_PROXY in the environment must not reroute it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Probe:
    """Whether a server answered as a ready server does; ``detail`` says what happened otherwise."""

    ready: bool
    detail: str = ""


READY = Probe(ready=True)


def http_probe(url: str, *, timeout: float = 1.0) -> Probe:
    """Ready when ``GET url`` answers 200."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return Probe(ready=False, detail=f"GET {url} answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Probe(ready=False, detail=f"GET {url} failed: {reason}")
    return READY if status == 200 else Probe(ready=False, detail=f"GET {url} answered HTTP {status}")


def redis_ping_probe(host: str, port: int, *, timeout: float = 1.0) -> Probe:
    """Ready when a RESP ``PING`` answers ``+PONG`` (spoken directly, so no redis client is needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"*1\r\n$4\r\nPING\r\n")
            answer = b""
            while not answer.endswith(b"\r\n") and len(answer) < 512:
                chunk = conn.recv(512)
                if not chunk:
                    break
                answer += chunk
    except OSError as exc:
        return Probe(ready=False, detail=f"PING to {host}:{port} failed: {exc}")
    if answer.startswith(b"+PONG"):
        return READY
    return Probe(ready=False, detail=f"PING to {host}:{port} answered {answer[:80]!r}")


def port_problem(host: str, port: int) -> str | None:
    """None when a server could bind ``host:port`` now; otherwise why it could not.

    Binds with SO_REUSEADDR, as the servers themselves do, so connections of a server stopped a moment ago
    (TIME_WAIT) do not count as a conflict, while a listening socket does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "is already in use by another process"
            return f"cannot be bound: {exc.strerror or exc}"
    return None
