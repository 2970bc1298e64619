"""Sends a change that can never apply to the relational DLQ at once, with the reason beside it.

SQS's redrive would move such a message only after ``maxReceiveCount`` failed receives, and without saying
why. A payload the schema refuses will not improve with retries, so the sink sends the original body here
itself, with message attributes a person (or a redrive tool) can read: the reason, the error type and the
message id it came from. If that send fails, the record is reported as failed instead, so SQS keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from prism.errors import PrismError

if TYPE_CHECKING:
    from collections.abc import Mapping

#: SQS message attribute values are limited in total size with the body; keep the reason readable but bounded.
MAX_REASON_CHARS: Final = 1000


class DeadLetterError(PrismError):
    """The change could not be sent to the DLQ; SQS must keep and retry it."""


class DeadLetters(Protocol):
    def send(self, body: str, *, reason: str, error_type: str, source_message_id: str) -> None: ...


class SqsDeadLetters:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._queue_url = queue_url

    def send(self, body: str, *, reason: str, error_type: str, source_message_id: str) -> None:
        attributes: Mapping[str, Mapping[str, str]] = {
            "prism-error": {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS] or "(no reason)"},
            "prism-error-type": {"DataType": "String", "StringValue": error_type},
            "prism-source-message-id": {"DataType": "String", "StringValue": source_message_id},
        }
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=body, MessageAttributes=attributes)
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterError(f"could not dead-letter message {source_message_id}: {exc}") from exc
