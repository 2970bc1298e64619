"""Forming stream batches from the records read ahead of one shard. No I/O.

Lambda's batching rules (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, "Polling and batching
streams"): a batch is sent when it holds ``BatchSize`` records, when ``MaximumBatchingWindowInSeconds`` has
passed since its first record, or when it reaches the 6 MB payload limit. Records that fail the filter
criteria are never sent; the checkpoint simply moves past them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prism_local.runtime.esm.stream_outcomes import StreamBatch
from prism_local.runtime.esm.stream_records import MAX_EVENT_BYTES, event_bytes

if TYPE_CHECKING:
    from prism_local.runtime.esm.stream_records import StreamRecord


@dataclass(frozen=True)
class BatchRules:
    batch_size: int
    batching_window_s: float
    max_event_bytes: int = MAX_EVENT_BYTES


class ShardBuffer:
    """Records read from one shard and not yet batched, in stream order, each marked kept or filtered out."""

    def __init__(self, rules: BatchRules) -> None:
        self._rules = rules
        self._entries: deque[tuple[StreamRecord, bool]] = deque()
        self._kept = 0
        self._kept_bytes = 0
        self._window_started = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def kept(self) -> int:
        """How many buffered records pass the filter (and so will be sent)."""
        return self._kept

    @property
    def window_closes_at(self) -> float | None:
        """When the batching window of the kept records ends (monotonic), or None with none buffered."""
        return self._window_started + self._rules.batching_window_s if self._kept else None

    def add(self, record: StreamRecord, *, keep: bool, now: float) -> None:
        if keep:
            if not self._kept:
                self._window_started = now
            self._kept += 1
            self._kept_bytes += record.size
        self._entries.append((record, keep))

    def wants_more(self, *, limit: int) -> bool:
        """Whether reading further helps: the next batch is not full and fewer than ``limit`` records wait."""
        return self._kept < self._rules.batch_size and len(self._entries) < limit

    def take(self, *, now: float, shard_closed: bool) -> tuple[StreamBatch | None, str | None]:
        """The next batch if one is due, else None; and, when no batch is due, the sequence number of the
        last filtered-out record consumed (the caller checkpoints past it, nothing being in flight)."""
        skipped_to: str | None = None
        while self._entries and not self._entries[0][1]:
            skipped_to = self._entries.popleft()[0].sequence_number
        if not self._due(now, shard_closed):
            return None, skipped_to
        records: list[StreamRecord] = []
        size = event_bytes(())
        last = skipped_to
        while self._entries and len(records) < self._rules.batch_size:
            record, keep = self._entries[0]
            if keep:
                if records and size + record.size > self._rules.max_event_bytes:
                    break
                records.append(record)
                size += record.size
                self._kept -= 1
                self._kept_bytes -= record.size
            self._entries.popleft()
            last = record.sequence_number
        self._window_started = now  # the next window begins with this batch (Lambda: when it completes)
        return StreamBatch(tuple(records), checkpoint_after=str(last)), None

    def _due(self, now: float, shard_closed: bool) -> bool:
        if not self._kept:
            return False
        full = self._kept >= self._rules.batch_size
        too_big = event_bytes(()) + self._kept_bytes >= self._rules.max_event_bytes
        window_over = now - self._window_started >= self._rules.batching_window_s
        return full or too_big or window_over or shard_closed
