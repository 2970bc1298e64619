"""The rotation of RelationalDbSecret, step by step, with a fake Secrets Manager (its version labels as AWS
keeps them) and a fake database that knows one user's password."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pytest
from botocore.exceptions import ClientError

from prism.errors import RelationalUnavailableError, SecretRotationError
from prism.relational.rotation import (
    EXCLUDED_CHARACTERS,
    PASSWORD_LENGTH,
    DatabaseCredentials,
    RotationRequest,
    SecretRotator,
    set_own_password_statement,
)

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prism-RelationalDbSecret-AbCdEf"
OLD_VERSION = "00000000-0000-4000-8000-000000000001"
TOKEN = "00000000-0000-4000-8000-000000000002"
OLD_PASSWORD = "old-Pa55word-0123456789abcdefghij"
NEW_PASSWORD = "new-Pa55word-0123456789abcdefghij"


def not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, operation)


@dataclass
class FakeSecretsManager:
    """One secret's versions (id -> value, None before createSecret) and labels, moved as AWS moves them."""

    rotation_enabled: bool = True
    values: dict[str, str | None] = field(default_factory=dict)
    stages: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def rotating(cls, *, password: str = OLD_PASSWORD, **document: str) -> FakeSecretsManager:
        """A secret whose rotation Secrets Manager has just started: TOKEN staged AWSPENDING, no value yet."""
        secret = cls()
        secret.values[OLD_VERSION] = json.dumps({"username": "prism_app", "password": password, **document})
        secret.stages[OLD_VERSION] = ["AWSCURRENT"]
        secret.values[TOKEN] = None
        secret.stages[TOKEN] = ["AWSPENDING"]
        return secret

    def describe_secret(self, *, SecretId: str) -> dict[str, Any]:
        self.calls.append(("DescribeSecret", {"SecretId": SecretId}))
        return {"ARN": SECRET, "RotationEnabled": self.rotation_enabled, "VersionIdsToStages": self.stages}

    def get_secret_value(self, *, SecretId: str, VersionStage: str, VersionId: str | None = None) -> dict[str, Any]:
        for version, stages in self.stages.items():
            if VersionStage in stages and VersionId in (None, version) and self.values.get(version) is not None:
                return {"ARN": SECRET, "VersionId": version, "SecretString": self.values[version]}
        raise not_found("GetSecretValue")

    def get_random_password(self, *, PasswordLength: int, ExcludeCharacters: str) -> dict[str, Any]:
        self.calls.append(("GetRandomPassword", {"PasswordLength": PasswordLength, "Exclude": ExcludeCharacters}))
        return {"RandomPassword": NEW_PASSWORD}

    def put_secret_value(
        self, *, SecretId: str, ClientRequestToken: str, SecretString: str, VersionStages: list[str]
    ) -> dict[str, Any]:
        self.calls.append(("PutSecretValue", {"ClientRequestToken": ClientRequestToken}))
        self.values[ClientRequestToken] = SecretString
        self.stages.setdefault(ClientRequestToken, [])
        for stage in VersionStages:
            self._move(stage, ClientRequestToken)
        return {"ARN": SECRET, "VersionId": ClientRequestToken}

    def update_secret_version_stage(
        self, *, SecretId: str, VersionStage: str, MoveToVersionId: str, RemoveFromVersionId: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("UpdateSecretVersionStage", {"To": MoveToVersionId, "From": RemoveFromVersionId}))
        holder = next((v for v, stages in self.stages.items() if VersionStage in stages), None)
        if holder is not None and holder != RemoveFromVersionId:
            raise ClientError({"Error": {"Code": "InvalidParameterException", "Message": "wrong"}}, "Update")
        self._move(VersionStage, MoveToVersionId)
        if VersionStage == "AWSCURRENT" and holder is not None:
            self._move("AWSPREVIOUS", holder)  # as Secrets Manager does
        return {"ARN": SECRET}

    def _move(self, stage: str, version: str) -> None:
        for stages in self.stages.values():
            if stage in stages:
                stages.remove(stage)
        self.stages[version].append(stage)

    def value(self, stage: str) -> dict[str, Any]:
        return json.loads(self.get_secret_value(SecretId=SECRET, VersionStage=stage)["SecretString"])

    def writes(self) -> list[str]:
        return [name for name, _ in self.calls if name in {"PutSecretValue", "UpdateSecretVersionStage"}]


