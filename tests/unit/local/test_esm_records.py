"""Records in Lambda's shape: stream records re-encoded from boto3, SQS messages, and what filters see."""

from __future__ import annotations

import base64
import datetime as dt
import json

from prism_local.runtime.esm.sqs_records import QueueRecord, event_chunks, filter_view, lambda_sqs_record
from prism_local.runtime.esm.stream_records import (
    MAX_EVENT_BYTES,
    event_bytes,
    lambda_stream_record,
    stream_event,
)

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:q"


def boto3_stream_record() -> dict[str, object]:
    """What boto3's GetRecords returns against moto: datetimes and bytes, eventVersion 1.0."""
    return {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": dt.datetime(2024, 5, 1, 12, 0, 30, 750_000, tzinfo=dt.UTC),
            "Keys": {"pk": {"S": "a"}, "sk": {"B": b"\x00\x01"}},
            "NewImage": {
                "pk": {"S": "a"},
                "sk": {"B": b"\x00\x01"},
                "set": {"BS": [b"x", b"y"]},
                "nested": {"M": {"blob": {"B": b"z"}, "list": {"L": [{"B": b"w"}, {"N": "1"}]}}},
                "n": {"N": "5"},
            },
            "OldImage": {"pk": {"S": "a"}, "flag": {"BOOL": True}, "none": {"NULL": True}},
            "SequenceNumber": "1100000000017454423010",
            "SizeBytes": 120,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def test_stream_records_are_re_encoded_as_lambda_sends_them() -> None:
    record = lambda_stream_record(boto3_stream_record(), stream_arn=STREAM_ARN)

    payload = record.payload
    dynamodb = payload["dynamodb"]
    assert dynamodb["ApproximateCreationDateTime"] == 1714564830.0  # epoch seconds, rounded down
    assert dynamodb["Keys"]["sk"] == {"B": base64.b64encode(b"\x00\x01").decode()}
    assert dynamodb["NewImage"]["set"] == {"BS": ["eA==", "eQ=="]}
    assert dynamodb["NewImage"]["nested"] == {"M": {"blob": {"B": "eg=="}, "list": {"L": [{"B": "dw=="}, {"N": "1"}]}}}
    assert dynamodb["OldImage"] == {"pk": {"S": "a"}, "flag": {"BOOL": True}, "none": {"NULL": True}}
    assert payload["eventVersion"] == "1.1"
    assert payload["eventSourceARN"] == STREAM_ARN
    assert payload["awsRegion"] == "eu-west-1"
    assert (payload["eventID"], payload["eventName"], payload["eventSource"]) == ("e1", "MODIFY", "aws:dynamodb")
    assert record.sequence_number == "1100000000017454423010"
    assert record.created_at == 1714564830.75
    json.dumps(payload)  # plain JSON, no bytes or datetimes left


def test_the_event_size_bound_covers_the_real_encoding() -> None:
    records = [lambda_stream_record(boto3_stream_record(), stream_arn=STREAM_ARN) for _ in range(3)]

    assert len(json.dumps(stream_event(records)).encode()) <= event_bytes(records)


def boto3_message(message_id: str = "m1", body: str = '{"entity": "order", "n": 3}') -> dict[str, object]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}",
        "MD5OfBody": "md5",
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "MD5OfMessageAttributes": "md5attrs",
        "MessageAttributes": {
            "entity": {"StringValue": "order", "DataType": "String"},
            "blob": {"BinaryValue": b"\x01\x02", "DataType": "Binary"},
        },
    }


def test_sqs_messages_become_lambda_records() -> None:
    record = lambda_sqs_record(boto3_message(), queue_arn=QUEUE_ARN)

    assert record.payload == {
        "messageId": "m1",
        "receiptHandle": "rh-m1",
        "body": '{"entity": "order", "n": 3}',
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {
            "entity": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "blob": {"binaryValue": "AQI=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        },
        "md5OfBody": "md5",
        "md5OfMessageAttributes": "md5attrs",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "eu-west-1",
    }
    assert (record.message_id, record.receipt_handle) == ("m1", "rh-m1")


def test_filters_see_a_json_object_body_decoded_and_anything_else_as_text() -> None:
    as_json = lambda_sqs_record(boto3_message(), queue_arn=QUEUE_ARN).payload
    as_text = lambda_sqs_record(boto3_message(body="plain {text"), queue_arn=QUEUE_ARN).payload
    as_number = lambda_sqs_record(boto3_message(body="42"), queue_arn=QUEUE_ARN).payload

    assert filter_view(as_json)["body"] == {"entity": "order", "n": 3}
    assert filter_view(as_text)["body"] == "plain {text"
    assert (
        filter_view(lambda_sqs_record(boto3_message(body="{broken"), queue_arn=QUEUE_ARN).payload)["body"] == "{broken"
    )
    assert filter_view(as_number)["body"] == "42"
    assert as_json["body"] == '{"entity": "order", "n": 3}', "the function still gets the body as text"


def test_oversized_queue_batches_are_split_in_order_under_the_payload_limit() -> None:
    big = [QueueRecord(f"m{i}", f"rh{i}", {"i": i}, MAX_EVENT_BYTES // 3) for i in range(7)]

    chunks = list(event_chunks(big))

    assert [[r.message_id for r in chunk] for chunk in chunks] == [["m0", "m1"], ["m2", "m3"], ["m4", "m5"], ["m6"]]
    assert list(event_chunks([])) == []
