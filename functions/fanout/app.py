"""fanout: the one reader of the table's stream. Decodes each record into a change envelope and publishes
it to the changes topic; reports undecodable or unpublished records as batch item failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.fanout.processor import decode_record
from prism.fanout.wiring import fanout_processor
from prism.observability import logger, metrics, tracer

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
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=summary.records)
    metrics.add_metric(name="EnvelopesPublished", unit=MetricUnit.Count, value=summary.published)
    metrics.add_metric(name="ClaimChecksWritten", unit=MetricUnit.Count, value=summary.claim_checked)
    metrics.add_metric(name="NonEntityRecordsSkipped", unit=MetricUnit.Count, value=summary.skipped)
    metrics.add_metric(name="MalformedRecords", unit=MetricUnit.Count, value=summary.malformed)
    metrics.add_metric(name="PublishFailures", unit=MetricUnit.Count, value=summary.publish_failed)
    logger.info("Fanned out a stream batch", extra={"summary": vars(summary)})
    return response