@dataclass
class FakeCursor:
    database: FakeDatabase
    user: str

    def execute(self, query: str, args: Any = None) -> int:
        self.database.statements.append((self.user, query))
        self.last = query
        if query == "SET PASSWORD = %s":
            if self.database.refuse_alter:
                raise pymysql.err.OperationalError(1396, f"Operation ALTER USER failed near '{args[0]}'")
            self.database.passwords[self.user] = args[0]
        return 1

    last: str = ""

    def fetchone(self) -> tuple[Any, ...]:
        return ("8.0.39",) if self.last == "SELECT VERSION()" else (1,)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [(1,)]

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class FakeSession:
    database: FakeDatabase
    user: str
    closed: bool = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.database, self.user)

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeDatabase:
    """A server that knows each user's password; a wrong one is refused with error 1045, as MySQL does."""

    passwords: dict[str, str] = field(default_factory=lambda: {"prism_app": OLD_PASSWORD})
    unreachable: bool = False
    refuse_alter: bool = False
    logins: list[str] = field(default_factory=list)
    sessions: list[FakeSession] = field(default_factory=list)
    statements: list[tuple[str, str]] = field(default_factory=list)

    where = "db.example:3306"

    def __call__(self, credentials: DatabaseCredentials) -> FakeSession:
        if self.unreachable:
            raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'db.example'")
        self.logins.append(credentials.password)
        if self.passwords.get(credentials.username) != credentials.password:
            raise pymysql.err.OperationalError(1045, f"Access denied for user '{credentials.username}'@'10.0.0.1'")
        session = FakeSession(self, credentials.username)
        self.sessions.append(session)
        return session


def request(step: str, token: str = TOKEN) -> RotationRequest:
    return RotationRequest.from_event({"SecretId": SECRET, "ClientRequestToken": token, "Step": step})


def rotate(rotator: SecretRotator, *steps: str) -> list[Any]:
    return [rotator.run(request(step)) for step in steps]


ALL_STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def test_a_rotation_changes_the_password_and_moves_awscurrent() -> None:
    secrets, database = FakeSecretsManager.rotating(engine="mysql"), FakeDatabase()

    outcomes = rotate(SecretRotator(secrets, database), *ALL_STEPS)  # type: ignore[arg-type]

    assert [o["Changed"] for o in outcomes] == [True, True, False, True]
    assert database.passwords == {"prism_app": NEW_PASSWORD}
    assert secrets.value("AWSCURRENT") == {"username": "prism_app", "password": NEW_PASSWORD, "engine": "mysql"}
    assert secrets.value("AWSPREVIOUS")["password"] == OLD_PASSWORD
    assert secrets.stages[OLD_VERSION] == ["AWSPREVIOUS"]
    assert "AWSCURRENT" in secrets.stages[TOKEN]
    assert all(session.closed for session in database.sessions)
    assert ("GetRandomPassword", {"PasswordLength": PASSWORD_LENGTH, "Exclude": EXCLUDED_CHARACTERS}) in secrets.calls
    assert EXCLUDED_CHARACTERS == "\"'@/\\:;`%"  # the template's GenerateSecretString


def test_create_secret_keeps_a_pending_value_already_stored() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase()
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, "createSecret")

    again = rotator.run(request("createSecret"))

    assert again == {"Step": "createSecret", "Changed": False}
    assert secrets.writes() == ["PutSecretValue"]


