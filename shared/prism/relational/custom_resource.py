"""The CloudFormation custom resource ``RelationalMigrations``: applies the schema migrations on deploy.

CloudFormation invokes the function with a request (Create, Update or Delete), ignores what it returns, and
waits for a response document PUT to the request's pre-signed ``ResponseURL``. A request left unanswered
keeps the deploy waiting for an hour before it fails, so every request that says where to answer gets an
answer, SUCCESS or FAILED, whatever went wrong. crhelper is not a layer dependency, and the protocol is one
JSON document and one PUT, so it is written out here.

- **Create and Update** apply the pending migrations through the connection manager, which retries
  transient errors until a deadline taken from the invocation's remaining time. ``apply_migrations`` is
  idempotent and resumable, so an update that brings no new migration file applies nothing, and a retry
  after a lost connection starts again safely.
- **Bootstrap, with DB_APP_USER_SECRET_ARN** (a cluster the stack created): the function logs in as the
  cluster's admin and, before the migrations, creates the database if it is missing and creates or re-syncs
  the app user from its secret, with the projection's DML only (``users``). The migrations then run as the
  admin. Without it (a database its operator manages, the local stack) the function only migrates, as DB_USER.
- **Delete does nothing** and succeeds: the projection's tables hold what analysts query and build on, and
  deleting the stack (or replacing this resource) must never drop them. Dropping the database is a manual
  decision. A Delete does not even read the settings, so a stack whose database is gone or misconfigured
  can still be deleted or rolled back.

The physical id is ``<Database>-schema``: stable across updates, so CloudFormation sees a replacement (and
sends a Delete for the old id, which keeps everything) only when the database itself changes.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypedDict, TypeVar
from urllib.error import HTTPError
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prism.errors import ConfigurationError, PrismError
from prism.observability import logger
from prism.relational import schema
from prism.relational.connection import ConnectionManager, Credentials, SecretCredentials, credentials_for
from prism.relational.schema import apply_migrations
from prism.relational.users import AppUser, check_user_name, create_database, ensure_app_user
from prism.settings import RelationalMigrationSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

T = TypeVar("T")

#: CloudFormation refuses a response body larger than this; the Reason is what gets cut to fit.
RESPONSE_LIMIT_BYTES: Final = 4096
#: Time kept back from the migrations' deadline for answering CloudFormation: the PUT's attempts
#: (3 x 5 s at most) and backoff (0.5 s + 1 s), plus a little for logging and metrics.
SAFETY_MARGIN_S: Final = 20.0
PUT_TIMEOUT_S: Final = 5.0
PUT_ATTEMPTS: Final = 3
PUT_BACKOFF_S: Final = 0.5

_TRUNCATED: Final = " [truncated]"
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_DATABASE_NAME: Final = r"^[A-Za-z0-9_]{1,64}$"
#: Where the admin logs in before its database exists: every MySQL and MariaDB server has it, and any user
#: may select it.
BOOTSTRAP_LOGIN_DATABASE: Final = "information_schema"

Send = Callable[[str, bytes], None]


class InvalidCustomResourceEventError(PrismError):
    """The event is not a CloudFormation custom-resource request this function can carry out."""


class ResponseNotDeliveredError(PrismError):
    """The response could not be PUT to the request's ResponseURL, even after retries."""


class MigrationsData(TypedDict, total=False):
    """The response's Data (``Fn::GetAtt RelationalMigrations.Applied``); empty when the request failed."""

    Applied: str  # the versions applied, comma-separated ("0001,0002"), "" when none was pending
    Count: int


class CustomResourceResponse(TypedDict):
    """The response document, in the shape CloudFormation requires (Reason is required only for FAILED)."""

    Status: Literal["SUCCESS", "FAILED"]
    Reason: str
    PhysicalResourceId: str
    StackId: str
    RequestId: str
    LogicalResourceId: str
    Data: MigrationsData


