"""An SQS event source mapping: long-polls a queue, filters, invokes, deletes what succeeded.

Behaves as Lambda's (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): up to 10 messages per
ReceiveMessage, gathered until ``BatchSize`` or ``MaximumBatchingWindowInSeconds``; as many pollers (and so
concurrent invocations) as ``ScalingConfig.MaximumConcurrency``. Failed messages are simply not deleted: the
queue's visibility timeout and redrive policy (moto implements both; it moves a message to the DLQ on the
receive after its ``maxReceiveCount``-th) do the rest. Messages filtered out are deleted without an invocation,
as Lambda does (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from prism_local.runtime.esm.poller_stats import PollerCounters, PollerStats
from prism_local.runtime.esm.sqs_outcomes import decide_queue_batch
from prism_local.runtime.esm.sqs_records import (
    QueueRecord,
    event_chunks,
    filter_view,
    lambda_sqs_record,
    queue_event,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_sqs.literals import QueueAttributeNameType

    from prism_local.runtime.esm.aws_clients import EventSourceClients
    from prism_local.runtime.esm.mapping_settings import PollerTiming, QueueMappingSettings
    from prism_local.runtime.invocation import Invoker
    from prism_local.template.model import FunctionSpec

_log = logging.getLogger(__name__)
_BACKLOG_ATTRIBUTES: list[QueueAttributeNameType] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


class QueuePoller:
    """One ``Type: SQS`` event of one function, polled by ``concurrency`` threads."""

    def __init__(
        self,
        *,
        mapping: str,
        function: FunctionSpec,
        settings: QueueMappingSettings,
        concurrency: int,
        invoker: Invoker,
        clients: EventSourceClients,
        timing: PollerTiming,
    ) -> None:
        self.mapping = mapping
        self._function = function
        self._settings = settings
        self._invoker = invoker
        self._clients = clients
        self._timing = timing
        self._counters = PollerCounters(
            mapping=mapping, function_name=function.function_name, source_type="SQS", source_arn=settings.queue_arn
        )
        self._lock = threading.Lock()
        self._in_flight = 0
        self._receipts = 0  # receives that returned messages: an empty receive is stale if this moved
        self._drained_at: float | None = None
        self._caught_up = False
        self._queue_url: str | None = None
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"esm-{mapping}-{index}", daemon=True)
            for index in range(concurrency)
        ]

    # ------------------------------------------------------------------ lifecycle and reporting
    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def request_stop(self) -> None:
        """Stop after the current receive (at most ``sqs_long_poll_s``) and any invocation in flight."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0.0))
        return not any(thread.is_alive() for thread in self._threads)

    def stats(self) -> PollerStats:
        with self._lock:
            caught_up = self._caught_up
        return self._counters.snapshot(caught_up=caught_up, idle=self.idle_since(0.0))

    def idle_since(self, moment: float) -> bool:
        """True when a receive begun after ``moment`` (monotonic) found the queue empty, nothing in flight."""
        with self._lock:
            return self._drained_at is not None and self._drained_at >= moment and self._in_flight == 0

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        errors_in_a_row = 0
        while not self._stop.is_set():
            try:
                self._poll_once()
                errors_in_a_row = 0
            except Exception:  # noqa: BLE001 - the thread must outlive any error: logged, counted, backed off
                errors_in_a_row += 1
                _log.exception("Queue poller error; backing off", extra={"mapping": self.mapping})
                self._counters.add(poller_errors=1)
                self._stop.wait(self._timing.error_delay(errors_in_a_row))

    def _poll_once(self) -> None:
        queue_url = self._resolve_queue_url()
        with self._lock:
            receipts_before = self._receipts
        started = time.monotonic()
        messages = self._receive(queue_url)
        if not messages:
            self._note_empty(queue_url, started, receipts_before)
            if self._timing.sqs_long_poll_s == 0:
                self._stop.wait(self._timing.poll_interval_s)  # short polls: don't spin on an empty queue
            return
        with self._lock:
            self._receipts += 1
            self._in_flight += 1
            self._drained_at = None
            self._caught_up = False
        try:
            self._handle(queue_url, messages)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _resolve_queue_url(self) -> str:
        if self._queue_url is None:
            url = self._clients.queue_url(self._settings.queue_arn)
            visibility = self._clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            timeout = int(visibility.get("Attributes", {}).get("VisibilityTimeout", "30"))
            if timeout < self._function.timeout:
                # Lambda advises six times the function timeout; below one, a message still being processed
                # becomes visible again and is received twice.
                _log.warning(
                    "Queue visibility timeout is shorter than the function timeout",
                    extra={"mapping": self.mapping, "visibility_timeout": timeout, "timeout": self._function.timeout},
                )
            self._queue_url = url
        return self._queue_url

    def _receive(self, queue_url: str) -> list[dict[str, Any]]:
        """Gather one batch: long-poll until a message comes, then until BatchSize or the batching window."""
        batch_size = self._settings.batch_size
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while not self._stop.is_set() and len(messages) < batch_size:
            wait = self._timing.sqs_long_poll_s
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(wait, int(remaining))
            response = self._clients.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = [dict(message) for message in response.get("Messages", [])]
            if not received and not messages:
                return []
            messages.extend(received)
            if deadline is None:
                deadline = time.monotonic() + self._settings.batching_window_s
            if not received and wait == 0:
                self._stop.wait(min(self._timing.poll_interval_s, max(deadline - time.monotonic(), 0.0)))
        return messages

    def _note_empty(self, queue_url: str, started: float, receipts_before: int) -> None:
        """After an empty receive: the queue is drained when nothing is visible, delayed or in flight."""
        attributes = self._clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=_BACKLOG_ATTRIBUTES).get(
            "Attributes", {}
        )
        backlog = sum(int(attributes.get(name) or "0") for name in _BACKLOG_ATTRIBUTES)
        with self._lock:
            self._caught_up = True
            if backlog == 0 and self._in_flight == 0 and self._receipts == receipts_before:
                self._drained_at = max(self._drained_at or 0.0, started)
            elif backlog:
                self._drained_at = None

    # ------------------------------------------------------------------ one batch
    def _handle(self, queue_url: str, messages: Sequence[dict[str, Any]]) -> None:
        records = [lambda_sqs_record(message, queue_arn=self._settings.queue_arn) for message in messages]
        event_filter = self._settings.event_filter
        kept: list[QueueRecord] = []
        dropped: list[QueueRecord] = []
        for record in records:
            (kept if event_filter.matches(filter_view(record.payload)) else dropped).append(record)
        self._counters.add(records_read=len(records), records_filtered_out=len(dropped))
        if dropped:
            self._delete(queue_url, dropped)
        for chunk in event_chunks(kept):
            self._invoke(queue_url, chunk)

    def _invoke(self, queue_url: str, records: list[QueueRecord]) -> None:
        invocation = self._invoker.invoke(queue_event(records))
        decision = decide_queue_batch(
            [r.message_id for r in records],
            invocation,
            report_batch_item_failures=self._settings.report_batch_item_failures,
        )
        self._counters.add(
            invocations=1,
            function_errors=int(invocation.failed),
            partial_failures=int(decision.outcome == "partial_failure"),
            records_retried=len(decision.keep),
        )
        done = set(decision.delete)
        if done:
            self._delete(queue_url, [r for r in records if r.message_id in done])
        level = logging.INFO if decision.outcome == "success" else logging.WARNING
        _log.log(
            level,
            "%s: queue batch of %d -> %s %s",
            self.mapping,
            len(records),
            decision.outcome,
            decision.detail,
            extra={
                "mapping": self.mapping,
                "function_name": self._function.function_name,
                "outcome": decision.outcome,
                "batch_size": len(records),
                "deleted": len(decision.delete),
                "left_for_retry": list(decision.keep),
                "request_id": invocation.request_id,
                "duration_ms": round(invocation.duration_ms, 1),
                "error_type": (invocation.error or {}).get("errorType"),
                "detail": decision.detail,
            },
        )

    def _delete(self, queue_url: str, records: Sequence[QueueRecord]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            response = self._clients.sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": r.receipt_handle} for index, r in enumerate(chunk)],
            )
            failed = response.get("Failed", [])
            if failed:
                # Typically a receipt handle that expired because the function outlived the visibility timeout:
                # the message was (or will be) received again, so it is retried, not lost.
                _log.warning(
                    "%s: %d message(s) could not be deleted",
                    self.mapping,
                    len(failed),
                    extra={"mapping": self.mapping, "failures": [dict(f) for f in failed]},
                )
                self._counters.add(poller_errors=1)
