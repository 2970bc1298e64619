"""Fakes, builders and a disposable redis-server for the cache's tests."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError

from prism.cache.port import ApplyOutcome, CacheUnavailableError
from prism.changes.envelope import ChangeEvent, Op
from prism.changes.stream_decoder import decode_stream_record
from tests.support.records import entity, stream_record

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import redis

_message_ids = itertools.count(1)


class CountingMetrics:
    """A MetricsSink that keeps the sum of every metric by name."""

    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def __getitem__(self, name: str) -> float:
        return self.counts.get(name, 0)


class FailingRedis:
    """A redis client whose every command raises ``error`` (a dead, slow or misbehaving server); counts calls."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        self.calls = 0

    def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        self.calls += 1
        raise self.error

    get = _fail
    set = _fail

    def register_script(self, _script: str) -> Callable[..., Any]:
        return self._fail


@dataclass
class InMemoryChangeApplier:
    """A ChangeApplier that keeps the newest version per entity, or fails while ``down``."""

    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    down: bool = False

    def apply_change(self, change: ChangeEvent) -> ApplyOutcome:
        if self.down:
            raise CacheUnavailableError("simulated outage")
        key = (change.entity, change.id)
        if self.versions.get(key, -1) >= change.version:
            return ApplyOutcome.STALE
        self.versions[key] = change.version
        return ApplyOutcome.APPLIED


def change(kind: str, entity_id: str, version: int, *, deleted: bool = False) -> ChangeEvent:
    """An envelope as the fanout would publish it, decoded from a real stream record."""
    if deleted:
        record = stream_record("MODIFY", new=entity(kind, entity_id, version, deleted=True))
    else:
        record = stream_record("MODIFY", new=entity(kind, entity_id, version, name=f"{kind} at {version}"))
    decoded = decode_stream_record(record)
    assert isinstance(decoded, ChangeEvent)
    assert decoded.op is (Op.DELETE if deleted else Op.UPSERT)
    return decoded


def sqs_record(body: str, message_id: str | None = None) -> dict[str, Any]:
    """An SQS record as Lambda delivers it from the cache queue."""
    return {
        "messageId": message_id or f"m-{next(_message_ids)}",
        "receiptHandle": "AQEBcacheTest==",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795420802000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:prism-local-CacheQueue",
        "awsRegion": "us-east-1",
    }


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every entry and lock a test created under ``prefix``."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)


class RedisProcess:
    """A redis-server of a test's own (so the test may kill it), on ``port``; always ``stop()`` it."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*argv, "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not _answers_ping(self.port):
            assert self.process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer PING within 10 s"
            time.sleep(0.02)

    def kill(self) -> None:
        """Kill the server by its PID (SIGKILL: no goodbye to clients) and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    stop = kill


@contextmanager
def redis_process(port: int, directory: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(port, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
