"""The search sink: a batch of change envelopes from the search queue -> one bulk request to OpenSearch.

Like the relational and lake sinks, the processor works in two phases inside ``process()``:

1. ``parse_record`` (the record handler) reads each envelope, resolving claim checks. A malformed envelope,
   an unreadable claim check or an entity without an index fails that record only.
2. The parsed changes go to OpenSearch in one bulk request: for each, an ``index`` action into its entity's
   alias, under the entity id, with ``version=<change version>`` and ``version_type=external``. OpenSearch
   keeps a document only when its version is strictly newer than the one it holds, so duplicated, late and
   reordered changes are harmless (DESIGN invariant 3).

Each bulk item's status decides the fate of its record alone:

- 2xx: written.
- 409 (version conflict): OpenSearch already holds this version or a newer one. That is the goal reached, so
  it is success, counted (``conflicts``) and never retried.
- 429 and 5xx, a 403 ``cluster_block_exception`` (a write routed to an index that was just made read-only,
  see ``reindex``), or a bulk request that failed as a whole (connection lost, timeout): retried, only those
  items, a bounded number of times with exponential backoff; what still fails is reported as a batch item
  failure (SearchUnavailableError) and SQS delivers it again later.
- any other 4xx (a 400 ``mapper_parsing_exception``: a value the mapping refuses): the record fails with the
  reason logged (SearchDocumentRejectedError). Retrying cannot help, so SQS's redrive policy moves it to
  SearchDeadLetterQueue after its receives run out.

Why deletes are tombstone documents and not real deletes with a long ``index.gc_deletes``: OpenSearch
remembers the version of a deleted document only for ``index.gc_deletes`` (60 s by default). An update that
arrives later than that (a message retried from the queue, a redriven DLQ, a replay) finds no version to
compare with and brings the deleted item back, and no finite setting rules that out. A tombstone
(``deleted: true``, the delete's version, no data fields) is an ordinary document: its version never
expires, so any older update is a 409 forever, and a re-create (always a newer version) replaces it.
Queries filter on ``deleted: false``; the tombstones cost one small document per deleted key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.batch import EventType
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from prism.batch import QueueSinkProcessor, TwoPhaseBatchProcessor
from prism.changes import exact_json
from prism.changes.envelope import ChangeEvent, Op
from prism.errors import ClaimCheckError, MalformedChangeError
from prism.observability import logger
from prism.search.documents import action, document
from prism.search.errors import SearchDocumentRejectedError, SearchUnavailableError
from prism.search.indices import INDICES

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from opensearchpy import OpenSearch

    from prism.changes.reader import ChangeReader

#: Statuses worth another try: throttling and server-side trouble.
_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})


@dataclass
class SearchSinkSummary:
    """What one invocation did with its batch; the handler turns it into metrics."""

    records: int = 0
    changes: int = 0  # records that parsed into a change
    indexed: int = 0  # documents written (upserts and tombstones)
    tombstones: int = 0  # of which tombstones
    conflicts: int = 0  # 409: OpenSearch already held this version or a newer one (success)
    retried: int = 0  # item retries (429/5xx or a failed bulk request)
    bulk_requests: int = 0
    rejected: int = 0  # refused for good (400)
    unavailable: int = 0  # still 429/5xx after every retry
    malformed: int = 0
    claim_check_failed: int = 0
    other_failures: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed item is sent again, and how long to wait: ``base_delay_s * 2**n``, capped."""

    attempts: int = 4
    base_delay_s: float = 0.1
    max_delay_s: float = 2.0

    def delay(self, retry: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * 2**retry))


@dataclass
class _Pending:
    position: int
    change: ChangeEvent
    raw: dict[str, Any]
    error: str = ""


