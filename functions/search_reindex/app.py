"""search_reindex: moves search aliases to a new index generation built from the code's current mapping,
while the search sink keeps writing (prism.search.reindex). Invoked by an operator, in the VPC next to the
domain: ``aws lambda invoke --function-name <SearchReindexFunction> --payload '{"entities": ["product"]}'``.
No entities means every entity; a bad request is an error that says what is wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from prism.observability import logger, metrics, tracer
from prism.search.reindex import ReindexRequest, reindex, report_fields
from prism.search.wiring import reindex_client

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: Progress is logged each time a phase passes another tenth of its documents.
_STEPS = 10


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReindexRequest.from_event(event)
    client, prefix = reindex_client()
    logged: dict[tuple[str, str], int] = {}

    def progress(alias: str, phase: str, done: int, total: int) -> None:
        step = _STEPS * done // total if total else _STEPS
        if logged.get((alias, phase), -1) < step:
            logged[(alias, phase)] = step
            logger.info("Reindex progress", extra={"alias": alias, "phase": phase, "done": done, "total": total})

    reports = []
    for entity in request.chosen():
        report = reindex(client, entity, prefix=prefix, delete_old=request.delete_old, progress=progress)
        logger.info("Reindexed", extra=report_fields(report))
        metrics.add_metric(name="SearchDocumentsReindexed", unit=MetricUnit.Count, value=report.verified)
        reports.append(report_fields(report))
    return {"reindexed": reports}
