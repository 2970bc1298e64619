"""The invocation record a stream mapping sends to its on-failure destination."""

from __future__ import annotations

from prism_local.runtime.esm.destinations import stream_invocation_record
from prism_local.runtime.esm.stream_outcomes import Discard, StreamBatch
from prism_local.runtime.esm.stream_records import StreamRecord

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:fanout"


def test_the_record_has_lambdas_shape_and_describes_the_batch() -> None:
    records = (StreamRecord("101", 1_700_000_000.9, {}, 1), StreamRecord("103", 1_700_000_002.0, {}, 1))
    discard = Discard(StreamBatch(records, "104", 5, 6), "RetryAttemptsExhausted", "req-1", function_error=True)

    document = stream_invocation_record(
        discard, function_arn=FUNCTION, stream_arn=STREAM, shard_id="shardId-1", now=1_700_000_010.1234
    )

    assert document == {
        "requestContext": {
            "requestId": "req-1",
            "functionArn": FUNCTION,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2023-11-14T22:13:30.123Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": "101",
            "endSequenceNumber": "103",
            "approximateArrivalOfFirstRecord": "2023-11-14T22:13:20Z",
            "approximateArrivalOfLastRecord": "2023-11-14T22:13:22Z",
            "batchSize": 2,
            "streamArn": STREAM,
        },
    }


def test_records_that_expired_unread_have_no_function_error_and_a_fresh_request_id() -> None:
    discard = Discard(StreamBatch((StreamRecord("1", 0.0, {}, 1),), "1"), "RecordAgeExceeded")

    document = stream_invocation_record(discard, function_arn=FUNCTION, stream_arn=STREAM, shard_id="s", now=1.0)

    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert document["requestContext"]["requestId"]
    assert "functionError" not in document["responseContext"]
