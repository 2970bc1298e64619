"""Publishing envelopes to the changes topic with PublishBatch, within SNS's limits.

SNS limits a message, and the sum of a PublishBatch request, to 256 KiB (body plus attribute names, types
and values), and a batch to 10 entries. Envelopes over the message limit go to the claim-check store and
the message carries a pointer instead (see ``prism.changes.reader``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from prism.changes import exact_json
from prism.changes.envelope import SCHEMA
from prism.errors import ClaimCheckError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

    from prism.changes.claim_check import ClaimCheckStore
    from prism.changes.envelope import ChangeEvent

SNS_MAX_PAYLOAD_BYTES: Final = 262_144
PUBLISH_BATCH_MAX_ENTRIES: Final = 10


@dataclass(frozen=True)
class PublishFailure:
    """One envelope that was not published; ``index`` is its position in the input."""

    index: int
    code: str
    message: str


@dataclass
class PublishReport:
    published: int = 0
    claim_checked: int = 0
    failures: list[PublishFailure] = field(default_factory=list)


class ChangePublisher(Protocol):
    """Port: publish envelopes; per-envelope failures are reported, never raised."""

    def publish(self, changes: Sequence[ChangeEvent]) -> PublishReport: ...


@dataclass(frozen=True)
class _Message:
    index: int
    body: str
    attributes: dict[str, dict[str, str]]
    size: int


class SnsChangePublisher:
    """ChangePublisher over an SNS topic, with claim checks for envelopes over the size limit."""

    def __init__(self, sns: SNSClient, topic_arn: str, claim_checks: ClaimCheckStore) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._claim_checks = claim_checks

    def publish(self, changes: Sequence[ChangeEvent]) -> PublishReport:
        report = PublishReport()
        messages: list[_Message] = []
        for index, change in enumerate(changes):
            try:
                message, claim_checked = self._message(index, change)
            except ClaimCheckError as exc:
                report.failures.append(PublishFailure(index, "ClaimCheckFailed", str(exc)))
                continue
            report.claim_checked += claim_checked
            messages.append(message)
        for batch in _batches(messages):
            self._publish_batch(batch, report)
        return report

    def _message(self, index: int, change: ChangeEvent) -> tuple[_Message, bool]:
        attributes = change.message_attributes()
        body = change.to_json()
        size = _payload_size(body, attributes)
        if size <= SNS_MAX_PAYLOAD_BYTES:
            return _Message(index, body, attributes, size), False
        claim = self._claim_checks.put(f"{change.entity}/{change.event_id}", body.encode())
        pointer = exact_json.dumps(
            {
                "schema": SCHEMA,
                "claim_check": claim.to_document(),
                "event_id": change.event_id,
                "entity": change.entity,
                "id": change.id,
                "op": change.op.value,
                "version": change.version,
            }
        )
        return _Message(index, pointer, attributes, _payload_size(pointer, attributes)), True

    def _publish_batch(self, batch: list[_Message], report: PublishReport) -> None:
        entries: list[PublishBatchRequestEntryTypeDef] = [
            {"Id": str(m.index), "Message": m.body, "MessageAttributes": m.attributes}  # type: ignore[typeddict-item]
            for m in batch
        ]
        try:
            response = self._sns.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=entries)
        except (ClientError, BotoCoreError) as exc:
            # The whole request failed (throttled, unreachable, ...): every entry in it is a failure.
            code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
            report.failures.extend(PublishFailure(m.index, code, str(exc)) for m in batch)
            return
        report.published += len(response.get("Successful", []))
        for failed in response.get("Failed", []):
            report.failures.append(
                PublishFailure(int(failed["Id"]), failed.get("Code", "Unknown"), failed.get("Message", ""))
            )


def _payload_size(body: str, attributes: dict[str, dict[str, Any]]) -> int:
    size = len(body.encode())
    for name, value in attributes.items():
        size += len(name.encode()) + len(value["DataType"].encode()) + len(str(value["StringValue"]).encode())
    return size


def _batches(messages: list[_Message]) -> Iterator[list[_Message]]:
    """Greedy packing: at most 10 entries and 256 KiB per request, in input order."""
    batch: list[_Message] = []
    size = 0
    for message in messages:
        if batch and (len(batch) == PUBLISH_BATCH_MAX_ENTRIES or size + message.size > SNS_MAX_PAYLOAD_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message.size
    if batch:
        yield batch
