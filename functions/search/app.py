"""search: indexes the change envelopes of a search-queue batch into OpenSearch with one bulk request
(external versions, tombstones for deletes); a 409 is success, 429/5xx items are retried with backoff, and
only the records that still fail (or that OpenSearch refuses, or that are malformed) are batch item
failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.observability import logger, metrics, record_batch, tracer
from prism.search.wiring import search_sink_processor

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = search_sink_processor()
    response = process_partial_response(
        event=event, record_handler=processor.parse_record, processor=processor, context=context
    )
    summary = processor.summary
    record_batch(
        "Indexed a search-queue batch",
        summary,
        {
            "SearchChangeRecords": summary.records,
            "SearchDocumentsIndexed": summary.indexed,
            "SearchTombstonesIndexed": summary.tombstones,
            "SearchVersionConflicts": summary.conflicts,
            "SearchItemRetries": summary.retried,
            "SearchDocumentsRejected": summary.rejected,
            "SearchItemsUnavailable": summary.unavailable,
            "MalformedRecords": summary.malformed,
            "ClaimCheckReadFailures": summary.claim_check_failed,
        },
    )
    return response
