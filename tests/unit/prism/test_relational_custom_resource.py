from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.errors import ConfigurationError, RelationalUnavailableError
from prism.relational.custom_resource import (
    RESPONSE_LIMIT_BYTES,
    SAFETY_MARGIN_S,
    AppUserBootstrap,
    ConnectionSchemaMigrator,
    CustomResourceResponse,
    InvalidCustomResourceEventError,
    ResponseNotDeliveredError,
    answer,
    encode,
    fit_reason,
    schema_migrator,
)
from prism.relational.migrations import MIGRATIONS_DIR, MigrationError, discover
from prism.relational.users import AppUser
from tests.unit.prism.fake_mysql import ScriptedConnection

if TYPE_CHECKING:
    from collections.abc import Callable

RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/req?X-Amz-Signature=abc"
)
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/prism-dev/5f0e7c40-0000-11ef-9c2c-0a1b2c3d4e5f"
LOG_STREAM = "2026/05/09/[$LATEST]0123456789abcdef"
RESPONSE_KEYS = {"Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId", "Data"}


def request(request_type: str = "Create", **changes: Any) -> dict[str, Any]:
    """A custom-resource request as CloudFormation sends it; ``changes`` replace (or, as None, remove) keys."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:prism-dev-MigrationFunction",
        "ResponseURL": RESPONSE_URL,
        "StackId": STACK_ID,
        "RequestId": "0f4c6d4e-8c5a-4f3e-9d1b-2a7e6c5b4a39",
        "LogicalResourceId": "RelationalMigrations",
        "ResourceType": "Custom::RelationalMigrations",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:prism-dev-MigrationFunction",
            "LayerVersion": "arn:aws:lambda:us-east-1:123456789012:layer:prism-dev-PrismLayer:7",
            "Database": "prism",
        },
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = "prism-schema"
    if request_type == "Update":
        event["OldResourceProperties"] = {
            **event["ResourceProperties"],
            "LayerVersion": "arn:aws:lambda:us-east-1:123456789012:layer:prism-dev-PrismLayer:6",
        }
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


@dataclass
class FakeContext:
    remaining_ms: int = 300_000
    log_stream_name: str = LOG_STREAM

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class FakeMigrator:
    """Applies ``applies`` (or raises ``error``), recording each deadline it was given."""

    applies: list[str] = field(default_factory=list)
    error: Exception | None = None
    deadlines: list[float] = field(default_factory=list)

    def migrate(self, deadline: float) -> list[str]:
        self.deadlines.append(deadline)
        if self.error is not None:
            raise self.error
        return list(self.applies)


@dataclass
class RecordingSend:
    """Keeps every PUT; fails with ``error`` instead when it is set."""

    error: Exception | None = None
    sent: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes) -> None:
        self.sent.append((url, json.loads(body), len(body)))
        if self.error is not None:
            raise self.error

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.sent) == 1, self.sent
        return self.sent[0][1]


def never_built() -> FakeMigrator:
    raise AssertionError("the migrator must not be built for this request")


def run(
    event: dict[str, Any],
    migrator: FakeMigrator | None = None,
    send: RecordingSend | None = None,
    context: FakeContext | None = None,
) -> tuple[CustomResourceResponse, RecordingSend]:
    send = send or RecordingSend()
    factory: Callable[[], FakeMigrator] = (lambda: migrator) if migrator is not None else never_built
    response = answer(event, context or FakeContext(), migrator=factory, send=send, clock=lambda: 1000.0)
    return response, send


def test_create_applies_the_migrations_and_answers_success_on_the_response_url() -> None:
    migrator = FakeMigrator(applies=["0001", "0002"])

    response, send = run(request("Create"), migrator)

    assert [url for url, _, _ in send.sent] == [RESPONSE_URL]
    assert send.only == response
    assert set(response) == RESPONSE_KEYS
    assert response == {
        "Status": "SUCCESS",
        "Reason": "applied 0001, 0002",
        "PhysicalResourceId": "prism-schema",
        "StackId": STACK_ID,
        "RequestId": "0f4c6d4e-8c5a-4f3e-9d1b-2a7e6c5b4a39",
        "LogicalResourceId": "RelationalMigrations",
        "Data": {"Applied": "0001,0002", "Count": 2},
    }


def test_the_deadline_keeps_a_safety_margin_of_the_remaining_time() -> None:
    migrator = FakeMigrator()

    run(request("Create"), migrator, context=FakeContext(remaining_ms=120_000))

    assert migrator.deadlines == [1000.0 + 120.0 - SAFETY_MARGIN_S]


def test_an_update_without_new_migrations_succeeds_with_nothing_applied_and_the_same_physical_id() -> None:
    response, _ = run(request("Update"), FakeMigrator(applies=[]))

    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "prism-schema"
    assert response["Data"] == {"Applied": "", "Count": 0}
    assert response["Reason"] == "the schema was up to date"


def test_an_update_to_another_database_gets_that_database_s_physical_id() -> None:
    event = request("Update")
    event["ResourceProperties"] = {**event["ResourceProperties"], "Database": "prism_v2"}

    response, _ = run(event, FakeMigrator(applies=["0001", "0002"]))

    assert response["PhysicalResourceId"] == "prism_v2-schema"


def test_delete_keeps_the_schema_and_succeeds_without_touching_the_database() -> None:
    response, send = run(request("Delete", PhysicalResourceId="prism-schema"))

    assert send.only == response
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "prism-schema"
    assert "keeps the schema" in response["Reason"]
    assert response["Data"] == {"Applied": "", "Count": 0}


def test_delete_succeeds_even_when_the_properties_are_invalid_so_a_failed_create_can_roll_back() -> None:
    response, _ = run(request("Delete", PhysicalResourceId="RelationalMigrations", ResourceProperties={}))

    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "RelationalMigrations"


def test_an_unknown_request_type_is_answered_failed_with_the_reason() -> None:
    response, send = run(request("Upsert"))

    assert send.only == response
    assert response["Status"] == "FAILED"
    assert "RequestType" in response["Reason"]
    assert "'Create', 'Update' or 'Delete'" in response["Reason"]
    assert response["PhysicalResourceId"] == "prism-schema"
    assert response["Data"] == {}


def test_missing_properties_fail_a_create_with_the_reason_and_the_logical_id_as_physical_id() -> None:
    response, _ = run(request("Create", ResourceProperties={"ServiceToken": "arn:aws:lambda:..."}))

    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("invalid ResourceProperties: Database: Field required; LayerVersion: Field")
    assert response["PhysicalResourceId"] == "RelationalMigrations"


def test_an_invalid_database_name_fails_the_request() -> None:
    event = request("Create")
    event["ResourceProperties"] = {**event["ResourceProperties"], "Database": "prism; DROP"}

    response, _ = run(event)

    assert response["Status"] == "FAILED"
    assert "Database: String should match pattern" in response["Reason"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"ResponseURL": None}, "ResponseURL: Field required"),
        ({"ResponseURL": "http://cloudformation.example.com/response"}, "ResponseURL: Value error, must be an https"),
        ({"ResponseURL": "ftp://127.0.0.1/response"}, "must be an https"),
        ({"StackId": None}, "StackId: Field required"),
        ({"RequestId": ""}, "RequestId: String should have at least 1 character"),
        ({"LogicalResourceId": None}, "LogicalResourceId: Field required"),
    ],
)
def test_an_event_that_says_nowhere_to_answer_is_an_error_and_nothing_is_sent(
    change: dict[str, Any], problem: str
) -> None:
    send = RecordingSend()

    with pytest.raises(InvalidCustomResourceEventError, match="nowhere to answer") as raised:
        run(request("Create", **change), send=send)

    assert problem in str(raised.value)
    assert send.sent == []


def test_plain_http_is_accepted_only_to_this_machine() -> None:
    response, send = run(request("Create", ResponseURL="http://127.0.0.1:8123/r"), FakeMigrator())

    assert response["Status"] == "SUCCESS"
    assert send.sent[0][0] == "http://127.0.0.1:8123/r"


def test_invalid_settings_fail_the_request_with_the_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DB_HOST", "DB_PORT", "DB_AUTH", "DB_SECRET_ARN", "DB_CA_BUNDLE", "DB_APP_USER_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DB_NAME", "prism")
    monkeypatch.setenv("DB_USER", "prism_app")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    schema_migrator.cache_clear()
    send = RecordingSend()
    try:
        response = answer(request("Create"), FakeContext(), migrator=schema_migrator, send=send)
    finally:
        schema_migrator.cache_clear()

    assert send.only == response
    assert response["Status"] == "FAILED"
    assert response["Reason"] == (
        f"RelationalMigrationSettings: DB_HOST is not set (details in log stream {LOG_STREAM})"
    )
    assert response["PhysicalResourceId"] == "prism-schema"


def test_a_migration_error_fails_the_request_with_its_message_and_keeps_the_physical_id() -> None:
    error = MigrationError("V0001__projection_tables.sql was changed after it was applied")

    response, _ = run(request("Update", PhysicalResourceId="prism-schema"), FakeMigrator(error=error))

    assert response["Status"] == "FAILED"
    assert response["Reason"] == f"{error} (details in log stream {LOG_STREAM})"
    assert response["PhysicalResourceId"] == "prism-schema"
    assert response["Data"] == {}


def test_a_database_that_stays_unreachable_fails_the_request() -> None:
    error = RelationalUnavailableError("could not connect to prism-proxy:3306 before the deadline")

    response, _ = run(request("Create"), FakeMigrator(error=error))

    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("could not connect to prism-proxy:3306 before the deadline")
    assert response["PhysicalResourceId"] == "prism-schema"


def test_an_unexpected_error_is_answered_failed_and_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response, send = run(request("Create"), FakeMigrator(error=KeyError("version")))

    assert send.only["Status"] == "FAILED"
    assert response["Reason"] == f"unexpected KeyError: 'version' (details in log stream {LOG_STREAM})"
    failure = next(r for r in caplog.records if r.getMessage() == "The migrations request failed")
    assert failure.levelname == "ERROR"
    assert failure.exc_info is not None
    assert failure.exc_info[0] is KeyError
    assert failure.__dict__["request_id"] == "0f4c6d4e-8c5a-4f3e-9d1b-2a7e6c5b4a39"


def test_an_undeliverable_response_is_logged_and_still_returned(caplog: pytest.LogCaptureFixture) -> None:
    send = RecordingSend(error=ResponseNotDeliveredError("PUT to 127.0.0.1:9 failed 3 times"))

    response, _ = run(request("Create"), FakeMigrator(applies=["0001"]), send=send)

    assert response["Status"] == "SUCCESS"
    assert response["Data"] == {"Applied": "0001", "Count": 1}
    failure = next(r for r in caplog.records if r.getMessage() == "Could not deliver the response to CloudFormation")
    assert failure.levelname == "ERROR"
    assert failure.__dict__["response_host"] == "cloudformation-custom-resource-response-useast1.s3.amazonaws.com"
    logged = json.dumps([vars(r) for r in caplog.records], default=str)
    assert "X-Amz-Signature" not in logged, "a pre-signed URL is a credential and stays out of the logs"


def test_a_long_reason_is_cut_so_the_whole_response_fits_cloudformation_s_limit() -> None:
    error = MigrationError("statement 3 failed: " + "x" * 10_000)

    response, send = run(request("Create"), FakeMigrator(error=error))

    (_, body, size) = send.sent[0]
    assert size <= RESPONSE_LIMIT_BYTES
    assert size > RESPONSE_LIMIT_BYTES - 32, "the cut keeps as much of the reason as fits"
    assert body["Reason"].startswith("statement 3 failed: xxx")
    assert body["Reason"].endswith(" [truncated]")
    assert body == response


def failed_response(reason: str) -> CustomResourceResponse:
    return {
        "Status": "FAILED",
        "Reason": reason,
        "PhysicalResourceId": "prism-schema",
        "StackId": STACK_ID,
        "RequestId": "0f4c6d4e-8c5a-4f3e-9d1b-2a7e6c5b4a39",
        "LogicalResourceId": "RelationalMigrations",
        "Data": {},
    }


@given(st.text(max_size=6000))
def test_any_reason_fits_and_a_short_one_is_kept_whole(reason: str) -> None:
    response = failed_response(reason)

    fitted = fit_reason(response)

    assert len(encode(fitted)) <= RESPONSE_LIMIT_BYTES
    if len(encode(response)) <= RESPONSE_LIMIT_BYTES:
        assert fitted == response
    else:
        assert fitted["Reason"].endswith(" [truncated]")
        assert reason.startswith(fitted["Reason"].removesuffix(" [truncated]"))
        assert {k: v for k, v in fitted.items() if k != "Reason"} == {
            k: v for k, v in response.items() if k != "Reason"
        }


@dataclass
class FakeRunner:
    """Runs the work on a fake connection; records the deadline and whether it was closed."""

    connection: Any
    deadlines: list[float] = field(default_factory=list)
    closed: int = 0

    def run(self, work: Callable[[Any], Any], *, deadline: float) -> Any:
        self.deadlines.append(deadline)
        return work(self.connection)

    def close(self) -> None:
        self.closed += 1


class NoDatabaseSelected:
    """A connection on which ``SELECT DATABASE()`` answers NULL (apply_migrations refuses it first thing)."""

    def cursor(self) -> NoDatabaseSelected:
        return self

    def __enter__(self) -> NoDatabaseSelected:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def execute(self, query: str, args: Any = None) -> int:
        return 1

    def fetchone(self) -> tuple[Any, ...]:
        return (None,)


def test_the_migrator_runs_apply_migrations_through_the_runner_and_closes_it_even_on_failure() -> None:
    runner = FakeRunner(NoDatabaseSelected())

    with pytest.raises(MigrationError, match="no database selected"):
        ConnectionSchemaMigrator(runner).migrate(deadline=42.0)

    assert runner.deadlines == [42.0]
    assert runner.closed == 1


@dataclass
class FakeSecret:
    """The app user's secret: ``passwords`` in turn, one per read after an invalidate (a fresh read)."""

    username: str = "prism_app"
    passwords: list[str] = field(default_factory=lambda: ["first-Passw0rd"])
    invalidated: int = 0

    def password(self) -> str:
        return self.passwords[min(self.invalidated, len(self.passwords)) - 1]

    def invalidate(self) -> None:
        self.invalidated += 1


