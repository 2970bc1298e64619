"""The one Logger, Tracer and Metrics of a Prism function, named by POWERTOOLS_SERVICE_NAME.

Every module logs through ``logger`` with structured keys (``logger.info("...", extra={...})``), so a
function's logs, traces and metrics all carry the same service name.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
