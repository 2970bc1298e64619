"""Counters each poller keeps, and the snapshot the runner reports (``EventSourceRunner.stats()``)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class PollerStats:
    """One mapping's activity since the runner started.

    ``caught_up``: the last read of every shard (or queue) found nothing new. ``idle``: caught up, and nothing
    is in flight or waiting for a retry (for a queue: no message is visible, delayed or in flight).
    """

    mapping: str
    function_name: str
    source_type: str  # "DynamoDB" | "SQS"
    source_arn: str
    records_read: int = 0
    records_filtered_out: int = 0
    invocations: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    records_retried: int = 0
    records_to_destination: int = 0
    records_discarded: int = 0  # given up with no on-failure destination (logged, never silent)
    poller_errors: int = 0  # unexpected errors of the poller itself (logged with their traceback)
    last_activity: float | None = None  # epoch seconds of the last record read or invocation
    caught_up: bool = False
    idle: bool = False


_COUNTERS = tuple(field.name for field in fields(PollerStats) if field.type == "int")


class PollerCounters:
    """Thread-safe counters behind one :class:`PollerStats`."""

    def __init__(self, *, mapping: str, function_name: str, source_type: str, source_arn: str) -> None:
        self._template = PollerStats(
            mapping=mapping, function_name=function_name, source_type=source_type, source_arn=source_arn
        )
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._last_activity: float | None = None
        self._lock = threading.Lock()

    def add(self, **increments: int) -> None:
        """Add to named counters (``records_read=3``); an unknown name is a programming error.

        Anything but ``poller_errors`` also counts as activity.
        """
        with self._lock:
            for name, amount in increments.items():
                if name not in self._counts:
                    raise KeyError(f"no counter named {name!r}")
                self._counts[name] += amount
            if set(increments) - {"poller_errors"}:
                self._last_activity = time.time()

    def snapshot(self, *, caught_up: bool, idle: bool) -> PollerStats:
        with self._lock:
            counts = dict(self._counts)
            last_activity = self._last_activity
        changes: dict[str, Any] = {**counts, "last_activity": last_activity, "caught_up": caught_up, "idle": idle}
        return replace(self._template, **changes)
