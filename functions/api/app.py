"""api: the REST API.

A GET by id whose body is cached is answered first, from the stored bytes, without the Powertools
decorators: on that path they cost more than the Redis GET itself (bench/api_get.py measures both), and the
request stays visible in API Gateway's access log and Lambda's own trace segment. Every other request, and
every miss, goes through the decorated handler: structured logs with the correlation id, tracing, metrics,
then the resolver (validation, routes, error mapping).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from prism.api.request_guard import reject_oversized
from prism.api.wiring import api
from prism.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    cached = api().reads.answer_from_cache(event)
    return cached if cached is not None else resolve(event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    service = api()
    oversized = reject_oversized(event)
    if oversized is not None:
        return oversized
    service.creates.register_lambda_context(context)
    return service.app.resolve(event, context)
