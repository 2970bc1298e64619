"""What the batch functions share: a BatchProcessor whose records can still fail after their handler ran.

Every batch function here works in two phases inside ``process()``: Powertools calls the record handler once
per record (parse; a record that cannot be read fails alone), then the function writes the parsed records in
bulk. A record whose bulk write failed must then be reported as a batch item failure although its handler
succeeded; ``fail_after_handler`` does that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.base import FailureResponse


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
