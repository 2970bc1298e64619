"""A MariaDB failover for the relational sink's tests and benchmark: a private stack whose MariaDB may be
killed, the kill -9 and restart of it (same data dir, same port), and the relational queue in front of the real
sink, drained as Lambda's SQS event source drains it.

The stack is a whole one of its own (moto, MariaDB, Redis, osmem in a state dir of its own, on free ports), so
killing its MariaDB never disturbs the session's servers or another test's stack.
"""

from __future__ import annotations

import collections
import itertools
import os
import random
import signal
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pymysql
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.relational.sink import SAFETY_MARGIN_S
from prism_local.config import LocalConfig, Ports
from prism_local.runtime.worker import LocalLambdaContext
from prism_local.stack.control import stack_down, stack_up
from prism_local.stack.lifecycle import LocalStack
from prism_local.stack.processes import process_exited
from tests.support.functions import queue_event_source
from tests.support.ports import free_port
from tests.support.relational import change, sink_environment

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from prism.changes.envelope import ChangeEvent
    from prism.relational.sink import RelationalSinkProcessor
    from prism_local.runtime.esm.mapping_settings import QueueMappingSettings

RELATIONAL_FUNCTION = "RelationalFunction"
#: How often the database is polled for accepting connections again after its restart.
ACCEPT_POLL_INTERVAL_S = 0.01


# ---------------------------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class PrivateStack:
    """A provisioned local stack of its own; ``servers`` restarts what is missing (``servers.up()``)."""

    config: LocalConfig
    servers: LocalStack


@contextmanager
def private_stack(state_dir: Path | None = None) -> Iterator[PrivateStack]:
    """Start every private server in ``state_dir`` (a temporary directory when None) on free ports, provision
    template.yaml into it, and stop them all again on the way out, whatever happened."""
    with _state_directory(state_dir) as directory:
        config = LocalConfig(
            state_dir=directory,
            ports=Ports(moto=free_port(), mariadb=free_port(), redis=free_port(), osmem=free_port()),
            stack_name=f"fo{uuid.uuid4().hex[:8]}",
        )
        servers = LocalStack(config)
        try:
            servers.up()
            stack_up(config)
            yield PrivateStack(config, servers)
        finally:
            stack_down(config)


@contextmanager
def _state_directory(state_dir: Path | None) -> Iterator[Path]:
    if state_dir is not None:
        yield state_dir
        return
    with tempfile.TemporaryDirectory(prefix="prism-failover-") as directory:
        yield Path(directory)


@contextmanager
def private_stack_sink(stack: PrivateStack) -> Iterator[RelationalSinkProcessor]:
    """The real sink on ``stack``, built by ``sink_environment`` from its RelationalFunction environment."""
    with sink_environment(stack.config) as processor:
        yield processor


def relational_event_source(config: LocalConfig) -> QueueMappingSettings:
    """RelationalFunction's SQS event source as template.yaml declares it (BatchSize, batching window)."""
    return queue_event_source(config, RELATIONAL_FUNCTION)


# ---------------------------------------------------------------------------------------------- the failover


@dataclass(frozen=True)
class Failover:
    """When MariaDB went down and came back, in ``time.monotonic()`` seconds."""

    killed_pid: int
    killed_at: float  # SIGKILL sent
    restart_began_at: float  # LocalStack.up() called, after the downtime
    accepting_at: float  # start of the first root TCP connect that succeeded (polled every 10 ms)
    ready_at: float  # LocalStack.up() returned: the server passed its readiness checks
    restarted_pid: int


def mariadb_pid(servers: LocalStack) -> int:
    """The pid of the stack's running mariadbd, from its pid file (checked to still be our mariadbd)."""
    status = servers.status().server("mariadb")
    if status.pid is None or not status.ready:
        raise AssertionError(f"mariadb is not running and ready: {status}")
    return status.pid


def kill_and_restart_mariadb(stack: PrivateStack, *, down_for_s: float = 1.0) -> Failover:
    """``kill -9`` the stack's mariadbd, wait ``down_for_s``, then start it again on the same data dir and port
    (``LocalStack.up()`` restarts the servers that are missing), while polling a root TCP connect every 10 ms
    to see when it accepts connections again."""
    pid = mariadb_pid(stack.servers)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    deadline = killed_at + 10
    while not process_exited(pid):  # reaps it: LocalStack.up() started it in this process
        if time.monotonic() > deadline:
            raise AssertionError(f"mariadbd {pid} still runs 10 s after SIGKILL")
        time.sleep(0.005)
    time.sleep(down_for_s)

    poller = AcceptPoller(stack.config)
    poller.start()
    restart_began_at = time.monotonic()
    try:
        stack.servers.up()
        ready_at = time.monotonic()
    finally:
        accepting_at = poller.wait(timeout=30)
    restarted = mariadb_pid(stack.servers)
    if restarted == pid:
        raise AssertionError(f"mariadbd {pid} was not restarted")
    return Failover(pid, killed_at, restart_began_at, accepting_at, ready_at, restarted)


