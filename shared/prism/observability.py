"""The one Logger, Tracer and Metrics of a Prism function, named by POWERTOOLS_SERVICE_NAME.

Every module logs through ``logger`` with structured keys (``logger.info("...", extra={...})``), so a
function's logs, traces and metrics all carry the same service name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def record_batch(message: str, summary: Any, counts: Mapping[str, int]) -> None:
    """What a batch function did with its batch: each count as a metric, the whole summary in one log line."""
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(message, extra={"summary": vars(summary)})
