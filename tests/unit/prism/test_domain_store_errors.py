"""Vendor errors become domain errors in one place: refused conditions name the refusing item, contention is
retried, throttling and unreachable endpoints are StoreUnavailableError, bugs pass through unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pynamodb.exceptions import CancellationReason, PutError, TransactWriteError, VerboseClientError

from prism.domain.errors import ConflictError, StoreUnavailableError
from prism.store.items import EmailGuardItem, bind_items
from prism.store.table_access import TRANSACTION_ATTEMPTS, Delete, Put, WriteRefused, transact, translated_errors

ITEMS = bind_items("prism-unit", region="us-east-1", host="http://127.0.0.1:9")


def cancelled(*codes: str | None) -> TransactWriteError:
    reasons = [CancellationReason(code=code) if code else None for code in codes]
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=reasons,
    )
    return TransactWriteError("Failed to write transaction items", cause)


class ScriptedConnection:
    """Answers TransactWriteItems with the given outcomes in turn (an exception, or None for success)."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self._outcomes = list(outcomes)
        self.calls: list[list[str]] = []

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append([item["Key"]["pk"]["S"] for item in kwargs["delete_items"]])
        outcome = self._outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return {}


def operations() -> list[Put | Delete]:
    guard = ITEMS.email_guard(pk="EMAIL#new", sk="GUARD", owner="c_1")
    old_guard = ITEMS.email_guard(pk="EMAIL#old", sk="GUARD", owner="c_1")
    now = datetime.now(UTC)
    customer = ITEMS.customer(
        pk="CUSTOMER#c_1", sk="A", entity="customer", id="c_1", version=2, created_at=now, updated_at=now,
        email="new@example.com", name="Ada", tier="standard",
    )  # fmt: skip
    return [
        Put(guard, EmailGuardItem.pk.does_not_exist(), "new_email"),
        Delete(old_guard, EmailGuardItem.owner == "c_1", "old_email"),
        Put(customer, ITEMS.customer.version == 1, "customer"),
    ]


def test_a_refused_condition_names_its_item_whatever_order_pynamodb_sends_them_in() -> None:
    # Sent as: delete old guard, put new guard, put customer.
    connection = ScriptedConnection(cancelled(None, "ConditionalCheckFailed", None))

    with pytest.raises(WriteRefused) as raised:
        transact(connection, operations())  # type: ignore[arg-type]

    assert raised.value.refused == {"new_email"}
    assert connection.calls == [["EMAIL#old"]]


def test_a_transaction_conflict_is_retried_until_the_transaction_goes_through() -> None:
    connection = ScriptedConnection(cancelled("TransactionConflict", None, None), None)

    transact(connection, operations())  # type: ignore[arg-type]

    assert len(connection.calls) == 2


def test_endless_contention_ends_in_a_conflict_error() -> None:
    conflicts = [cancelled(None, "TransactionConflict", None) for _ in range(TRANSACTION_ATTEMPTS)]

    with pytest.raises(ConflictError) as raised:
        transact(ScriptedConnection(*conflicts), operations())  # type: ignore[arg-type]

    assert raised.value.code == "transaction_conflict"


def test_a_throttled_transaction_is_a_store_unavailable_error() -> None:
    with pytest.raises(StoreUnavailableError):
        transact(ScriptedConnection(cancelled("ThrottlingError", None, None)), operations())  # type: ignore[arg-type]


def test_an_unreachable_endpoint_or_throttling_is_a_store_unavailable_error() -> None:
    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

    for cause in (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), throttled):
        with pytest.raises(StoreUnavailableError) as raised, translated_errors():
            raise PutError("Failed to put item", cause)
        assert isinstance(raised.value.__cause__, PutError)


def test_other_vendor_errors_pass_through_unchanged() -> None:
    bug = PutError("Failed to put item", ClientError({"Error": {"Code": "ValidationException"}}, "PutItem"))

    with pytest.raises(PutError) as raised, translated_errors():
        raise bug

    assert raised.value is bug
