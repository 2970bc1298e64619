"""Rotation of the relational app user's password (``RelationalDbSecret``), single-user strategy.

RDS Proxy logs in to Aurora with ``RelationalDbSecret`` (``{"username": "prism_app", "password": ...}``);
the functions reach the proxy with IAM auth and never use this password. Secrets Manager rotates it by
invoking the rotation function four times with the same ``ClientRequestToken``, the id of the new version,
after staging that version ``AWSPENDING`` (with no value yet):

- **createSecret** stores a new random password in that version: the current JSON, new password;
- **setSecret** logs in as the user, with the AWSCURRENT password (or AWSPREVIOUS's, when an earlier rotation
  stopped after changing the password), and changes its own password to the pending one;
- **testSecret** logs in with the pending password and runs ``SELECT 1``;
- **finishSecret** moves AWSCURRENT to the new version; Secrets Manager labels the old one AWSPREVIOUS.

Single user: the user changes its own password (``SET PASSWORD``, which needs no privilege on MySQL 8 or
MariaDB), so no admin secret is involved. The price is a short window, from setSecret to
finishSecret, in which AWSCURRENT no longer logs in: RDS Proxy's open database connections are unaffected,
and a new one fails until the proxy reads the new AWSCURRENT.

Each step starts with the checks of AWS's reference rotation functions (rotation enabled, the token staged
AWSPENDING; a token that is already AWSCURRENT means the rotation is over, so any step does nothing) and is
idempotent, since Secrets Manager retries a failed rotation from the start.

Connections go straight to the cluster's writer endpoint, as the proxy admits IAM auth only, over TLS
verified as every relational connection is (``open_verified_connection``). A password is only ever a
statement parameter or a connect argument: never in SQL text, a log line, an error message or a repr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypedDict, TypeVar

import boto3
import pymysql
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prism.errors import RelationalUnavailableError, SecretRotationError
from prism.observability import logger
from prism.relational.connection import (
    ACCESS_DENIED,
    ca_bundle_path,
    checked_ca_bundle,
    error_code,
    open_verified_connection,
)
from prism.settings import SecretRotationSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mypy_boto3_secretsmanager import SecretsManagerClient

    from prism.relational.schema import Cursor

T = TypeVar("T")

RotationStep = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]

PENDING: Final = "AWSPENDING"
CURRENT: Final = "AWSCURRENT"
PREVIOUS: Final = "AWSPREVIOUS"
#: What GetRandomPassword is asked for: the template's GenerateSecretString for RelationalDbSecret. The
#: characters left out are those that break a MySQL connection string, a shell or a JSON document.
PASSWORD_LENGTH: Final = 32
EXCLUDED_CHARACTERS: Final = "\"'@/\\:;`%"
#: How a user changes its own password with no privilege, on the account (user@host) its login matched.
#: ``ALTER USER CURRENT_USER()`` would need the CREATE USER privilege on MariaDB 10.11 (error 1227), and
#: MySQL 8 dropped the ``PASSWORD()`` function, so the statement follows the server (as AWS's reference
#: functions do): MySQL 8 (Aurora MySQL 3) takes the cleartext, MariaDB hashes it with ``PASSWORD()``.
SET_OWN_LOGIN_MYSQL: Final = "SET PASSWORD = %s"
SET_OWN_LOGIN_MARIADB: Final = "SET PASSWORD = PASSWORD(%s)"
_EXPECTED_JSON: Final = 'a JSON object {"username": "...", "password": "..."}'


class RotationRequest(BaseModel):
    """What Secrets Manager sends the rotation function (other keys, such as RotationToken, are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    secret_id: str = Field(alias="SecretId", min_length=1)
    token: str = Field(alias="ClientRequestToken", min_length=32, max_length=64)
    step: RotationStep = Field(alias="Step")

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RotationRequest:
        try:
            return cls.model_validate(event)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}" for error in exc.errors()
            )
            raise SecretRotationError(f"not a Secrets Manager rotation request: {problems}") from exc


class StepOutcome(TypedDict):
    """What a step did; ``Changed`` is False when it found its work already done (or, testSecret, always)."""

    Step: RotationStep
    Changed: bool


