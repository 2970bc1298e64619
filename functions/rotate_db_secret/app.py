"""rotate_db_secret: the rotation function of RelationalDbSecret, the password RDS Proxy logs in to Aurora
with. Secrets Manager invokes it once per step (createSecret, setSecret, testSecret, finishSecret) of a
single-user rotation; a step that raises fails the rotation, and AWSCURRENT keeps working."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from prism.observability import logger, metrics, tracer
from prism.relational.rotation import RotationRequest, secret_rotator

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from prism.relational.rotation import StepOutcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> StepOutcome:
    request: RotationRequest | None = None
    completed = False
    try:
        request = RotationRequest.from_event(event)
        outcome = secret_rotator().run(request)
        completed = True
    finally:
        # Counted either way; a failure still propagates: it is what tells Secrets Manager the step failed.
        count_step("SecretRotationStepsCompleted" if completed else "SecretRotationStepsFailed", request)
    return outcome


def count_step(name: str, request: RotationRequest | None) -> None:
    """One ``name`` metric with the step as its dimension ("invalid" for an event that is no rotation request)."""
    metrics.add_dimension(name="Step", value=request.step if request is not None else "invalid")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
