"""Fixes to moto that the local stack applies in its own moto server, where moto and DynamoDB disagree in a
way Prism relies on. Each fix names the moto behaviour it replaces.

**TransactWriteItems is atomic.** moto 5.2 (``moto/dynamodb/models/__init__.py``, ``transact_write_items``)
applies every operation of a transaction, then, if any condition failed, swaps each touched table for a deep
copy taken before the transaction. On DynamoDB a refused transaction writes nothing; in moto it has already
emitted stream records for its puts (so the change pipeline publishes a write that never happened), the swap
discards every write other requests made to those tables meanwhile, and it replaces the table's stream shard
object under the stream readers. Here a transaction checks every condition first and writes only when all
hold, and DynamoDB writes are serialized, so no write slips between those checks and the transaction's writes.

**DynamoDB requests are serialized.** moto's tables are plain dicts read and written by the server's request
threads without a lock: a Scan or GetRecords running beside a write can fail with "dictionary changed size
during iteration". DynamoDB and DynamoDB Streams requests therefore run one at a time here (each takes
microseconds in memory, so this costs nothing a local stack would notice).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

_WRITES = threading.RLock()
_TRANSACTION_LIMIT = 100
_applied = False


def apply() -> None:
    """Install the fixes (idempotent; call before moto serves its first request)."""
    global _applied  # noqa: PLW0603 - a process-wide, one-time patch
    if _applied:
        return
    for name in ("put_item", "update_item", "delete_item", "batch_write_item"):
        setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name)))
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        handler.call_action = _serialized(handler.call_action)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _atomic_transact_write_items  # type: ignore[method-assign]
    _applied = True


def _serialized(method: Any) -> Any:
    @functools.wraps(method)
    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _WRITES:
            return method(self, *args, **kwargs)

    return locked


def _atomic_transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > _TRANSACTION_LIMIT:
        raise TooManyTransactionsException()
    with _WRITES:
        operations = [_operation(self, item) for item in transact_items]
        _refuse_repeated_targets(operations)
        reasons = [_condition_failure(self, op) for op in operations]
        if any(reason[0] is not None for reason in reasons):
            raise TransactionCanceledException(reasons)
        for op_type, op, key in operations:
            _write(self, op_type, op, key)


def _operation(self: DynamoDBBackend, item: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if len(item) != 1:
        raise TransactWriteSingleOpException
    op_type, op = next(iter(item.items()))
    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError(f"unsupported transaction operation {op_type}")
    if op_type != "Put":
        return op_type, op, op["Key"]
    table = self.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return op_type, op, key


def _refuse_repeated_targets(operations: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
    seen: set[tuple[str, str]] = set()
    for _, op, key in operations:
        target = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if target in seen:
            raise MultipleTransactionsException()
        seen.add(target)


def _condition_failure(
    self: DynamoDBBackend, operation: tuple[str, dict[str, Any], dict[str, Any]]
) -> tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]:
    """moto's cancellation reason for one operation: (code, message, item) or (None, None, None)."""
    _, op, key = operation
    expression = op.get("ConditionExpression")
    if expression is None:
        return (None, None, None)
    current = self.get_item(op["TableName"], key)
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return (None, None, None)
    failure = ConditionalCheckFailed()
    item = None
    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
        item = current.to_json()["Attributes"]
    return ("ConditionalCheckFailed", str(failure.message), item)


def _write(self: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names: dict[str, Any] = op.get("ExpressionAttributeNames") or {}
    values: dict[str, Any] = op.get("ExpressionAttributeValues") or {}
    if op_type == "Put":
        self.put_item(op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Delete":
        self.delete_item(op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Update":
        self.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