@dataclass(frozen=True)
class DatabaseCredentials:
    """A user name and password from one version of the secret; the password never shows in a repr."""

    username: str
    password: str = field(repr=False)


class DatabaseSession(Protocol):
    """What a step needs of a pymysql connection."""

    def cursor(self) -> Cursor: ...

    def close(self) -> None: ...


class DatabaseLogin(Protocol):
    """Opens a session as ``credentials``. Refused credentials raise pymysql's error 1045 (access denied);
    a TLS failure raises RelationalTlsError; anything else a pymysql error or OSError."""

    @property
    def where(self) -> str: ...

    def __call__(self, credentials: DatabaseCredentials) -> DatabaseSession: ...


class TlsDatabaseLogin:
    """Logins to ``DB_HOST:DB_PORT`` over TLS verified against ``DB_CA_BUNDLE`` (checked here, once)."""

    def __init__(self, settings: SecretRotationSettings, *, connect: Callable[..., Any] = pymysql.connect) -> None:
        self._settings, self._connect = settings, connect
        self._ca_bundle = checked_ca_bundle(ca_bundle_path(settings.db_ca_bundle))

    @property
    def where(self) -> str:
        return f"{self._settings.db_host}:{self._settings.db_port}"

    def __call__(self, credentials: DatabaseCredentials) -> DatabaseSession:
        session: DatabaseSession = open_verified_connection(
            self._connect,
            host=self._settings.db_host,
            port=self._settings.db_port,
            user=credentials.username,
            password=credentials.password,
            database=None,
            ca_bundle=self._ca_bundle,
            connect_timeout_s=self._settings.db_connect_timeout_s,
            read_timeout_s=self._settings.db_read_timeout_s,
        )
        return session