class InvocationContext(Protocol):
    """What the request needs of the Lambda context."""

    @property
    def log_stream_name(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


class Connection(schema.Connection, Protocol):
    """What the migrator needs of a pymysql connection: the runner's, and switching to another database."""

    def select_db(self, db: str) -> None: ...


class Runner(Protocol):
    """What the migrations need of the connection manager: run ``work`` on a live connection, retrying
    transient errors until ``deadline`` (time.monotonic), then RelationalUnavailableError."""

    def run(self, work: Callable[[Connection], T], *, deadline: float) -> T: ...

    def close(self) -> None: ...


class SchemaMigrator(Protocol):
    """Applies the pending migrations before ``deadline`` (time.monotonic); returns the versions applied."""

    def migrate(self, deadline: float) -> list[str]: ...


class ResponseTarget(BaseModel):
    """Where and to what the response goes: what an event needs for any answer, even a FAILED one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    response_url: str = Field(alias="ResponseURL")
    stack_id: str = Field(alias="StackId", min_length=1)
    request_id: str = Field(alias="RequestId", min_length=1)
    logical_resource_id: str = Field(alias="LogicalResourceId", min_length=1)
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId", min_length=1)

    @field_validator("response_url")
    @classmethod
    def _https_or_loopback(cls, url: str) -> str:
        """HTTPS (CloudFormation's pre-signed S3 URLs), or plain HTTP to this machine for local runs: the
        response must never travel in clear text over a network."""
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
            return url
        raise ValueError("must be an https:// URL (or http:// to 127.0.0.1 or localhost, locally)")


class MigrationProperties(BaseModel):
    """The resource's properties in template.yaml (CloudFormation adds ServiceToken, which is ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    database: str = Field(alias="Database", pattern=_DATABASE_NAME)
    layer_version: str = Field(alias="LayerVersion", min_length=1)


class MigrationsRequest(ResponseTarget):
    """A request to carry out; only Create and Update need the properties (see ``answer``)."""

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")


class AppUserBootstrap:
    """Before the migrations, as the admin: the database (created if missing) and the app user (created or
    re-synced from ``app_user_secret``, granted the projection's DML only). See ``prism.relational.users``."""

    def __init__(self, database: str, app_user_secret: Credentials) -> None:
        self._database, self._secret = database, app_user_secret

    def app_user(self) -> AppUser:
        """The app user with its secret's current password (read afresh, so an Update after a manual change
        of the secret re-syncs it rather than setting a cached one)."""
        self._secret.invalidate()
        return AppUser(check_user_name(self._secret.username), self._secret.password())

    def prepare(self, connection: Connection, user: AppUser) -> None:
        """Create the database and the user, then select the database for the migrations."""
        if user.name == _current_user(connection):
            raise ConfigurationError(
                f"DB_APP_USER_SECRET_ARN names {user.name}, the user the function logs in as; the app user must be "
                "another user (its privileges are cut to the projection's DML)"
            )
        create_database(connection, self._database)
        revoked = ensure_app_user(connection, user, self._database)
        logger.info(
            "Bootstrapped the database and its app user",
            extra={"database": self._database, "app_user": user.name, "privileges_revoked": revoked},
        )
        connection.select_db(self._database)


class ConnectionSchemaMigrator:
    """Runs ``apply_migrations`` through the connection manager (after the ``bootstrap``, if any), and closes
    the connection afterwards: the function runs once per deploy, so holding a connection until the
    environment dies would only take one from the sink."""

    def __init__(self, runner: Runner, bootstrap: AppUserBootstrap | None = None) -> None:
        self._runner, self._bootstrap = runner, bootstrap

    def migrate(self, deadline: float) -> list[str]:
        try:
            if self._bootstrap is None:
                return self._runner.run(apply_migrations, deadline=deadline)
            bootstrap, user = self._bootstrap, self._bootstrap.app_user()

            def bootstrap_then_migrate(connection: Connection) -> list[str]:
                bootstrap.prepare(connection, user)  # idempotent, so a retry after a lost connection is safe
                return apply_migrations(connection)

            return self._runner.run(bootstrap_then_migrate, deadline=deadline)
        finally:
            self._runner.close()


@lru_cache(maxsize=1)
def schema_migrator() -> SchemaMigrator:
    """The migrator with its connection manager; created at the first Create or Update (settings validated
    then, so an invalid setting becomes that request's FAILED response) and reused after."""
    settings = RelationalMigrationSettings.from_env()
    if not settings.db_app_user_secret_arn:
        return ConnectionSchemaMigrator(ConnectionManager(settings, credentials_for(settings)))
    # The database may not exist yet, so the admin logs in without it and selects it once it is created.
    login = settings.model_copy(update={"db_name": BOOTSTRAP_LOGIN_DATABASE})
    return ConnectionSchemaMigrator(
        ConnectionManager(login, credentials_for(login)),
        AppUserBootstrap(settings.db_name, SecretCredentials(settings.db_app_user_secret_arn)),
    )


def _current_user(connection: Connection) -> str:
    """The user name (without host) the server authenticated this connection as."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        row = cursor.fetchone()
    return str(row[0]).rpartition("@")[0] if row else ""


def put_response(
    url: str,
    body: bytes,
    *,
    timeout_s: float = PUT_TIMEOUT_S,
    attempts: int = PUT_ATTEMPTS,
    backoff_s: float = PUT_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """PUT ``body`` to the pre-signed ``url``, retrying network failures and 5xx answers with backoff.

    The Content-Type is empty because the URL's signature was computed without one; S3 refuses a request
    with any other value. A 4xx answer (expired or altered URL) is not retried: repeating it cannot help.
    """
    request = urllib.request.Request(  # noqa: S310  (the scheme was checked: https, or http to loopback)
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as reply:  # noqa: S310  (checked above)
                reply.read()
            return
        except HTTPError as exc:
            if exc.code < 500 or attempt == attempts:
                raise ResponseNotDeliveredError(f"PUT to {_host(url)} answered {exc.code} {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets, broken answers
            if attempt == attempts:
                raise ResponseNotDeliveredError(f"PUT to {_host(url)} failed {attempts} times: {exc}") from exc
        sleep(backoff_s * 2 ** (attempt - 1))


def answer(
    event: Mapping[str, Any],
    context: InvocationContext,
    *,
    migrator: Callable[[], SchemaMigrator],
    send: Send = put_response,
    clock: Callable[[], float] = time.monotonic,
) -> CustomResourceResponse:
    """Carry out the request in ``event`` and PUT the response to its ResponseURL; return that response.

    Every event that names where to answer is answered: a failure of any kind becomes a FAILED response with
    the reason. An undeliverable response is logged and still returned. Only an event without a usable
    ResponseURL, StackId, RequestId or LogicalResourceId (so not from CloudFormation) raises
    InvalidCustomResourceEventError, since there is no one to answer.
    """
    target = _target(event)
    try:
        response = _carry_out(event, target, context, migrator, clock)
    except Exception as exc:  # noqa: BLE001
        # Catch-all on purpose, and not re-raised: CloudFormation invokes custom resources asynchronously
        # and never sees the invocation's error, only the PUT response. The response (with the reason)
        # and this log line (with the traceback) are how the failure is reported; raising after them would
        # only make Lambda retry a request that has already been answered.
        logger.exception("The migrations request failed", extra=_log_keys(target))
        response = _response(target, "FAILED", _fallback_physical_id(event, target), _reason(exc, context), {})
    response = fit_reason(response)
    try:
        send(target.response_url, encode(response))
    except ResponseNotDeliveredError:
        # Returned anyway, so an invocation by hand (`prism invoke`, where nothing may listen) shows it.
        logger.exception(
            "Could not deliver the response to CloudFormation",
            extra={**_log_keys(target), "status": response["Status"], "response_host": _host(target.response_url)},
        )
    else:
        logger.info("Answered CloudFormation", extra={**_log_keys(target), "status": response["Status"]})
    return response


def _target(event: Mapping[str, Any]) -> ResponseTarget:
    try:
        return ResponseTarget.model_validate(event)
    except ValidationError as exc:
        raise InvalidCustomResourceEventError(
            f"not a CloudFormation custom-resource request, so there is nowhere to answer: {_problems(exc)}"
        ) from exc


def _carry_out(
    event: Mapping[str, Any],
    target: ResponseTarget,
    context: InvocationContext,
    migrator: Callable[[], SchemaMigrator],
    clock: Callable[[], float],
) -> CustomResourceResponse:
    try:
        request = MigrationsRequest.model_validate(event)
    except ValidationError as exc:
        raise InvalidCustomResourceEventError(f"invalid custom-resource request: {_problems(exc)}") from exc
    if request.request_type == "Delete":
        logger.info("Delete: the schema and its data are kept", extra=_log_keys(target))
        physical_id = request.physical_resource_id or _fallback_physical_id(event, target)
        return _response(target, "SUCCESS", physical_id, "Delete keeps the schema and its data", _data([]))
    try:
        properties = MigrationProperties.model_validate(event.get("ResourceProperties"))
    except ValidationError as exc:
        raise InvalidCustomResourceEventError(f"invalid ResourceProperties: {_problems(exc)}") from exc
    deadline = clock() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_S
    applied = migrator().migrate(deadline)
    logger.info(
        "Applied the schema migrations",
        extra={
            **_log_keys(target),
            "request_type": request.request_type,
            "database": properties.database,
            "layer_version": properties.layer_version,
            "applied": applied,
        },
    )
    reason = f"applied {', '.join(applied)}" if applied else "the schema was up to date"
    return _response(target, "SUCCESS", _schema_id(properties.database), reason, _data(applied))


def fit_reason(response: CustomResourceResponse) -> CustomResourceResponse:
    """``response`` with its Reason cut (and marked) so the encoded document fits RESPONSE_LIMIT_BYTES."""
    excess = len(encode(response)) - RESPONSE_LIMIT_BYTES
    if excess <= 0:
        return response
    # Each character removed takes at least one byte out of the (ASCII-escaped) JSON, so one cut suffices.
    kept = max(0, len(response["Reason"]) - excess - len(_TRUNCATED))
    return {**response, "Reason": response["Reason"][:kept] + _TRUNCATED}


def encode(response: CustomResourceResponse) -> bytes:
    return json.dumps(response, separators=(",", ":")).encode("ascii")


def _response(
    target: ResponseTarget,
    status: Literal["SUCCESS", "FAILED"],
    physical_id: str,
    reason: str,
    data: MigrationsData,
) -> CustomResourceResponse:
    return {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": target.stack_id,
        "RequestId": target.request_id,
        "LogicalResourceId": target.logical_resource_id,
        "Data": data,
    }


def _data(applied: list[str]) -> MigrationsData:
    return {"Applied": ",".join(applied), "Count": len(applied)}


def _schema_id(database: str) -> str:
    return f"{database}-schema"


def _fallback_physical_id(event: Mapping[str, Any], target: ResponseTarget) -> str:
    """The id the request already has (Update, Delete), else the id a success would have had, else the
    logical id: CloudFormation needs one even for a failed Create (its rollback Delete carries it)."""
    if target.physical_resource_id:
        return target.physical_resource_id
    try:
        return _schema_id(MigrationProperties.model_validate(event.get("ResourceProperties")).database)
    except ValidationError:
        return target.logical_resource_id


def _reason(exc: Exception, context: InvocationContext) -> str:
    """Prism's own errors carry a message a person can act on; anything else is named by its type."""
    message = str(exc) if isinstance(exc, PrismError) else f"unexpected {type(exc).__name__}: {exc}"
    return f"{message} (details in log stream {context.log_stream_name})"


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}" for error in exc.errors()
    )


def _log_keys(target: ResponseTarget) -> dict[str, str]:
    return {"stack_id": target.stack_id, "request_id": target.request_id, "logical_id": target.logical_resource_id}


def _host(url: str) -> str:
    """The URL's host only: the rest of a pre-signed URL is a credential and stays out of logs and reasons."""
    return urlsplit(url).netloc
