"""On-failure destinations of stream mappings: the invocation record Lambda sends, and sending it.

The record's shape is Lambda's, from the DynamoDB example in
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-errors.html ("Configuring destinations for failed
invocations"). It describes the discarded records (shard and sequence range); it does not carry them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prism_local.runtime.esm.aws_clients import EventSourceClients
    from prism_local.runtime.esm.stream_outcomes import Discard


class DestinationError(RuntimeError):
    """The invocation record could not be delivered; the records stay unacknowledged and are tried again."""


def stream_invocation_record(
    discard: Discard, *, function_arn: str, stream_arn: str, shard_id: str, now: float
) -> dict[str, Any]:
    """The JSON document Lambda sends to an on-failure destination for discarded stream records."""
    records = discard.batch.records
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if discard.function_error:
        response_context["functionError"] = "Unhandled"
    return {
        "requestContext": {
            "requestId": discard.request_id or str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": discard.condition,
            "approximateInvokeCount": discard.batch.invocations,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": _iso(now, milliseconds=True),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": _iso(records[0].created_at, milliseconds=False),
            "approximateArrivalOfLastRecord": _iso(records[-1].created_at, milliseconds=False),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


class OnFailureDestination:
    """An SQS queue (SendMessage) or SNS topic (Publish), named by its ARN."""

    def __init__(self, arn: str, clients: EventSourceClients) -> None:
        self.arn = arn
        self._clients = clients

    def send(self, invocation_record: Mapping[str, Any]) -> None:
        """Deliver one invocation record; raise DestinationError when the destination does not accept it."""
        body = json.dumps(invocation_record)
        try:
            if self.arn.startswith("arn:aws:sqs:"):
                self._clients.sqs.send_message(QueueUrl=self._clients.queue_url(self.arn), MessageBody=body)
            else:
                self._clients.sns.publish(TopicArn=self.arn, Message=body)
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(f"could not send an invocation record to {self.arn}: {exc}") from exc


def _iso(epoch_s: float, *, milliseconds: bool) -> str:
    moment = dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC)
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")