SHIPPED = [migration.version for migration in discover(MIGRATIONS_DIR)]


def test_with_an_app_user_secret_the_admin_creates_the_database_and_user_before_migrating_into_it() -> None:
    connection = ScriptedConnection(current_user="prism_admin@%")
    runner = FakeRunner(connection)

    applied = ConnectionSchemaMigrator(runner, AppUserBootstrap("prism", FakeSecret())).migrate(deadline=42.0)

    assert applied == SHIPPED
    assert connection.sql[:7] == [
        "SELECT CURRENT_USER()",
        "CREATE DATABASE IF NOT EXISTS `prism` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s REQUIRE SSL",
        "ALTER USER %s@%s IDENTIFIED BY %s REQUIRE SSL",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON `prism`.* TO %s@%s",
        "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = %s AND "
        "TABLE_SCHEMA = %s",
        "<select_db prism>",
    ]
    assert connection.sql[7] == "SELECT DATABASE()", "the migrations run after the bootstrap, in the new database"
    assert (runner.deadlines, runner.closed) == ([42.0], 1)


def test_each_deploy_reads_the_app_secret_afresh_so_a_changed_password_is_put_in_place() -> None:
    secret = FakeSecret(passwords=["first-Passw0rd", "changed-Passw0rd"])
    bootstrap = AppUserBootstrap("prism", secret)
    create, update = ScriptedConnection(), ScriptedConnection(recorded=[])

    ConnectionSchemaMigrator(FakeRunner(create), bootstrap).migrate(deadline=1.0)
    ConnectionSchemaMigrator(FakeRunner(update), bootstrap).migrate(deadline=1.0)

    def altered(connection: ScriptedConnection) -> list[object]:
        return [args[2] for query, args in connection.statements if query.startswith("ALTER USER")]

    assert (altered(create), altered(update)) == (["first-Passw0rd"], ["changed-Passw0rd"])