def test_set_secret_does_nothing_when_the_pending_password_already_logs_in() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase()
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, "createSecret", "setSecret")
    statements = list(database.statements)

    again = rotator.run(request("setSecret"))

    assert again == {"Step": "setSecret", "Changed": False}
    assert database.statements == statements


def test_every_step_does_nothing_once_the_version_is_awscurrent() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase()
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, *ALL_STEPS)
    writes, statements, stages = secrets.writes(), list(database.statements), json.dumps(secrets.stages)

    outcomes = rotate(rotator, *ALL_STEPS)

    assert [o["Changed"] for o in outcomes] == [False] * 4
    assert (secrets.writes(), database.statements, json.dumps(secrets.stages)) == (writes, statements, stages)


def test_set_secret_falls_back_to_awsprevious_when_awscurrent_does_not_log_in() -> None:
    secrets = FakeSecretsManager.rotating(password="current-but-never-set")
    secrets.values["00000000-0000-4000-8000-000000000000"] = json.dumps(
        {"username": "prism_app", "password": OLD_PASSWORD}
    )
    secrets.stages["00000000-0000-4000-8000-000000000000"] = ["AWSPREVIOUS"]
    database = FakeDatabase()

    rotate(SecretRotator(secrets, database), "createSecret", "setSecret")  # type: ignore[arg-type]

    assert database.passwords == {"prism_app": NEW_PASSWORD}
    assert database.logins == [NEW_PASSWORD, "current-but-never-set", OLD_PASSWORD]


def test_set_secret_refuses_when_no_known_password_logs_in() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase(passwords={"prism_app": "changed-by-hand"})
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, "createSecret")

    with pytest.raises(
        SecretRotationError, match=r"cannot log in to db\.example:3306 as prism_app with the AWSPENDING"
    ):
        rotator.run(request("setSecret"))
    assert database.passwords == {"prism_app": "changed-by-hand"}


def test_set_secret_refuses_a_pending_version_for_another_user() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase()
    secrets.values[TOKEN] = json.dumps({"username": "someone_else", "password": NEW_PASSWORD})

    with pytest.raises(SecretRotationError, match=r"AWSPENDING names user 'someone_else' but AWSCURRENT 'prism_app'"):
        SecretRotator(secrets, database).run(request("setSecret"))  # type: ignore[arg-type]
    assert database.statements == []


def test_an_unreachable_database_is_relational_unavailable_not_a_wrong_password() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase(unreachable=True)
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, "createSecret")

    with pytest.raises(RelationalUnavailableError, match=r"cannot reach db\.example:3306 as prism_app"):
        rotator.run(request("setSecret"))


def test_test_secret_refuses_a_pending_password_that_does_not_log_in() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase()
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, "createSecret")

    with pytest.raises(SecretRotationError, match=r"AWSPENDING password of secret .* does not log in"):
        rotator.run(request("testSecret"))


def test_finish_secret_moves_awscurrent_from_the_version_that_holds_it() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase()
    rotate(SecretRotator(secrets, database), *ALL_STEPS)  # type: ignore[arg-type]

    assert secrets.calls[-1] == ("UpdateSecretVersionStage", {"To": TOKEN, "From": OLD_VERSION})


def test_a_secret_without_rotation_enabled_is_refused() -> None:
    secrets = FakeSecretsManager.rotating()
    secrets.rotation_enabled = False

    with pytest.raises(SecretRotationError, match=f"secret {SECRET} is not enabled for rotation"):
        SecretRotator(secrets, FakeDatabase()).run(request("createSecret"))  # type: ignore[arg-type]
    assert secrets.writes() == []


def test_a_token_that_is_not_a_version_of_the_secret_is_refused() -> None:
    secrets = FakeSecretsManager.rotating()

    with pytest.raises(SecretRotationError, match="has no staging label for rotation"):
        SecretRotator(secrets, FakeDatabase()).run(  # type: ignore[arg-type]
            request("createSecret", token="00000000-0000-4000-8000-00000000dead")
        )