class SearchSinkProcessor(QueueSinkProcessor, TwoPhaseBatchProcessor):
    """BatchProcessor for search-queue batches; ``parse_record`` is its record handler."""

    queue_label = "Search-queue"
    failure_counters = (
        (SearchUnavailableError, "unavailable"),
        (SearchDocumentRejectedError, "rejected"),
        (MalformedChangeError, "malformed"),
        (ClaimCheckError, "claim_check_failed"),
    )

    def __init__(
        self,
        reader: ChangeReader,
        client: OpenSearch,
        *,
        retry: RetryPolicy | None = None,
        index_prefix: str = "",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # Failures are reported item by item even when all records fail (OpenSearch down): SQS then retries
        # each message on its own and counts its receives toward the DLQ.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._reader = reader
        self._client = client
        self._retry = retry or RetryPolicy()
        self._prefix = index_prefix
        self._sleep = sleep
        self.summary = SearchSinkSummary()

    def parse_record(self, record: SQSRecord) -> ChangeEvent:
        """The change in one record. Raises MalformedChangeError, ClaimCheckError and (for an entity without
        an index) SearchDocumentRejectedError, each of which fails this record only."""
        change = self._reader.read(record.body)
        if change.entity not in INDICES:
            raise SearchDocumentRejectedError(f"entity {change.entity!r} has no search index")
        return change

    def process(self) -> list[tuple[Any, ...]]:
        self.summary = SearchSinkSummary(records=len(self.records))
        results: list[tuple[Any, ...]] = super().process()
        pending = [
            _Pending(position, result[1], result[2])
            for position, result in enumerate(results)
            if result[0] == "success" and isinstance(result[1], ChangeEvent)
        ]
        self.summary.changes = len(pending)
        for attempt in range(self._retry.attempts):
            if not pending:
                break
            if attempt:
                self.summary.retried += len(pending)
                self._sleep(self._retry.delay(attempt - 1))
            pending = self._send(pending, results)
        for item in pending:
            error = SearchUnavailableError(f"{item.change.entity} {item.change.id}: {item.error}")
            results[item.position] = self.fail_after_handler(item.raw, error)
        return results

    def _send(self, pending: list[_Pending], results: list[tuple[Any, ...]]) -> list[_Pending]:
        """One bulk request for ``pending``; returns the items worth another try."""
        lines: list[str] = []
        for item in pending:
            lines.append(exact_json.dumps(action(item.change, self._prefix)))
            lines.append(exact_json.dumps(document(item.change)))
        self.summary.bulk_requests += 1
        try:
            response = self._client.bulk(body="\n".join(lines) + "\n")
        except (OpenSearchConnectionError, TransportError) as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else None
            if status is not None and status not in _RETRYABLE:
                raise  # a request-level 4xx is a bug or a configuration problem; the whole batch is retried
            logger.warning("Bulk request failed; retrying its items", extra={"error": repr(exc)})
            for item in pending:
                item.error = f"bulk request failed: {exc!r}"
            return pending
        retry: list[_Pending] = []
        for item, entry in zip(pending, response["items"], strict=True):
            outcome = entry["index"]
            status = int(outcome["status"])
            if status < 300:
                self.summary.indexed += 1
                self.summary.tombstones += item.change.op is Op.DELETE
            elif status == 409:
                self.summary.conflicts += 1
            elif status in _RETRYABLE or _write_blocked(outcome):
                item.error = f"status {status}: {_reason(outcome)}"
                retry.append(item)
            else:
                error = SearchDocumentRejectedError(
                    f"{item.change.entity} {item.change.id} v{item.change.version}: status {status}: {_reason(outcome)}"
                )
                results[item.position] = self.fail_after_handler(item.raw, error)
        return retry


def _write_blocked(outcome: dict[str, Any]) -> bool:
    """A 403 ``cluster_block_exception``: the index behind the alias is read-only. ``reindex`` freezes the
    old generation right after its alias swap, so a write routed to it just before is sent again, and the
    alias now routes it to the new generation (AWS also blocks writes for a while when disk runs low)."""
    error = outcome.get("error")
    return int(outcome["status"]) == 403 and isinstance(error, dict) and error.get("type") == "cluster_block_exception"


def _reason(outcome: dict[str, Any]) -> str:
    error = outcome.get("error")
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)
