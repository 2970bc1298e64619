"""migrate: the CloudFormation custom resource RelationalMigrations. Create and Update apply the pending
relational schema migrations; Delete keeps the schema and its data. Every request is answered on its
ResponseURL, SUCCESS or FAILED with the reason; the response is also the return value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from prism.observability import logger, metrics, tracer
from prism.relational.custom_resource import answer, schema_migrator

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from prism.relational.custom_resource import CustomResourceResponse


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> CustomResourceResponse:
    response = answer(event, context, migrator=schema_migrator)
    metrics.add_metric(name="SchemaMigrationsApplied", unit=MetricUnit.Count, value=response["Data"].get("Count", 0))
    metrics.add_metric(
        name="SchemaMigrationRequestsFailed", unit=MetricUnit.Count, value=int(response["Status"] == "FAILED")
    )
    return response
