"""What the batch functions share: a BatchProcessor whose records can still fail after their handler ran.

Every batch function here works in two phases inside ``process()``: Powertools calls the record handler once
per record (parse; a record that cannot be read fails alone), then the function writes the parsed records in
bulk. A record whose bulk write failed must then be reported as a batch item failure although its handler
succeeded; ``fail_after_handler`` does that.

The queue sinks also fail records the same way: each failure is counted in the sink's summary under the
counter of its error's class, and logged with the SQS message id, before SQS retries the message
(``QueueSinkProcessor``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from aws_lambda_powertools.utilities.batch import BatchProcessor

from prism.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.base import FailureResponse
    from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo


class TwoPhaseBatchProcessor(BatchProcessor):
    """A BatchProcessor whose ``process()`` may turn records that succeeded into failures."""

    def fail_after_handler(self, raw: dict[str, Any], error: Exception) -> FailureResponse:
        """Report ``raw`` (a record whose handler succeeded) as failed with ``error``, through
        ``failure_handler``, so it is counted and logged like any failure."""
        self.drop_success(raw)
        record = self._to_batch_type(record=raw, event_type=self.event_type, model=self.model)
        return self.failure_handler(record=record, exception=(type(error), error, None))

    def drop_success(self, raw: dict[str, Any]) -> None:
        """Forget that ``raw`` succeeded. success_handler keeps the raw record dict (powertools
        batch/base.py), so it is matched by identity."""
        self.success_messages = [m for m in self.success_messages if id(m) != id(raw)]


class QueueSinkProcessor(BatchProcessor):
    """A BatchProcessor for an SQS sink whose every failed record is counted and logged before SQS retries it.

    ``failure_counters`` maps error classes (first match wins) to counter attributes of ``self.summary``;
    anything else counts as ``other_failures``. ``queue_label`` names the queue in the log line.
    """

    queue_label: ClassVar[str]
    failure_counters: ClassVar[tuple[tuple[type[BaseException], str], ...]]
    summary: Any  # the sink's summary dataclass, which has every counter named above and other_failures

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        counter = next((name for kind, name in self.failure_counters if isinstance(error, kind)), "other_failures")
        setattr(self.summary, counter, getattr(self.summary, counter) + 1)
        logger.warning(
            f"{self.queue_label} record failed; reporting it as a batch item failure",
            extra={"message_id": getattr(record, "message_id", None), "error": repr(error)},
        )
        return super().failure_handler(record, exception)
