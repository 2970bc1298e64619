"""Every DynamoDB call the store makes, and the one place where pynamodb and botocore errors are translated.

A refused condition becomes ``WriteRefused``, naming which of the written items refused, for the entity code
to turn into the right domain error; throttling and unreachable endpoints become StoreUnavailableError;
anything else (a bug, a missing table) propagates unchanged, because no client retry would fix it.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from prism.domain.errors import ConflictError, StoreUnavailableError
from prism.store.items import KeyedItem

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from pynamodb.connection import Connection
    from pynamodb.expressions.condition import Condition
    from pynamodb.pagination import ResultIterator

    from prism.store.keys import Key

ModelT = TypeVar("ModelT", bound=Model)
KeyedT = TypeVar("KeyedT", bound=KeyedItem)

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_TRANSACTION_CANCELED: Final = "TransactionCanceledException"
_TRANSIENT_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_TRANSIENT_REASONS: Final = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
TRANSACTION_ATTEMPTS: Final = 4


class WriteRefused(Exception):
    """A conditional write was refused; ``refused`` holds the labels of the items whose condition failed."""

    def __init__(self, refused: Iterable[str]) -> None:
        self.refused = frozenset(refused)
        super().__init__(f"condition failed for: {', '.join(sorted(self.refused)) or 'unknown'}")


@dataclass(frozen=True)
class Put:
    item: Model
    condition: Condition
    label: str


@dataclass(frozen=True)
class Delete:
    item: Model
    condition: Condition
    label: str


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn transient vendor failures into StoreUnavailableError; let the rest through unchanged."""
    try:
        yield
    except PynamoDBException as exc:
        if isinstance(exc.cause, BotoCoreError) or exc.cause_response_code in _TRANSIENT_CODES:
            raise StoreUnavailableError(
                "the database is busy or cannot be reached; retry in a moment",
                details={"reason": exc.cause_response_code or type(exc.cause).__name__},
            ) from exc
        raise


def read(model: type[ModelT], key: Key) -> ModelT | None:
    """The item at ``key`` (tombstones included), read consistently, or None."""
    with translated_errors():
        try:
            return model.get(key.pk, key.sk, consistent_read=True)
        except model.DoesNotExist:
            return None


def read_many(model: type[KeyedT], keys: Sequence[Key]) -> dict[str, KeyedT]:
    """The items found at ``keys`` (tombstones included), by partition key, read consistently."""
    with translated_errors():
        return {item.pk: item for item in model.batch_get([(key.pk, key.sk) for key in keys], consistent_read=True)}


def put(item: Model, condition: Condition, label: str) -> None:
    """Write ``item`` whole if ``condition`` holds; otherwise raise WriteRefused({label})."""
    with translated_errors():
        try:
            item.save(condition=condition)
        except PynamoDBException as exc:
            if exc.cause_response_code == _CONDITION_FAILED:
                raise WriteRefused({label}) from exc
            raise


def transact(connection: Connection, operations: Sequence[Put | Delete]) -> None:
    """Apply ``operations`` all or none (TransactWriteItems); raise WriteRefused naming the failed conditions.

    A transaction cancelled only because another one touched the same items (TransactionConflict) is retried
    a few times with jitter, so that concurrent requests get a definite answer rather than a spurious one.
    """
    # pynamodb sends deletes before puts; cancellation reasons come back in that order.
    ordered = [op for op in operations if isinstance(op, Delete)] + [op for op in operations if isinstance(op, Put)]
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with translated_errors():
                _commit(connection, ordered)
            return
        except TransactWriteError as exc:
            if exc.cause_response_code != _TRANSACTION_CANCELED:
                raise
            codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
            refused = {op.label for op, code in zip(ordered, codes, strict=False) if code == "ConditionalCheckFailed"}
            if refused:
                raise WriteRefused(refused) from exc
            if _TRANSIENT_REASONS.intersection(codes):
                raise StoreUnavailableError(
                    "the database is busy; retry in a moment", details={"reason": "transaction throttled"}
                ) from exc
            if "TransactionConflict" not in codes:
                raise
            if attempt == TRANSACTION_ATTEMPTS:
                raise ConflictError(
                    "other requests kept changing the same items; retry in a moment", code="transaction_conflict"
                ) from exc
        time.sleep(random.uniform(0, 0.02 * 2**attempt))


def _commit(connection: Connection, ordered: Sequence[Put | Delete]) -> None:
    with TransactWrite(connection=connection) as transaction:
        for op in ordered:
            if isinstance(op, Put):
                transaction.save(op.item, condition=op.condition)
            else:
                transaction.delete(op.item, condition=op.condition)


def position_of(item: Model, attributes: Sequence[str]) -> dict[str, str]:
    """The key attributes of ``item`` that a listing resumes after (all strings in this table)."""
    return {name: str(getattr(item, name)) for name in attributes}


def exclusive_start_key(position: Mapping[str, str] | None) -> dict[str, dict[str, Any]] | None:
    return None if position is None else {name: {"S": value} for name, value in position.items()}


def collect_page(
    results: ResultIterator[ModelT],
    model: type[ModelT],
    *,
    limit: int,
    key_attributes: Sequence[str],
    max_requests: int,
) -> tuple[list[ModelT], dict[str, str] | None]:
    """Up to ``limit`` items from ``results`` and the position to resume after, or None when nothing is left.

    Reading one item past ``limit`` tells whether more exist, so the last page never points at an empty one.
    At most ``max_requests`` pages are read: a filtered Scan may return a short page with a position.
    """
    taken: list[ModelT] = []
    with translated_errors():
        for number, page in enumerate(results.page_iter, start=1):
            for raw in page.get("Items", []):
                if len(taken) == limit:
                    return taken, position_of(taken[-1], key_attributes)
                taken.append(model.from_raw_data(raw))
            last_evaluated: dict[str, dict[str, Any]] | None = page.get("LastEvaluatedKey")
            if last_evaluated is None:
                return taken, None
            if number >= max_requests:
                return taken, {name: value["S"] for name, value in last_evaluated.items()}
    return taken, None
