"""A DynamoDB stream event source mapping: reads shards, batches, filters, invokes, checkpoints.

Behaves as Lambda's (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): each shard is read in order
from its checkpoint (or ``StartingPosition``), about four times a second while idle; one batch per shard is in
flight at a time; what follows an invocation is decided by :mod:`stream_outcomes`. A child shard is read only
after its parent is exhausted. One thread serves every shard of the mapping in turn, which is enough for
moto's single shard (ParallelizationFactor is not emulated).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from prism_local.runtime.esm.checkpoints import CheckpointKey
from prism_local.runtime.esm.destinations import OnFailureDestination, stream_invocation_record
from prism_local.runtime.esm.poller_stats import PollerCounters, PollerStats
from prism_local.runtime.esm.stream_batching import BatchRules, ShardBuffer
from prism_local.runtime.esm.stream_outcomes import (
    Discard,
    Invoke,
    RetryPolicy,
    StreamBatch,
    StreamWork,
    decide_after_invocation,
    retry_delay,
    split_expired,
)
from prism_local.runtime.esm.stream_records import lambda_stream_record, stream_event

if TYPE_CHECKING:
    from prism_local.runtime.esm.aws_clients import EventSourceClients
    from prism_local.runtime.esm.checkpoints import CheckpointStore
    from prism_local.runtime.esm.mapping_settings import PollerTiming, StreamMappingSettings
    from prism_local.runtime.invocation import Invoker
    from prism_local.template.model import FunctionSpec

_log = logging.getLogger(__name__)

#: Records read ahead of the batch being processed, at most (bounds memory on a long backlog).
_READ_AHEAD = 10_000


@dataclass
class _Shard:
    """What the poller knows of one shard. Touched only by the poller thread (and read under its lock)."""

    shard_id: str
    parent_id: str | None
    buffer: ShardBuffer
    key: CheckpointKey
    from_trim_horizon: bool  # shards found after the first look start at their beginning
    iterator: str | None = None  # None: (re)acquire from last_read, the checkpoint or the starting position
    last_read: str | None = None
    closed: bool = False  # GetRecords returned no next iterator: the shard will get nothing more
    work: deque[StreamWork] = field(default_factory=deque)
    not_before: float = 0.0  # monotonic; work waits until then (retry backoff)
    next_read_at: float = 0.0
    caught_up: bool = False
    drained_at: float | None = None  # monotonic start of the last read that found nothing left to do
    errors_in_a_row: int = 0

    @property
    def finished(self) -> bool:
        return self.closed and not len(self.buffer) and not self.work


class StreamPoller:
    """One ``Type: DynamoDB`` event of one function, polled on its own thread."""

    def __init__(
        self,
        *,
        mapping: str,
        function: FunctionSpec,
        event_name: str,
        settings: StreamMappingSettings,
        invoker: Invoker,
        clients: EventSourceClients,
        checkpoints: CheckpointStore,
        timing: PollerTiming,
    ) -> None:
        self.mapping = mapping
        self._function = function
        self._event_name = event_name
        self._settings = settings
        self._invoker = invoker
        self._clients = clients
        self._checkpoints = checkpoints
        self._timing = timing
        self._policy = RetryPolicy(
            bisect_on_error=settings.bisect_on_error,
            maximum_retry_attempts=settings.maximum_retry_attempts,
            report_batch_item_failures=settings.report_batch_item_failures,
        )
        destination = settings.on_failure_destination
        self._destination = OnFailureDestination(destination, clients) if destination else None
        self._counters = PollerCounters(
            mapping=mapping,
            function_name=function.function_name,
            source_type="DynamoDB",
            source_arn=settings.stream_arn,
        )
        self._shards: dict[str, _Shard] = {}
        self._finished: set[str] = set()
        self._described_at: float | None = None
        self._next_refresh = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"esm-{mapping}", daemon=True)

    # ------------------------------------------------------------------ lifecycle and reporting
    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Stop after the invocation in flight (if any) and its outcome are handled."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def stats(self) -> PollerStats:
        with self._lock:
            shards = list(self._shards.values())
            caught_up = self._described_at is not None and all(s.caught_up or s.finished for s in shards)
        return self._counters.snapshot(caught_up=caught_up, idle=self._drained_since(0.0))

    def idle_since(self, moment: float) -> bool:
        """True when, after ``moment`` (monotonic), every shard was read and found to hold nothing to do."""
        return self._drained_since(moment)

    def _drained_since(self, moment: float) -> bool:
        with self._lock:
            if self._described_at is None:
                return False
            return all(s.drained_at is not None and s.drained_at >= moment for s in self._shards.values())

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        _log.info("Polling a DynamoDB stream", extra={"mapping": self.mapping, "stream_arn": self._settings.stream_arn})
        errors_in_a_row = 0
        while not self._stop.is_set():
            try:
                busy = self._step()
                errors_in_a_row = 0
            except Exception:  # noqa: BLE001 - the thread must outlive any error: logged, counted, backed off
                errors_in_a_row += 1
                _log.exception("Stream poller error; backing off", extra={"mapping": self.mapping})
                self._counters.add(poller_errors=1)
                self._stop.wait(self._timing.error_delay(errors_in_a_row))
                continue
            if not busy:
                self._stop.wait(self._idle_wait())

    def _step(self) -> bool:
        now = time.monotonic()
        if now >= self._next_refresh:
            self._refresh_shards(now)
        busy = False
        for shard in list(self._shards.values()):
            if self._stop.is_set():
                break
            if shard.parent_id in self._shards:
                continue  # a child waits until its parent is exhausted
            try:
                busy = self._advance(shard) or busy
                shard.errors_in_a_row = 0
            except Exception:  # noqa: BLE001 - one shard's error must not stop the others; logged, counted
                shard.errors_in_a_row += 1
                _log.exception("Shard error; backing off", extra={"mapping": self.mapping, "shard_id": shard.shard_id})
                self._counters.add(poller_errors=1)
                shard.iterator = None  # take a fresh iterator after last_read: the old one may be what failed
                delay = self._timing.error_delay(shard.errors_in_a_row)
                shard.not_before = shard.next_read_at = time.monotonic() + delay
        self._retire_finished_shards()
        return busy

    def _idle_wait(self) -> float:
        now = time.monotonic()
        deadlines = [self._next_refresh]
        for shard in self._shards.values():
            if shard.parent_id in self._shards:
                continue
            deadlines.append(shard.not_before if shard.work else shard.next_read_at)
            window_closes_at = shard.buffer.window_closes_at
            if window_closes_at is not None:
                deadlines.append(window_closes_at)
        return min(max(min(deadlines) - now, 0.01), self._timing.poll_interval_s)

    def _advance(self, shard: _Shard) -> bool:
        """Do the next thing this shard needs (one invocation, discard or read); False when it has to wait."""
        now = time.monotonic()
        if shard.work:
            if now < shard.not_before:
                return False
            self._perform(shard)
            return True
        batch, skipped_to = shard.buffer.take(now=now, shard_closed=shard.closed)
        if batch is not None:
            shard.work.append(Invoke(batch))
            return True
        if skipped_to is not None:
            self._checkpoint(shard, skipped_to)  # records filtered out; nothing is in flight before them
            return True
        if shard.closed or now < shard.next_read_at or not shard.buffer.wants_more(limit=_READ_AHEAD):
            return False
        return self._read(shard, now)

    # ------------------------------------------------------------------ shards
    def _refresh_shards(self, now: float) -> None:
        found: list[dict[str, Any]] = []
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self._settings.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = self._clients.streams.describe_stream(**kwargs)["StreamDescription"]
            found.extend(dict(shard) for shard in description.get("Shards", []))
            start = description.get("LastEvaluatedShardId")
            if not start:
                break
        first_look = self._described_at is None
        with self._lock:
            for shard in found:
                shard_id = shard["ShardId"]
                if shard_id in self._shards or shard_id in self._finished:
                    continue
                key = CheckpointKey(self._function.function_name, self._event_name, self._settings.stream_arn, shard_id)
                buffer = ShardBuffer(BatchRules(self._settings.batch_size, self._settings.batching_window_s))
                self._shards[shard_id] = _Shard(shard_id, shard.get("ParentShardId"), buffer, key, not first_look)
            self._described_at = now
        self._next_refresh = now + self._timing.shard_refresh_s

    def _retire_finished_shards(self) -> None:
        finished = [shard_id for shard_id, shard in self._shards.items() if shard.finished]
        if not finished:
            return
        with self._lock:
            for shard_id in finished:
                del self._shards[shard_id]
                self._finished.add(shard_id)
        self._next_refresh = 0.0  # look for children at once
        _log.info("Shard exhausted", extra={"mapping": self.mapping, "shard_ids": finished})

    def _acquire_iterator(self, shard: _Shard) -> str:
        request: dict[str, Any] = {"StreamArn": self._settings.stream_arn, "ShardId": shard.shard_id}
        resume_after = shard.last_read or self._checkpoints.get(shard.key)
        if resume_after is not None:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=resume_after)
            shard.last_read = resume_after
        elif shard.from_trim_horizon:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request["ShardIteratorType"] = self._settings.starting_position
        return self._clients.streams.get_shard_iterator(**request)["ShardIterator"]

    def _read(self, shard: _Shard, now: float) -> bool:
        if shard.iterator is None:
            shard.iterator = self._acquire_iterator(shard)
        try:
            response = self._clients.streams.get_records(
                ShardIterator=shard.iterator, Limit=min(1000, max(100, self._settings.batch_size))
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            shard.iterator = None  # iterators expire after 15 minutes on AWS; take a new one at once
            return True
        shard.iterator = response.get("NextShardIterator")
        shard.closed = shard.iterator is None
        raw_records = response.get("Records", [])
        if not raw_records:
            shard.caught_up = True
            shard.next_read_at = now + self._timing.poll_interval_s
            with self._lock:
                shard.drained_at = now if not len(shard.buffer) and not shard.work else None
            return False
        filtered = 0
        for raw in raw_records:
            record = lambda_stream_record(dict(raw), stream_arn=self._settings.stream_arn)
            keep = self._settings.event_filter.matches(record.payload)
            filtered += not keep
            shard.buffer.add(record, keep=keep, now=now)
            shard.last_read = record.sequence_number
        self._counters.add(records_read=len(raw_records), records_filtered_out=filtered)
        with self._lock:
            shard.caught_up = False
            shard.drained_at = None
        shard.next_read_at = now  # keep reading while records come
        return True

    # ------------------------------------------------------------------ batches
    def _perform(self, shard: _Shard) -> None:
        work = shard.work[0]
        if isinstance(work, Discard):
            self._discard(shard, work)
            shard.work.popleft()
            self._checkpoint(shard, work.batch.checkpoint_after)
            return
        expired, live = split_expired(
            work.batch, now=time.time(), maximum_record_age_s=self._settings.maximum_record_age_s
        )
        if expired is not None:
            shard.work.popleft()
            if live is not None:
                shard.work.appendleft(Invoke(live))
            shard.work.appendleft(Discard(expired, "RecordAgeExceeded"))
            return
        self._invoke(shard, work.batch)

    def _invoke(self, shard: _Shard, batch: StreamBatch) -> None:
        invocation = self._invoker.invoke(stream_event(batch.records))
        decision = decide_after_invocation(batch, invocation, self._policy)
        shard.work.popleft()
        shard.work.extendleft(reversed(decision.follow_up))
        self._counters.add(
            invocations=1,
            function_errors=int(invocation.failed),
            partial_failures=int(decision.outcome == "partial_failure"),
            records_retried=decision.records_retried,
        )
        if decision.checkpoint is not None:
            self._checkpoint(shard, decision.checkpoint)
        if decision.follow_up and isinstance(decision.follow_up[0], Invoke):
            retries = decision.follow_up[0].batch.retries
            shard.not_before = time.monotonic() + retry_delay(retries, self._timing.retry_backoff_s)
        level = logging.INFO if decision.outcome == "success" else logging.WARNING
        _log.log(
            level,
            "%s: stream batch of %d -> %s %s",
            self.mapping,
            len(batch.records),
            decision.outcome,
            decision.detail,
            extra={
                "mapping": self.mapping,
                "function_name": self._function.function_name,
                "shard_id": shard.shard_id,
                "outcome": decision.outcome,
                "batch_size": len(batch.records),
                "first_sequence_number": batch.records[0].sequence_number,
                "last_sequence_number": batch.records[-1].sequence_number,
                "retries": batch.retries,
                "request_id": invocation.request_id,
                "duration_ms": round(invocation.duration_ms, 1),
                "error_type": (invocation.error or {}).get("errorType"),
                "detail": decision.detail,
            },
        )

    def _discard(self, shard: _Shard, discard: Discard) -> None:
        record = stream_invocation_record(
            discard,
            function_arn=self._function.arn,
            stream_arn=self._settings.stream_arn,
            shard_id=shard.shard_id,
            now=time.time(),
        )
        count = len(discard.batch.records)
        fields = {"mapping": self.mapping, "shard_id": shard.shard_id, "invocation_record": record}
        if self._destination is None:
            # Lambda drops them silently; Prism says so loudly (DESIGN: nothing is lost silently).
            _log.error("%s: %d stream records discarded, no on-failure destination", self.mapping, count, extra=fields)
            self._counters.add(records_discarded=count)
            return
        self._destination.send(record)
        _log.warning(
            "%s: %d stream records sent to %s (%s)",
            self.mapping,
            count,
            self._destination.arn,
            discard.condition,
            extra=fields,
        )
        self._counters.add(records_to_destination=count)

    def _checkpoint(self, shard: _Shard, sequence_number: str) -> None:
        self._checkpoints.put(shard.key, sequence_number)
