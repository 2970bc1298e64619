"""lake: writes the change envelopes of a lake-queue batch to the S3 lake, one gzipped NDJSON object per
entity-partition under a key derived from its change ids; reports malformed envelopes, unreadable claim
checks and changes whose object could not be written as batch item failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.lake.wiring import lake_sink_processor
from prism.observability import logger, metrics, record_batch, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = lake_sink_processor()
    response = process_partial_response(
        event=event, record_handler=processor.parse_record, processor=processor, context=context
    )
    summary = processor.summary
    record_batch(
        "Wrote a lake-queue batch",
        summary,
        {
            "LakeChangeRecords": summary.records,
            "LakeObjectsWritten": summary.objects_written,
            "LakeBytesWritten": summary.bytes_written,
            "LakeGroupsFailed": summary.groups_failed,
            "MalformedRecords": summary.malformed,
            "ClaimCheckReadFailures": summary.claim_check_failed,
        },
    )
    return response
