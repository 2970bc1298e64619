"""cache_sink: applies change envelopes from the cache queue to Redis, each only if newer than what the cache
holds; reports malformed envelopes and changes it could not apply (Redis down) as batch item failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.cache.wiring import cache_sink_processor
from prism.observability import logger, metrics, record_batch, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = cache_sink_processor()
    response = process_partial_response(
        event=event, record_handler=processor.apply_record, processor=processor, context=context
    )
    summary = processor.summary
    record_batch(
        "Applied a cache-queue batch",
        summary,
        {
            "CacheChangeRecords": summary.records,
            "CacheChangesApplied": summary.applied,
            "CacheStaleChangesIgnored": summary.stale,
            "MalformedRecords": summary.malformed,
            "ClaimCheckReadFailures": summary.claim_check_failed,
            "CacheUnavailableFailures": summary.cache_unavailable,
        },
    )
    return response
