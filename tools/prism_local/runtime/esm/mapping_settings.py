"""The event-source properties of template.yaml, checked once and turned into typed settings.

Defaults and limits are Lambda's, from the parameter tables of
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html and
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html. A property Prism cannot emulate
faithfully is an error here, when the runner is built, not a surprise at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from prism_local.runtime.esm.filtering import EventFilter, FilterCriteriaError, compile_filter_criteria

if TYPE_CHECKING:
    from prism_local.template.model import EventSource

_log = logging.getLogger(__name__)

#: Read for every source (Enabled), or changing nothing locally (filter encryption, metrics, pollers, tags).
_COMMON_KEYS = frozenset({"Enabled", "KmsKeyArn", "MetricsConfig", "ProvisionedPollerConfig", "Tags"})
_STREAM_KEYS = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "ParallelizationFactor",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "FunctionResponseTypes",
        "DestinationConfig",
        "FilterCriteria",
    }
)
_QUEUE_KEYS = frozenset(
    {
        "Queue",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FunctionResponseTypes",
        "FilterCriteria",
        "ScalingConfig",
    }
)


class EventSourceConfigError(ValueError):
    """An event source's properties are invalid or cannot be emulated; the message names the mapping."""


@dataclass(frozen=True)
class StreamMappingSettings:
    """A DynamoDB event source, as Lambda would run it."""

    stream_arn: str
    starting_position: Literal["TRIM_HORIZON", "LATEST"]
    batch_size: int = 100
    batching_window_s: float = 0.0
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: retry until the record expires (never, in moto)
    maximum_record_age_s: int = -1  # -1: no age limit
    report_batch_item_failures: bool = False
    on_failure_destination: str | None = None  # an SQS queue or SNS topic ARN
    event_filter: EventFilter = field(default_factory=EventFilter)
    enabled: bool = True


@dataclass(frozen=True)
class QueueMappingSettings:
    """An SQS event source, as Lambda would run it. ``maximum_concurrency`` None: the runner's default."""

    queue_arn: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    event_filter: EventFilter = field(default_factory=EventFilter)
    enabled: bool = True


def stream_mapping_settings(mapping: str, source: EventSource) -> StreamMappingSettings:
    """Read a ``Type: DynamoDB`` event; raise EventSourceConfigError naming ``mapping`` when it is unusable."""
    if "TumblingWindowInSeconds" in source.properties:
        # Tumbling windows change the event and the response (state, isFinalInvokeForWindow): not emulated.
        raise EventSourceConfigError(f"{mapping}: TumblingWindowInSeconds is not emulated locally")
    props = _Properties(mapping, source.properties)
    props.warn_unknown(_STREAM_KEYS)
    position = props.text("StartingPosition")
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise EventSourceConfigError(f"{mapping}: StartingPosition must be TRIM_HORIZON or LATEST, not {position}")
    parallelization = props.integer("ParallelizationFactor", default=1, low=1, high=10)
    if parallelization > 1:
        _log.warning(
            "ParallelizationFactor is not emulated; each shard is read by one poller",
            extra={"mapping": mapping, "parallelization_factor": parallelization},
        )
    max_age = props.integer("MaximumRecordAgeInSeconds", default=-1, low=-1, high=604_800)
    if 0 <= max_age < 60:
        raise EventSourceConfigError(f"{mapping}: MaximumRecordAgeInSeconds is -1 or 60..604800, not {max_age}")
    return StreamMappingSettings(
        stream_arn=props.text("Stream"),
        starting_position="TRIM_HORIZON" if position == "TRIM_HORIZON" else "LATEST",
        batch_size=props.integer("BatchSize", default=100, low=1, high=10_000),
        batching_window_s=props.integer("MaximumBatchingWindowInSeconds", default=0, low=0, high=300),
        bisect_on_error=props.boolean("BisectBatchOnFunctionError", default=False),
        maximum_retry_attempts=props.integer("MaximumRetryAttempts", default=-1, low=-1, high=10_000),
        maximum_record_age_s=max_age,
        report_batch_item_failures=props.report_batch_item_failures(),
        on_failure_destination=props.on_failure_destination(),
        event_filter=props.event_filter(),
        enabled=props.boolean("Enabled", default=True),
    )