class SecretRotator:
    """Carries out one step of a rotation of a ``{"username", "password"}`` secret (see the module's docstring)."""

    def __init__(self, secrets: SecretsManagerClient, login: DatabaseLogin) -> None:
        self._secrets, self._login = secrets, login

    def run(self, request: RotationRequest) -> StepOutcome:
        """Check that ``request`` belongs to a rotation in progress, then carry out its step.

        Raises SecretRotationError when the secret or the request is not fit for rotation, RelationalTlsError
        or RelationalUnavailableError when the database cannot be reached.
        """
        versions = self._versions(request)
        if CURRENT in versions[request.token]:
            logger.info("The version is already AWSCURRENT: the rotation is over", extra=_keys(request))
            return {"Step": request.step, "Changed": False}
        if request.step == "createSecret":
            changed = self._create(request)
        elif request.step == "setSecret":
            changed = self._set(request)
        elif request.step == "testSecret":
            changed = self._test(request)
        else:
            changed = self._finish(request, versions)
        return {"Step": request.step, "Changed": changed}

    def _versions(self, request: RotationRequest) -> Mapping[str, Sequence[str]]:
        """The secret's versions and their labels, once the checks of AWS's reference functions pass."""
        description = self._call(
            "DescribeSecret", request, lambda: self._secrets.describe_secret(SecretId=request.secret_id)
        )
        if not description.get("RotationEnabled", False):
            raise SecretRotationError(f"secret {request.secret_id} is not enabled for rotation")
        versions = description.get("VersionIdsToStages", {})
        stages = versions.get(request.token)
        if stages is None:
            raise SecretRotationError(
                f"version {request.token} of secret {request.secret_id} has no staging label for rotation: Secrets"
                " Manager stages it AWSPENDING before it invokes this function"
            )
        if CURRENT not in stages and PENDING not in stages:
            raise SecretRotationError(
                f"version {request.token} of secret {request.secret_id} is not staged AWSPENDING (its labels:"
                f" {', '.join(stages) or 'none'}): it is not the version being rotated"
            )
        return versions

    def _create(self, request: RotationRequest) -> bool:
        current, _ = self._read(request, CURRENT)  # a current value that is unusable stops the rotation here
        if self._fetch(request, PENDING, request.token) is not None:
            logger.info("createSecret: the AWSPENDING version already has a value", extra=_keys(request))
            return False
        generated = self._call(
            "GetRandomPassword",
            request,
            lambda: self._secrets.get_random_password(
                PasswordLength=PASSWORD_LENGTH, ExcludeCharacters=EXCLUDED_CHARACTERS
            ),
        )
        pending = json.dumps({**current, "password": generated["RandomPassword"]})
        self._call(
            "PutSecretValue",
            request,
            lambda: self._secrets.put_secret_value(
                SecretId=request.secret_id,
                ClientRequestToken=request.token,
                SecretString=pending,
                VersionStages=[PENDING],
            ),
        )
        logger.info("createSecret: stored a new password as AWSPENDING", extra=_keys(request))
        return True

    def _set(self, request: RotationRequest) -> bool:
        _, current = self._read(request, CURRENT)
        _, pending = self._read(request, PENDING, request.token)
        if pending.username != current.username:
            raise SecretRotationError(
                f"secret {request.secret_id}: AWSPENDING names user {pending.username!r} but AWSCURRENT"
                f" {current.username!r}; single-user rotation changes one user's own password"
            )
        session = self._try_login(pending)
        if session is not None:
            session.close()
            logger.info("setSecret: the AWSPENDING password already logs in", extra=_keys(request))
            return False
        session = self._try_login(current)
        if session is None:
            session = self._login_as_previous(request, pending.username)
        if session is None:
            raise SecretRotationError(
                f"cannot log in to {self._login.where} as {pending.username} with the AWSPENDING, AWSCURRENT or"
                f" AWSPREVIOUS password of secret {request.secret_id}; set the user's password to AWSCURRENT's by"
                " hand, then rotate again"
            )
        try:
            with session.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                version = cursor.fetchone()
                statement = set_own_password_statement(str(version[0]) if version else "")
                cursor.execute(statement, (pending.password,))
        except pymysql.MySQLError as exc:
            # Raised without its cause: the server's message may quote the statement, password included.
            message = str(exc).replace(pending.password, "<hidden>")
            raise SecretRotationError(
                f"{pending.username} could not change its password on {self._login.where}: {message}"
            ) from None
        finally:
            session.close()
        logger.info("setSecret: changed the user's password to AWSPENDING", extra=_keys(request))
        return True

    def _test(self, request: RotationRequest) -> bool:
        _, pending = self._read(request, PENDING, request.token)
        session = self._try_login(pending)
        if session is None:
            raise SecretRotationError(
                f"the AWSPENDING password of secret {request.secret_id} does not log in to {self._login.where} as"
                f" {pending.username}: setSecret has not changed it, or it was changed since"
            )
        try:
            with session.cursor() as cursor:
                cursor.execute("SELECT 1")
                row = cursor.fetchone()
        except pymysql.MySQLError as exc:
            raise RelationalUnavailableError(f"testSecret: SELECT 1 on {self._login.where} failed: {exc}") from exc
        finally:
            session.close()
        if row is None or row[0] != 1:
            raise SecretRotationError(f"testSecret: SELECT 1 on {self._login.where} answered {row!r}")
        logger.info("testSecret: the AWSPENDING password logs in", extra=_keys(request))
        return False

    def _finish(self, request: RotationRequest, versions: Mapping[str, Sequence[str]]) -> bool:
        current = next((version for version, stages in versions.items() if CURRENT in stages), None)
        if current is None:
            self._call(
                "UpdateSecretVersionStage",
                request,
                lambda: self._secrets.update_secret_version_stage(
                    SecretId=request.secret_id, VersionStage=CURRENT, MoveToVersionId=request.token
                ),
            )
        else:
            self._call(
                "UpdateSecretVersionStage",
                request,
                lambda: self._secrets.update_secret_version_stage(
                    SecretId=request.secret_id,
                    VersionStage=CURRENT,
                    MoveToVersionId=request.token,
                    RemoveFromVersionId=current,
                ),
            )
        logger.info("finishSecret: AWSCURRENT moved to the new version", extra={**_keys(request), "previous": current})
        return True

    def _login_as_previous(self, request: RotationRequest, username: str) -> DatabaseSession | None:
        """A session with the AWSPREVIOUS password, as AWS's reference functions fall back to: AWSCURRENT
        no longer logs in when someone put the previous password back, or moved AWSCURRENT by hand."""
        value = self._fetch(request, PREVIOUS)
        if value is None:
            return None
        _, previous = _credentials(value, f"the {PREVIOUS} version of secret {request.secret_id}")
        if previous.username != username:
            return None
        logger.warning("setSecret: AWSCURRENT does not log in; trying AWSPREVIOUS", extra=_keys(request))
        return self._try_login(previous)

    def _try_login(self, credentials: DatabaseCredentials) -> DatabaseSession | None:
        """A session as ``credentials``, or None when the server refuses them."""
        try:
            return self._login(credentials)
        except (pymysql.MySQLError, OSError) as exc:
            if error_code(exc) == ACCESS_DENIED:
                return None
            raise RelationalUnavailableError(
                f"cannot reach {self._login.where} as {credentials.username}: {exc}"
            ) from exc

    def _read(
        self, request: RotationRequest, stage: str, version_id: str | None = None
    ) -> tuple[dict[str, Any], DatabaseCredentials]:
        """The JSON document of the version labelled ``stage`` (and ``version_id``), and its credentials."""
        where = f"the {stage} version of secret {request.secret_id}"
        value = self._fetch(request, stage, version_id)
        if value is None:
            raise SecretRotationError(f"{where} has no value")
        return _credentials(value, where)

    def _fetch(self, request: RotationRequest, stage: str, version_id: str | None = None) -> str | None:
        """The string value of the version labelled ``stage`` (and ``version_id``); None when there is none."""
        try:
            if version_id is None:
                response = self._secrets.get_secret_value(SecretId=request.secret_id, VersionStage=stage)
            else:
                response = self._secrets.get_secret_value(
                    SecretId=request.secret_id, VersionId=version_id, VersionStage=stage
                )
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return None
            raise SecretRotationError(f"Secrets Manager GetSecretValue on {request.secret_id} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise SecretRotationError(f"Secrets Manager GetSecretValue on {request.secret_id} failed: {exc}") from exc
        return response.get("SecretString")

    @staticmethod
    def _call(operation: str, request: RotationRequest, call: Callable[[], T]) -> T:
        try:
            return call()
        except (ClientError, BotoCoreError) as exc:
            raise SecretRotationError(f"Secrets Manager {operation} on {request.secret_id} failed: {exc}") from exc


def set_own_password_statement(server_version: str) -> str:
    """The statement that sets the connected user's own password, for a server of ``SELECT VERSION()``."""
    return SET_OWN_LOGIN_MARIADB if "mariadb" in server_version.lower() else SET_OWN_LOGIN_MYSQL


@lru_cache(maxsize=1)
def secret_rotator() -> SecretRotator:
    """The rotator with its Secrets Manager client and database login; built at the first invocation, with
    the settings validated then."""
    settings = SecretRotationSettings.from_env()
    return SecretRotator(boto3.client("secretsmanager", region_name=settings.aws_region), TlsDatabaseLogin(settings))


def _credentials(value: str, where: str) -> tuple[dict[str, Any], DatabaseCredentials]:
    """The JSON document ``value`` and its credentials; ``where`` names the version in errors."""
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        # Not chained: the decoder's message quotes the document, and so possibly the password.
        raise SecretRotationError(f"{where} is not JSON; it must be {_EXPECTED_JSON}") from None
    if not isinstance(document, dict):
        raise SecretRotationError(f"{where} is a JSON {type(document).__name__}; it must be {_EXPECTED_JSON}")
    missing = [key for key in ("username", "password") if not (isinstance(document.get(key), str) and document[key])]
    if missing:
        raise SecretRotationError(
            f"{where} has no non-empty string {' or '.join(missing)}; it must be {_EXPECTED_JSON}"
        )
    return document, DatabaseCredentials(document["username"], document["password"])


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _keys(request: RotationRequest) -> dict[str, str]:
    return {"secret_id": request.secret_id, "step": request.step, "version_id": request.token}