def test_an_app_secret_that_names_the_admin_itself_is_refused_before_any_change() -> None:
    connection = ScriptedConnection(current_user="prism_admin@%")
    runner = FakeRunner(connection)

    with pytest.raises(ConfigurationError, match="names prism_admin, the user the function logs in as"):
        ConnectionSchemaMigrator(runner, AppUserBootstrap("prism", FakeSecret(username="prism_admin"))).migrate(1.0)

    assert connection.sql == ["SELECT CURRENT_USER()"]
    assert runner.closed == 1


def test_an_app_secret_with_an_unsafe_user_name_fails_before_connecting() -> None:
    runner = FakeRunner(ScriptedConnection())

    with pytest.raises(ConfigurationError, match="is not a database user name"):
        ConnectionSchemaMigrator(runner, AppUserBootstrap("prism", FakeSecret(username="app'@'%"))).migrate(1.0)

    assert runner.deadlines == []
    assert runner.closed == 1


def test_the_bootstrap_logs_the_user_and_what_was_revoked_but_never_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = ScriptedConnection(schema_privileges=[("SELECT", "NO"), ("DROP", "NO")])
    secret = FakeSecret(passwords=["Very-Secret-Passw0rd"])

    response = answer(
        request("Create"),
        FakeContext(),
        migrator=lambda: ConnectionSchemaMigrator(FakeRunner(connection), AppUserBootstrap("prism", secret)),
        send=RecordingSend(),
        clock=lambda: 1000.0,
    )

    assert response["Status"] == "SUCCESS"

    record = next(r for r in caplog.records if r.getMessage() == "Bootstrapped the database and its app user")
    assert (record.__dict__["app_user"], record.__dict__["privileges_revoked"]) == ("prism_app", ["DROP"])
    logged = json.dumps([vars(r) for r in caplog.records], default=str)
    assert "Very-Secret-Passw0rd" not in logged
    assert "Very-Secret-Passw0rd" not in repr(AppUser("prism_app", "Very-Secret-Passw0rd"))
