"""relational: applies change envelopes from the relational queue to the MySQL projection tables (newest per
key, version-guarded, one transaction per batch); dead-letters changes the schema refuses, with the reason,
and reports changes it could not write (database unavailable) as batch item failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.observability import logger, metrics, record_batch, tracer
from prism.relational.wiring import relational_sink_processor

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = relational_sink_processor()
    response = process_partial_response(
        event=event, record_handler=processor.parse_record, processor=processor, context=context
    )
    summary = processor.summary
    record_batch(
        "Applied a relational-queue batch",
        summary,
        {
            "RelationalChangeRecords": summary.records,
            "RelationalKeysWritten": summary.written,
            "RelationalChangesSuperseded": summary.superseded,
            "RelationalTransactions": summary.transactions,
            "RelationalConnectionsOpened": summary.connections_opened,
            "RelationalChangesDeadLettered": summary.dead_lettered,
            "RelationalUnavailableFailures": summary.unavailable,
            "ClaimCheckReadFailures": summary.claim_check_failed,
        },
    )
    return response