def queue_mapping_settings(mapping: str, source: EventSource) -> QueueMappingSettings:
    """Read a ``Type: SQS`` event; raise EventSourceConfigError naming ``mapping`` when it is unusable."""
    props = _Properties(mapping, source.properties)
    props.warn_unknown(_QUEUE_KEYS)
    batch_size = props.integer("BatchSize", default=10, low=1, high=10_000)
    window = props.integer("MaximumBatchingWindowInSeconds", default=0, low=0, high=300)
    if batch_size > 10 and window < 1:
        # Lambda rejects this combination: batches above 10 messages need a batching window.
        raise EventSourceConfigError(
            f"{mapping}: BatchSize {batch_size} > 10 needs MaximumBatchingWindowInSeconds >= 1"
        )
    scaling = props.mapping("ScalingConfig")
    concurrency = None
    if scaling is not None and scaling.get("MaximumConcurrency") is not None:
        concurrency = _Properties(f"{mapping}.ScalingConfig", scaling).integer(
            "MaximumConcurrency", default=2, low=2, high=1000
        )
    return QueueMappingSettings(
        queue_arn=props.text("Queue"),
        batch_size=batch_size,
        batching_window_s=window,
        report_batch_item_failures=props.report_batch_item_failures(),
        maximum_concurrency=concurrency,
        event_filter=props.event_filter(),
        enabled=props.boolean("Enabled", default=True),
    )


class _Properties:
    """Typed reads of resolved CloudFormation properties (numbers may arrive as strings from parameters)."""

    def __init__(self, mapping: str, properties: Mapping[str, Any]) -> None:
        self._mapping = mapping
        self._properties = properties

    def warn_unknown(self, known: frozenset[str]) -> None:
        unknown = sorted(set(self._properties) - known - _COMMON_KEYS)
        if unknown:
            _log.warning(
                "Event source properties not emulated locally are ignored",
                extra={"mapping": self._mapping, "properties": unknown},
            )

    def text(self, key: str) -> str:
        """A required, non-empty string."""
        value = self._properties.get(key)
        if not isinstance(value, str) or not value:
            raise EventSourceConfigError(f"{self._mapping}: {key} must be a non-empty string, not {value!r}")
        return value

    def integer(self, key: str, *, default: int, low: int, high: int) -> int:
        value = self._properties.get(key)
        if value is None:
            return default
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or str(number) != str(value).strip():
            raise EventSourceConfigError(f"{self._mapping}: {key} must be an integer, not {value!r}")
        if not low <= number <= high:
            raise EventSourceConfigError(f"{self._mapping}: {key} must be within {low}..{high}, not {number}")
        return number

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._properties.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise EventSourceConfigError(f"{self._mapping}: {key} must be true or false, not {value!r}")

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self._properties.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise EventSourceConfigError(f"{self._mapping}: {key} must be a mapping, not {value!r}")
        return value

    def report_batch_item_failures(self) -> bool:
        types = self._properties.get("FunctionResponseTypes") or []
        if not isinstance(types, list) or any(t != "ReportBatchItemFailures" for t in types):
            raise EventSourceConfigError(
                f"{self._mapping}: FunctionResponseTypes may only list ReportBatchItemFailures, not {types!r}"
            )
        return bool(types)

    def on_failure_destination(self) -> str | None:
        config = self.mapping("DestinationConfig") or {}
        on_failure = config.get("OnFailure") or {}
        destination = on_failure.get("Destination") if isinstance(on_failure, Mapping) else None
        if destination is None:
            return None
        if not isinstance(destination, str) or not destination.startswith(("arn:aws:sqs:", "arn:aws:sns:")):
            # Lambda takes a standard SQS queue or SNS topic here (S3 is for Kafka sources only).
            raise EventSourceConfigError(
                f"{self._mapping}: DestinationConfig.OnFailure.Destination must be an SQS queue or SNS topic "
                f"ARN, not {destination!r}"
            )
        return destination

    def event_filter(self) -> EventFilter:
        try:
            return compile_filter_criteria(self._properties.get("FilterCriteria"))
        except FilterCriteriaError as exc:
            raise EventSourceConfigError(f"{self._mapping}: {exc}") from exc


@dataclass(frozen=True)
class PollerTiming:
    """How often the pollers look and how long they wait; tests shrink these to run fast.

    ``poll_interval_s`` is Lambda's base rate for an idle shard (4 reads a second, from
    https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html). ``retry_backoff_s`` is the first delay before
    retrying a failed stream batch (doubling per retry, up to 32x). ``sqs_long_poll_s`` is the ReceiveMessage
    wait, kept short so a stop is prompt. ``error_backoff_s`` follows an unexpected poller error, doubling
    while the errors go on (up to 32x), so a missing table or queue is reported without flooding the log.
    """

    poll_interval_s: float = 0.25
    retry_backoff_s: float = 1.0
    error_backoff_s: float = 1.0
    sqs_long_poll_s: int = 1
    shard_refresh_s: float = 10.0

    def error_delay(self, consecutive_errors: int) -> float:
        """How long to back off after the ``consecutive_errors``-th unexpected error in a row."""
        return float(self.error_backoff_s * 2 ** min(max(consecutive_errors - 1, 0), 5))
