"""fanout: the one reader of the table's stream. Decodes each record into a change envelope and publishes
it to the changes topic; reports undecodable or unpublished records as batch item failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.fanout.processor import decode_record
from prism.fanout.wiring import fanout_processor
from prism.observability import logger, metrics, record_batch, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = fanout_processor()
    response = process_partial_response(event=event, record_handler=decode_record, processor=processor, context=context)
    summary = processor.summary
    record_batch(
        "Fanned out a stream batch",
        summary,
        {
            "StreamRecords": summary.records,
            "EnvelopesPublished": summary.published,
            "ClaimChecksWritten": summary.claim_checked,
            "NonEntityRecordsSkipped": summary.skipped,
            "MalformedRecords": summary.malformed,
            "PublishFailures": summary.publish_failed,
        },
    )
    return response
