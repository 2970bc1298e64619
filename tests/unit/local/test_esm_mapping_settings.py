"""Event source properties from template.yaml: Lambda's defaults, and refusals for what can't be emulated."""

from __future__ import annotations

from typing import Any

import pytest

from prism_local.runtime.esm.mapping_settings import (
    EventSourceConfigError,
    QueueMappingSettings,
    StreamMappingSettings,
    queue_mapping_settings,
    stream_mapping_settings,
)
from prism_local.template.model import EventSource

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"


def stream(**properties: Any) -> StreamMappingSettings:
    return stream_mapping_settings(
        "Fn.Stream", EventSource("Stream", "DynamoDB", {"Stream": STREAM, "StartingPosition": "LATEST", **properties})
    )


def queue(**properties: Any) -> QueueMappingSettings:
    return queue_mapping_settings("Fn.Queue", EventSource("Queue", "SQS", {"Queue": QUEUE, **properties}))


def test_stream_defaults_are_lambdas() -> None:
    settings = stream()

    assert (settings.batch_size, settings.batching_window_s) == (100, 0)
    assert (settings.maximum_retry_attempts, settings.maximum_record_age_s) == (-1, -1)
    assert not settings.bisect_on_error
    assert not settings.report_batch_item_failures
    assert settings.on_failure_destination is None
    assert not settings.event_filter.filters_anything
    assert settings.enabled


def test_the_templates_fanout_stream_settings_are_read() -> None:
    settings = stream(
        StartingPosition="TRIM_HORIZON",
        BatchSize=100,
        MaximumBatchingWindowInSeconds=1,
        ParallelizationFactor=1,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=5,
        MaximumRecordAgeInSeconds=21600,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Type": "SQS", "Destination": QUEUE}},
    )

    assert settings.starting_position == "TRIM_HORIZON"
    assert settings.bisect_on_error
    assert settings.report_batch_item_failures
    assert (settings.maximum_retry_attempts, settings.maximum_record_age_s) == (5, 21600)
    assert settings.on_failure_destination == QUEUE


def test_numbers_and_booleans_may_arrive_as_strings_from_parameters() -> None:
    settings = stream(BatchSize="25", BisectBatchOnFunctionError="true", Enabled="False")

    assert settings.batch_size == 25
    assert settings.bisect_on_error
    assert not settings.enabled


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"StartingPosition": "AT_TIMESTAMP"}, "StartingPosition"),
        ({"StartingPosition": None}, "StartingPosition"),
        ({"BatchSize": 0}, "BatchSize"),
        ({"BatchSize": 10_001}, "BatchSize"),
        ({"BatchSize": "ten"}, "BatchSize"),
        ({"BatchSize": 2.5}, "BatchSize"),
        ({"BatchSize": True}, "BatchSize"),
        ({"MaximumRetryAttempts": -2}, "MaximumRetryAttempts"),
        ({"MaximumRecordAgeInSeconds": 30}, "MaximumRecordAgeInSeconds"),
        ({"MaximumBatchingWindowInSeconds": 301}, "MaximumBatchingWindowInSeconds"),
        ({"BisectBatchOnFunctionError": "yes"}, "BisectBatchOnFunctionError"),
        ({"FunctionResponseTypes": ["Other"]}, "FunctionResponseTypes"),
        ({"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::bucket"}}}, "Destination"),
        ({"TumblingWindowInSeconds": 30}, "TumblingWindowInSeconds"),
        ({"FilterCriteria": {"Filters": [{"Pattern": '{"a": [{"cidr": "x"}]}'}]}}, "cidr"),
    ],
)
def test_unusable_stream_properties_are_refused_naming_the_mapping(properties: dict[str, Any], message: str) -> None:
    with pytest.raises(EventSourceConfigError, match=rf"^Fn\.Stream: .*{message}"):
        stream(**properties)


def test_queue_defaults_are_lambdas() -> None:
    settings = queue()

    assert (settings.batch_size, settings.batching_window_s) == (10, 0)
    assert settings.maximum_concurrency is None
    assert not settings.report_batch_item_failures


def test_queue_scaling_and_batching_are_read() -> None:
    settings = queue(
        BatchSize=50,
        MaximumBatchingWindowInSeconds=2,
        ScalingConfig={"MaximumConcurrency": 5},
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    assert (settings.batch_size, settings.batching_window_s, settings.maximum_concurrency) == (50, 2, 5)
    assert settings.report_batch_item_failures


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"BatchSize": 11}, "MaximumBatchingWindowInSeconds"),
        ({"ScalingConfig": {"MaximumConcurrency": 1}}, "MaximumConcurrency"),
        ({"ScalingConfig": "x"}, "ScalingConfig"),
        ({"Queue": ""}, "Queue"),
    ],
)
def test_unusable_queue_properties_are_refused(properties: dict[str, Any], message: str) -> None:
    with pytest.raises(EventSourceConfigError, match=message):
        queue(**properties)