class AcceptPoller(threading.Thread):
    """Connects as root over TCP every 10 ms until one login succeeds; ``wait()`` says when that one began."""

    def __init__(self, config: LocalConfig) -> None:
        super().__init__(name="mariadb-accept-poller", daemon=True)
        self._host, self._port = config.host, config.ports.mariadb
        self._stop = threading.Event()
        self.accepting_at: float | None = None
        self.attempts = 0

    def run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.attempts += 1
            try:
                connection = pymysql.connect(
                    host=self._host, port=self._port, user="root", password="", connect_timeout=1
                )
            except (pymysql.MySQLError, OSError):
                self._stop.wait(max(0.0, ACCEPT_POLL_INTERVAL_S - (time.monotonic() - began)))
                continue
            connection.close()
            self.accepting_at = began
            return

    def wait(self, timeout: float) -> float:
        self.join(timeout)
        self._stop.set()
        self.join(5)
        if self.accepting_at is None:
            raise AssertionError(f"MariaDB did not accept a root login within {timeout} s ({self.attempts} tries)")
        return self.accepting_at


def recovery_s(failover: Failover, write_times: Iterable[float]) -> float:
    """From MariaDB accepting connections again to the end of the sink's first invocation that committed
    after the restart began (an invocation that committed just before the kill may end just after it)."""
    after = [t for t in write_times if t > failover.restart_began_at]
    if not after:
        raise AssertionError("the sink committed nothing after MariaDB was restarted")
    return min(after) - failover.accepting_at


# ---------------------------------------------------------------------------------------------- the queue


@dataclass
class DeliveryStats:
    """What the queue saw while the sink drained it."""

    invocations: int = 0
    delivered: int = 0  # messages handed to the sink, re-deliveries included
    redelivered: int = 0  # messages handed again after the sink reported them failed
    failed_invocations: int = 0  # invocations that reported at least one batch item failure
    max_receive_count: int = 0
    connections_opened: int = 0
    dead_lettered: int = 0
    unavailable: int = 0
    write_times: list[float] = field(default_factory=list)  # monotonic end of each invocation that committed


@dataclass
class _Message:
    message_id: str
    body: str
    receive_count: int = 0


