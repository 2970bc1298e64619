"""The real relational sink on a provisioned stack's MariaDB: bad input is dead-lettered with its reason while
the rest of its batch commits, and a row the database itself refuses is narrowed down to that row."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.relational.rows import row_change
from prism.relational.writer import ProjectionWriter
from prism_local.stack.provision import load_stack
from tests.support.cache import sqs_record
from tests.support.relational import actual_projection, change, expected_projection, root_connection, sink_environment

if TYPE_CHECKING:
    from prism.changes.envelope import ChangeEvent
    from prism.relational.sink import RelationalSinkProcessor
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration


def deliver(sink: RelationalSinkProcessor, changes: list[ChangeEvent], ids: list[str] | None = None) -> list[str]:
    message_ids: list[str | None] = list(ids) if ids is not None else [None] * len(changes)
    records = [sqs_record(c.to_json(), message_id=mid) for c, mid in zip(changes, message_ids, strict=True)]
    response = process_partial_response({"Records": records}, sink.parse_record, sink)
    return [str(f["itemIdentifier"]) for f in response["batchItemFailures"]]


def dead_letters(config: LocalConfig) -> list[Any]:
    sqs = config.session().client("sqs", endpoint_url=config.moto_endpoint)
    url = load_stack(config.stack_file).ref("RelationalDeadLetterQueue")
    response = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )
    return list(response.get("Messages", []))


def test_a_payload_the_schema_refuses_is_dead_lettered_with_the_reason_and_the_rest_commits(
    provisioned: LocalConfig,
) -> None:
    good = [change("customer", "c-good", 5), change("order", "o-good", 7)]
    bad = change("product", "p-bad", 3, price="twelve fifty")

    with sink_environment(provisioned) as sink:
        failures = deliver(sink, [good[0], bad, good[1]], ids=["m-1", "m-bad", "m-3"])

    assert failures == []
    (message,) = dead_letters(provisioned)
    assert message["Body"] == bad.to_json(), "the DLQ holds the whole change"
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["prism-error-type"] == "SchemaViolationError"
    assert attributes["prism-source-message-id"] == "m-bad"
    assert "product 'p-bad' v3: price: expected a number, got str 'twelve fifty'" in attributes["prism-error"]
    with root_connection(provisioned) as connection:
        assert actual_projection(connection, ["c-good", "o-good", "p-bad"]) == expected_projection(good)


def test_a_row_the_database_refuses_is_narrowed_down_and_only_it_is_dead_lettered(provisioned: LocalConfig) -> None:
    with root_connection(provisioned) as connection, connection.cursor() as cursor:
        # A rule only the database knows, so the sink's own checks pass and MySQL refuses the statement.
        cursor.execute("ALTER TABLE products ADD CONSTRAINT no_poison CHECK (name IS NULL OR name <> 'poison')")
    changes = [change("product", f"p-{n}", 10 + n) for n in range(12)]
    poison = change("product", "p-poison", 4, name="poison")
    batch = [*changes[:5], poison, *changes[5:]]

    with sink_environment(provisioned) as sink:
        failures = deliver(sink, batch)
        summary = sink.summary

    assert failures == []
    (message,) = dead_letters(provisioned)
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["prism-error-type"] == "RowRefusedByDatabase"
    assert "no_poison" in attributes["prism-error"]
    assert message["Body"] == poison.to_json()
    assert summary.written == 12
    assert 2 <= summary.transactions <= 6, "the good changes commit in a few bisected transactions"
    with root_connection(provisioned) as connection:
        ids = [c.id for c in batch]
        assert actual_projection(connection, ids) == expected_projection(changes)


def test_a_stale_order_change_never_mixes_its_lines_into_a_newer_order(provisioned: LocalConfig) -> None:
    newer = change("order", "o-1", 9)  # one line
    older = change("order", "o-1", 7)  # two lines: its second must not appear beside the newer order

    with sink_environment(provisioned) as sink:
        assert deliver(sink, [newer]) == []
        assert deliver(sink, [older]) == []

    with root_connection(provisioned) as connection:
        assert actual_projection(connection, ["o-1"]) == expected_projection([newer, older])


TRICKY = "O'Brien \\ \"quoted\" 100% %s -- ; \n\r\t\x00\x1a é 🦉 '); DROP TABLE products; --"


class RootRunner:
    """Runs the writer's work on one given connection (no retries): for a session in a chosen sql_mode."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.connections_opened = 1

    def run(self, work: Any, *, deadline: float) -> Any:
        return work(self.connection)


@pytest.mark.parametrize("sql_mode", [None, "NO_BACKSLASH_ESCAPES"])
def test_any_text_round_trips_exactly_in_either_escaping_mode(provisioned: LocalConfig, sql_mode: str | None) -> None:
    written = [
        change("product", f"p-{sql_mode}", 3, name=TRICKY, category="x'\\y", description=TRICKY, tags=[TRICKY]),
        change("customer", f"c-{sql_mode}", 4, email="a'b\\c@example.com", name=TRICKY),
    ]
    with root_connection(provisioned) as connection:
        if sql_mode is not None:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        writer = ProjectionWriter(RootRunner(connection))

        outcome = writer.write([row_change(c) for c in written], deadline=time.monotonic() + 10)

        assert outcome.refused == []
        assert outcome.unavailable == []
        assert actual_projection(connection, [c.id for c in written]) == expected_projection(written)
