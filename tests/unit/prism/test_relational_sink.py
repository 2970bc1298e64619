"""The relational sink's batch logic, with fakes for the database connection and the DLQ."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.changes.reader import ChangeReader
from prism.errors import RelationalUnavailableError
from prism.relational.dead_letters import DeadLetterError
from prism.relational.sink import RelationalSinkProcessor, RelationalSinkSummary
from prism.relational.writer import ProjectionWriter
from tests.support.cache import sqs_record
from tests.support.fakes import InMemoryClaimCheckStore
from tests.support.relational import change


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self._connection = connection
        self._rows: list[tuple[Any, ...]] = []

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def execute(self, sql: str, args: list[Any] | None = None) -> int:
        values = args or []
        for poison in self._connection.poison:
            if poison in values or f"'{poison}'" in sql:
                raise pymysql.err.DataError(1264, f"Out of range value for row {poison}")
        self._connection.statements.append((sql.split(" (", maxsplit=1)[0], len(values)))
        self._rows = []
        return 1

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


class FakeConnection:
    server_status = 0  # not in NO_BACKSLASH_ESCAPES mode: the writer renders the values in

    def __init__(self, poison: set[str]) -> None:
        self.poison = poison
        self.statements: list[tuple[str, int]] = []
        self.commits = 0

    def begin(self) -> None:
        return None

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        return None


class FakeRunner:
    """Runs the work on a fake connection; ``down`` makes it behave like a database past its time budget."""

    def __init__(self, poison: set[str] | None = None, down: bool = False) -> None:
        self.connection = FakeConnection(poison or set())
        self.down = down
        self.connections_opened = 1

    def run(self, work: Any, *, deadline: float) -> Any:
        if self.down:
            raise RelationalUnavailableError('gave up after 7 attempts: (2003, "Can\'t connect")')
        return work(self.connection)


class FakeDeadLetters:
    def __init__(self, broken: bool = False) -> None:
        self.sent: list[dict[str, str]] = []
        self.broken = broken

    def send(self, body: str, *, reason: str, error_type: str, source_message_id: str) -> None:
        if self.broken:
            raise DeadLetterError("simulated SQS outage")
        self.sent.append({"body": body, "reason": reason, "error_type": error_type, "source": source_message_id})


def sink(runner: FakeRunner, dead_letters: FakeDeadLetters | None = None) -> RelationalSinkProcessor:
    reader = ChangeReader(InMemoryClaimCheckStore())
    return RelationalSinkProcessor(reader, ProjectionWriter(runner), dead_letters or FakeDeadLetters())


def run(processor: RelationalSinkProcessor, records: list[dict[str, Any]]) -> list[str]:
    response = process_partial_response({"Records": records}, processor.parse_record, processor)
    return [str(failure["itemIdentifier"]) for failure in response["batchItemFailures"]]


def test_a_batch_is_collapsed_to_the_newest_change_per_key_and_written_in_one_transaction() -> None:
    runner = FakeRunner()
    processor = sink(runner)
    records = [sqs_record(change("product", "p", v).to_json()) for v in (1, 3, 2, 3)]
    records += [sqs_record(change("customer", f"c{n}", 1).to_json()) for n in range(3)]
    records += [sqs_record(change("order", "o", 2).to_json())]

    assert run(processor, records) == []

    assert runner.connection.commits == 1
    tables = [sql for sql, _ in runner.connection.statements]
    assert tables == [
        "SELECT id, version FROM orders WHERE id IN",
        "INSERT INTO order_lines",
        "INSERT INTO customers",
        "INSERT INTO products",
        "INSERT INTO orders",
    ], "one statement per table; a new order has no lines to delete"
    assert processor.summary == RelationalSinkSummary(
        records=8, changes=8, written=5, superseded=3, transactions=1, rows_affected=4
    )


def test_a_payload_the_schema_refuses_is_dead_lettered_with_its_reason_and_the_rest_commits() -> None:
    runner, dead_letters = FakeRunner(), FakeDeadLetters()
    processor = sink(runner, dead_letters)
    bad = sqs_record(change("product", "bad", 2, price="12.50").to_json(), message_id="m-bad")
    good = [sqs_record(change("product", f"p{n}", 1).to_json()) for n in range(3)]

    assert run(processor, [good[0], bad, *good[1:]]) == []

    assert [(d["source"], d["error_type"]) for d in dead_letters.sent] == [("m-bad", "SchemaViolationError")]
    assert "price: expected a number, got str '12.50'" in dead_letters.sent[0]["reason"]
    assert dead_letters.sent[0]["body"] == bad["body"], "the DLQ holds the whole change"
    assert processor.summary.written == 3
    assert processor.summary.dead_lettered == 1


def test_a_malformed_envelope_is_dead_lettered_too() -> None:
    dead_letters = FakeDeadLetters()
    processor = sink(FakeRunner(), dead_letters)

    assert run(processor, [sqs_record('{"schema": "prism.change.v1"}')]) == []

    assert dead_letters.sent[0]["error_type"] == "MalformedChangeError"


def test_when_the_dlq_is_unreachable_the_bad_record_fails_so_sqs_keeps_it() -> None:
    processor = sink(FakeRunner(), FakeDeadLetters(broken=True))
    bad = sqs_record(change("product", "bad", 2, stock="many").to_json(), message_id="m-bad")

    assert run(processor, [bad, sqs_record(change("product", "ok", 1).to_json())]) == ["m-bad"]
    assert processor.summary.written == 1


def test_a_row_the_database_refuses_is_narrowed_by_bisection_and_only_it_is_dead_lettered() -> None:
    runner, dead_letters = FakeRunner(poison={"p5"}), FakeDeadLetters()
    processor = sink(runner, dead_letters)
    records = [sqs_record(change("product", f"p{n}", 1).to_json(), message_id=f"m{n}") for n in range(8)]

    assert run(processor, records) == []

    assert [d["source"] for d in dead_letters.sent] == ["m5"]
    assert dead_letters.sent[0]["error_type"] == "RowRefusedByDatabase"
    assert "MySQL error 1264" in dead_letters.sent[0]["reason"]
    assert processor.summary.written == 7
    assert 1 < runner.connection.commits <= 4, "the good halves commit in a few transactions, not one per row"


def test_with_the_database_unavailable_every_record_fails_for_sqs_to_retry() -> None:
    processor = sink(FakeRunner(down=True))
    records = [sqs_record(change("customer", "c", v).to_json(), message_id=f"m{v}") for v in (1, 2)]
    records.append(sqs_record(change("order", "o", 1).to_json(), message_id="m-order"))

    assert sorted(run(processor, records)) == ["m-order", "m1", "m2"], "older changes of a failed key fail too"
    assert processor.summary.unavailable == 3


@pytest.mark.parametrize("remaining_ms", [30_000, 1_000])
def test_the_time_budget_follows_the_invocations_remaining_time(remaining_ms: int) -> None:
    seen: list[float] = []

    class RecordingRunner(FakeRunner):
        def run(self, work: Any, *, deadline: float) -> Any:
            seen.append(deadline)
            return super().run(work, deadline=deadline)

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return remaining_ms

    processor = RelationalSinkProcessor(
        ChangeReader(InMemoryClaimCheckStore()),
        ProjectionWriter(RecordingRunner()),
        FakeDeadLetters(),
        clock=lambda: 100.0,
    )
    process_partial_response(
        {"Records": [sqs_record(change("customer", "c", 1).to_json())]},
        processor.parse_record,
        processor,
        context=Context(),  # type: ignore[arg-type]
    )

    assert seen == [100.0 + max(remaining_ms / 1000 - 3.0, 0.0)]