class RelationalQueueFeed:
    """The relational queue in front of the real sink, drained as Lambda's SQS event source drains it.

    ``send`` enqueues envelopes; ``start`` runs the poller in a thread and ``close`` waits until it has
    drained the queue: batches of up to ``batch_size`` messages, gathered for up to ``batching_window_s``,
    each handed to the sink through ``process_partial_response``. Messages the sink reports as failed come
    back in a later batch with their receive count raised, as SQS re-delivers them (here without waiting out
    the visibility timeout), until they succeed. ``budget_s`` sets the sink's time budget per batch through a
    Lambda context (``None``: no context, the sink's default budget, as in tests and benchmarks).
    """

    def __init__(
        self,
        processor: RelationalSinkProcessor,
        *,
        batch_size: int,
        batching_window_s: float = 1.0,
        budget_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._processor = processor
        self._batch_size = batch_size
        self._window_s = batching_window_s
        self._budget_s = budget_s
        self._clock = clock
        self._queue: collections.deque[_Message] = collections.deque()
        self._in_flight = 0
        self._condition = threading.Condition()
        self._closing = False
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.stats = DeliveryStats()

    def send(self, bodies: Iterable[str]) -> None:
        with self._condition:
            self._queue.extend(_Message(f"m-{next(self._ids)}-{uuid.uuid4().hex[:8]}", body) for body in bodies)
            self._condition.notify_all()

    @property
    def backlog(self) -> int:
        """Messages not yet handled for good (queued, or in the batch being processed)."""
        with self._condition:
            return len(self._queue) + self._in_flight

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_in_thread, name="relational-queue-poller", daemon=True)
        self._thread.start()

    def close(self, timeout: float) -> None:
        """Stop polling once every message sent so far has succeeded; raise what the poller raised, or
        AssertionError when it has not drained the queue within ``timeout``."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        if self._thread is None:
            raise AssertionError("the feed was never started")
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the queue was not drained within {timeout} s ({self.backlog} messages left)")
        if self.error is not None:
            raise self.error

    def _run_in_thread(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # handed to close(), which re-raises it in the test's thread
            self.error = exc

    def _run(self) -> None:
        while (batch := self._receive()) is not None:
            failed = self._invoke(batch)
            with self._condition:
                self._queue.extendleft(reversed(failed))  # visible again first, as after their timeout
                self._in_flight = 0
                self._condition.notify_all()

    def _receive(self) -> list[_Message] | None:
        """The next batch: wait for a first message, then up to the batching window for a full batch.
        None once closing and nothing is left."""
        with self._condition:
            while not self._queue:
                if self._closing:
                    return None
                self._condition.wait(0.1)
            window_ends = self._clock() + self._window_s
            while len(self._queue) < self._batch_size and not self._closing:
                remaining = window_ends - self._clock()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            self._in_flight = len(batch)
        for message in batch:
            message.receive_count += 1
        return batch

    def _invoke(self, batch: list[_Message]) -> list[_Message]:
        records = [_sqs_record(message) for message in batch]
        processor = self._processor
        response = process_partial_response(
            {"Records": records}, processor.parse_record, processor, context=self._context()
        )
        finished = self._clock()
        failed_ids = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        summary, stats = processor.summary, self.stats
        stats.invocations += 1
        stats.delivered += len(batch)
        stats.redelivered += sum(1 for message in batch if message.receive_count > 1)
        stats.max_receive_count = max(stats.max_receive_count, *(message.receive_count for message in batch))
        stats.connections_opened += summary.connections_opened
        stats.dead_lettered += summary.dead_lettered
        stats.unavailable += summary.unavailable
        if summary.transactions:
            stats.write_times.append(finished)
        if failed_ids:
            stats.failed_invocations += 1
        return [message for message in batch if message.message_id in failed_ids]

    def _context(self) -> LambdaContext | None:
        if self._budget_s is None:
            return None
        remaining_ms = int((self._budget_s + SAFETY_MARGIN_S) * 1000)
        # The local runtime's context: the attributes Lambda's runtime gives, which the sink reads the time from.
        return cast("LambdaContext", LocalLambdaContext(str(uuid.uuid4()), int(time.time() * 1000) + remaining_ms))


def _sqs_record(message: _Message) -> dict[str, Any]:
    """The record Lambda hands over for ``message`` on its ``receive_count``-th receive."""
    return {
        "messageId": message.message_id,
        "receiptHandle": f"AQEB{uuid.uuid4().hex}",
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receive_count),
            "SentTimestamp": "1795420802000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1795420802100",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:prism-local-RelationalQueue",
        "awsRegion": "us-east-1",
    }


# ---------------------------------------------------------------------------------------------- the stream


class ChangeStream:
    """Changes as a busy API makes them: mostly new keys, then updates and deletes of earlier ones, sometimes
    two changes of one key close together. Every change made is kept, for ``expected_projection``."""

    KINDS = ("customer", "product", "order")

    def __init__(self, prefix: str, *, seed: int = 7) -> None:
        self._prefix = prefix
        self._random = random.Random(seed)
        self._versions: dict[tuple[str, str], int] = {}
        self._live: list[tuple[str, str]] = []
        self._serial = itertools.count(1)
        self.changes: list[ChangeEvent] = []

    @property
    def ids(self) -> list[str]:
        return [entity_id for _, entity_id in self._versions]

    def next_changes(self, count: int) -> list[ChangeEvent]:
        made = [self._next() for _ in range(count)]
        self.changes.extend(made)
        return made

    def _next(self) -> ChangeEvent:
        roll = self._random.random()
        if roll < 0.6 or len(self._live) < 20:
            kind = self.KINDS[next(self._serial) % len(self.KINDS)]
            key = (kind, f"{self._prefix}-{kind[0]}{next(self._serial)}")
            self._live.append(key)
            return self._write(key, deleted=False)
        key = self._random.choice(self._live[-400:])  # recent keys: some change twice in one batch
        deleted = roll > 0.95
        if deleted:
            self._live.remove(key)
        return self._write(key, deleted=deleted)

    def _write(self, key: tuple[str, str], *, deleted: bool) -> ChangeEvent:
        version = self._versions.get(key, self._random.randint(1, 1000)) + self._random.randint(1, 3)
        self._versions[key] = version
        return change(key[0], key[1], version, deleted=deleted)


class SteadyProducer(threading.Thread):
    """Sends ``per_tick`` new changes from ``stream`` to ``feed`` every ``tick_s``, until ``stop()``."""

    def __init__(self, stream: ChangeStream, feed: RelationalQueueFeed, *, per_tick: int, tick_s: float) -> None:
        super().__init__(name="change-producer", daemon=True)
        self._stream, self._feed = stream, feed
        self._per_tick, self._tick_s = per_tick, tick_s
        self._stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            next_tick = time.monotonic()
            while not self._stopped.is_set():
                self._feed.send(c.to_json() for c in self._stream.next_changes(self._per_tick))
                next_tick += self._tick_s
                self._stopped.wait(max(0.0, next_tick - time.monotonic()))
        except BaseException as exc:  # handed to stop(), which re-raises it in the test's thread
            self.error = exc

    def stop(self) -> None:
        self._stopped.set()
        self.join(10)
        if self.error is not None:
            raise self.error