@pytest.mark.parametrize("step", ALL_STEPS)
def test_a_token_that_is_not_staged_awspending_is_refused(step: str) -> None:
    secrets = FakeSecretsManager.rotating()
    secrets.stages[OLD_VERSION] = ["AWSPREVIOUS"]
    secrets.stages[TOKEN] = []

    with pytest.raises(SecretRotationError, match="is not staged AWSPENDING"):
        SecretRotator(secrets, FakeDatabase()).run(request(step))  # type: ignore[arg-type]
    assert secrets.writes() == []


def test_a_current_value_that_is_not_the_expected_json_is_refused_without_quoting_it() -> None:
    secrets = FakeSecretsManager.rotating()
    secrets.values[OLD_VERSION] = f"password={OLD_PASSWORD}"

    with pytest.raises(SecretRotationError, match=r"AWSCURRENT version of secret .* is not JSON") as raised:
        SecretRotator(secrets, FakeDatabase()).run(request("createSecret"))  # type: ignore[arg-type]
    assert OLD_PASSWORD not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_failed_password_change_hides_the_password_in_the_error() -> None:
    secrets, database = FakeSecretsManager.rotating(), FakeDatabase(refuse_alter=True)
    rotator = SecretRotator(secrets, database)  # type: ignore[arg-type]
    rotate(rotator, "createSecret")

    with pytest.raises(SecretRotationError, match="could not change its password") as raised:
        rotator.run(request("setSecret"))
    assert NEW_PASSWORD not in str(raised.value)
    assert "<hidden>" in str(raised.value)
    assert raised.value.__suppress_context__


@pytest.mark.parametrize(
    "event",
    [
        {"SecretId": SECRET, "ClientRequestToken": TOKEN, "Step": "rotateEverything"},
        {"SecretId": SECRET, "Step": "createSecret"},
        {"Records": []},
    ],
)
def test_an_event_that_is_no_rotation_request_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(SecretRotationError, match="not a Secrets Manager rotation request"):
        RotationRequest.from_event(event)


@pytest.mark.parametrize(
    ("version", "statement"),
    [
        ("8.0.39", "SET PASSWORD = %s"),  # Aurora MySQL 3
        ("8.0.mysql_aurora.3.08.2", "SET PASSWORD = %s"),
        ("10.11.6-MariaDB-0+deb12u1", "SET PASSWORD = PASSWORD(%s)"),
    ],
)
def test_the_password_statement_follows_the_server(version: str, statement: str) -> None:
    assert set_own_password_statement(version) == statement


def test_credentials_never_show_their_password() -> None:
    credentials = DatabaseCredentials("prism_app", OLD_PASSWORD)

    assert OLD_PASSWORD not in repr(credentials)
    assert OLD_PASSWORD not in str(credentials)
    assert "prism_app" in repr(credentials)


def test_no_password_reaches_the_logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = FakeSecretsManager.rotating(password=OLD_PASSWORD)
    secrets.values["00000000-0000-4000-8000-000000000000"] = json.dumps({"username": "prism_app", "password": "prev"})
    secrets.stages["00000000-0000-4000-8000-000000000000"] = ["AWSPREVIOUS"]
    database = FakeDatabase(passwords={"prism_app": "prev"})  # so setSecret also logs the AWSPREVIOUS fallback
    caplog.set_level(logging.DEBUG)

    rotate(SecretRotator(secrets, database), *ALL_STEPS, *ALL_STEPS)  # type: ignore[arg-type]

    logged = caplog.text + capsys.readouterr().out
    assert "setSecret" in logged
    for password in (OLD_PASSWORD, NEW_PASSWORD, "prev"):
        assert f'"{password}"' not in logged
        assert f"'{password}'" not in logged
