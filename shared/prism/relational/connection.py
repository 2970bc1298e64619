"""The relational database connection of an execution environment (RDS Proxy on AWS, MariaDB locally).

What RDS Proxy asks of a client, and how this module does it (DESIGN, "Aurora MySQL through RDS Proxy"):
- **Reuse.** One connection per execution environment, kept across invocations, pinged before each use and
  rebuilt only when dead. Opening a connection per invocation is the connection storm the proxy cannot absorb.
- **No pinning.** Anything that leaves session state (``SET``, temporary tables, ``LOCK``, user variables) pins
  the client to one database connection for good. The connect arguments below send no ``SET`` of our own.
- **Token renewal.** IAM tokens last 15 minutes and are checked only when a connection opens; they are renewed
  well before that, so a reconnect after a failover never presents an expired one.
- **TLS, verified.** The proxy wants TLS for IAM auth, and the token travels as a cleartext password, so the
  server's certificate and host name are always checked, against the CA bundle shipped in ``certs/``.
- **Transient errors** (lost connection, deadlock, read-only writer after failover) are retried with exponential
  backoff and full jitter inside the caller's time budget; ``work`` is retried whole, so it must be idempotent.
"""

from __future__ import annotations

import random
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import boto3
import pymysql
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from prism.errors import ConfigurationError, RelationalTlsError, RelationalUnavailableError
from prism.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from pymysql.connections import Connection

    from prism.settings import RelationalSettings

T = TypeVar("T")

#: The RDS root CAs (direct Aurora endpoints) and Amazon Trust Services roots (RDS Proxy's ACM certificates).
BUNDLED_CA_BUNDLE: Final[Path] = Path(__file__).with_name("certs") / "rds-ca-bundle.pem"

#: Connection errors: the connection is closed and the next attempt reconnects. A writer that turned read-only
#: (1290, 1836) after a failover is reconnected too: a new connection reaches the new writer.
CONNECTION_ERROR_CODES: Final = frozenset({2003, 2006, 2013, 1290, 1836})
#: Errors worth retrying: the connection errors, a deadlock (1213) and a lock wait timeout (1205). These two
#: keep the connection; a deadlock rolls the transaction back, a lock wait timeout only the statement (unless
#: innodb_rollback_on_timeout), so the manager rolls back before the retry either way.
TRANSIENT_ERROR_CODES: Final = CONNECTION_ERROR_CODES | {1213, 1205}
ACCESS_DENIED: Final = 1045  # a rotated password or an expired token: renew the credentials, retry once
SSL_CONNECTION_ERROR: Final = 2026  # pymysql: "SSL is required but the server doesn't support it"
BACKOFF_BASE_S: Final = 0.05
BACKOFF_CAP_S: Final = 2.0
# OpenSSL verify codes (X509_V_ERR_*) that call for a hint: the server's chain is unknown to the bundle, or
# its certificate is not for the host connected to.
_UNKNOWN_ISSUER: Final = frozenset({2, 18, 19, 20, 21})
_NAME_MISMATCH: Final = frozenset({62, 64})
# SSL errors of a dropped connection during the handshake, not of a TLS setup that can never work.
_SSL_TRANSPORT_ERRORS: Final = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
_EXPECTED_JSON: Final = 'a JSON object {"username": "...", "password": "..."}'


class Credentials(Protocol):
    """Who connects, and with what password; ``invalidate`` makes the next ``password()`` a fresh one."""

    @property
    def username(self) -> str: ...

    def password(self) -> str: ...

    def invalidate(self) -> None: ...


class RdsTokenSigner(Protocol):
    """The part of boto3's RDS client that signs IAM auth tokens (locally: no call to AWS)."""

    def generate_db_auth_token(self, DBHostname: str, Port: int, DBUsername: str, Region: str | None = None) -> str: ...


class SecretFetcher(Protocol):
    def __call__(self, name: str, *, transform: Any, force_fetch: bool, max_age: int, VersionStage: str) -> Any: ...


class IamTokenCredentials:
    """IAM database auth: a token signed with the function's role, cached and renewed after ``renew_after_s``.

    Tokens last 15 minutes but are checked only when a connection opens, so an open connection outlives its
    token; renewing at 10 minutes leaves a reconnect ample margin.
    """

    def __init__(
        self,
        rds_client: RdsTokenSigner,
        *,
        host: str,
        port: int,
        user: str,
        region: str,
        clock: Callable[[], float] = time.monotonic,
        renew_after_s: float = 600,
    ) -> None:
        if not 0 < renew_after_s < 900:
            raise ValueError(f"renew_after_s must be between 0 and 900 s (the token's lifetime), not {renew_after_s}")
        self._rds, self._host, self._port, self._user, self._region = rds_client, host, port, user, region
        self._clock, self._renew_after_s = clock, renew_after_s
        self._token: str | None = None
        self._signed_at = 0.0

    @property
    def username(self) -> str:
        return self._user

    def password(self) -> str:
        now = self._clock()
        if self._token is None or now - self._signed_at >= self._renew_after_s:
            self._token = self._rds.generate_db_auth_token(
                DBHostname=self._host, Port=self._port, DBUsername=self._user, Region=self._region
            )
            self._signed_at = now
        return self._token

    def invalidate(self) -> None:
        self._token = None


class SecretCredentials:
    """A Secrets Manager secret ``{"username": ..., "password": ...}`` (more keys allowed), read through
    Powertools parameters, which caches it for ``max_age_s``. ``invalidate`` forces a re-read, to pick up a
    rotated password after an access-denied. The secret's username wins over DB_USER: rotation may switch users.
    """

    def __init__(self, secret_arn: str, *, fetch: SecretFetcher = parameters.get_secret, max_age_s: int = 300) -> None:
        self._arn, self._fetch, self._max_age_s = secret_arn, fetch, max_age_s
        self._force_fetch = False

    @property
    def username(self) -> str:
        return self._read()[0]

    def password(self) -> str:
        return self._read()[1]

    def invalidate(self) -> None:
        self._force_fetch = True

    def _read(self) -> tuple[str, str]:
        try:
            # AWSCURRENT named explicitly: what Secrets Manager returns by default, and what moto returns only
            # when asked (its default version does not follow a rotation's finishSecret).
            secret = self._fetch(
                self._arn,
                transform="json",
                force_fetch=self._force_fetch,
                max_age=self._max_age_s,
                VersionStage="AWSCURRENT",
            )
        except TransformParameterError as exc:
            raise ConfigurationError(f"secret {self._arn} is not JSON; it must be {_EXPECTED_JSON}") from exc
        except GetParameterError as exc:
            raise RelationalUnavailableError(f"could not read the database secret {self._arn}: {exc}") from exc
        self._force_fetch = False
        if not isinstance(secret, dict):
            raise ConfigurationError(
                f"secret {self._arn} is a JSON {type(secret).__name__}; it must be {_EXPECTED_JSON}"
            )
        missing = [key for key in ("username", "password") if not (isinstance(secret.get(key), str) and secret[key])]
        if missing:
            raise ConfigurationError(
                f"secret {self._arn} has no non-empty string {' or '.join(missing)} (its keys: "
                f"{', '.join(sorted(map(str, secret))) or 'none'}); it must be {_EXPECTED_JSON}"
            )
        return secret["username"], secret["password"]


def credentials_for(
    settings: RelationalSettings,
    *,
    rds_client: RdsTokenSigner | None = None,
    fetch_secret: SecretFetcher | None = None,
) -> Credentials:
    """The credentials ``settings.db_auth`` names: an IAM token (default) or a Secrets Manager secret."""
    if settings.db_auth == "secret":
        return SecretCredentials(settings.db_secret_arn, fetch=fetch_secret or parameters.get_secret)
    signer: RdsTokenSigner = rds_client or boto3.client("rds", region_name=settings.aws_region)
    return IamTokenCredentials(
        signer, host=settings.db_host, port=settings.db_port, user=settings.db_user, region=settings.aws_region
    )


def error_code(exc: BaseException) -> int | None:
    """The MySQL error number of a pymysql error (``exc.args[0]``), or None."""
    if isinstance(exc, pymysql.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def breaks_connection(exc: BaseException) -> bool:
    """Whether ``exc`` leaves the connection unusable (or pointed at a demoted writer)."""
    return isinstance(exc, pymysql.err.InterfaceError | OSError) or error_code(exc) in CONNECTION_ERROR_CODES


def is_transient(exc: BaseException) -> bool:
    return breaks_connection(exc) or error_code(exc) in TRANSIENT_ERROR_CODES


class ConnectionManager:
    """Owns the environment's one connection: opens it, checks it before use, and runs work on it with retries.

    ``connections_opened`` and ``retries`` count what happened, for the caller's metrics and the benchmark.
    """

    def __init__(
        self,
        settings: RelationalSettings,
        credentials: Credentials,
        *,
        connect: Callable[..., Connection] = pymysql.connect,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._settings, self._credentials, self._connect = settings, credentials, connect
        self._clock, self._sleep, self._rng = clock, sleep, rng
        self._ca_bundle = ca_bundle_path(settings.db_ca_bundle)
        self._ca_checked = False
        self._connection: Connection | None = None
        self.connections_opened = 0
        self.retries = 0

    def connection(self) -> Connection:
        """A live connection: the current one if it answers a ping, else a new one."""
        if self._connection is not None:
            try:
                self._connection.ping(reconnect=False)
            except (pymysql.MySQLError, OSError) as exc:
                logger.info("Relational connection is dead; reconnecting", extra={"error": repr(exc)})
                self._discard()
            else:
                return self._connection
        self._connection = self._open()
        return self._connection

    def run(self, work: Callable[[Connection], T], *, deadline: float, operation: str | None = None) -> T:
        """``work(connection)``, retried on transient errors while the next try can start before ``deadline``
        (in ``clock`` time). Raises RelationalUnavailableError when they outlast it, RelationalTlsError or
        ConfigurationError at once, and any other pymysql error unchanged."""
        what = operation or getattr(work, "__qualname__", type(work).__name__)
        attempt, renewed_credentials = 0, False
        while True:
            attempt += 1
            try:
                return self._attempt(work)
            except (pymysql.MySQLError, OSError) as exc:
                code = error_code(exc)
                if code == ACCESS_DENIED and not renewed_credentials:
                    renewed_credentials, delay = True, 0.0
                    self._credentials.invalidate()
                elif code == ACCESS_DENIED:
                    raise RelationalUnavailableError(
                        f"{what}: access to {self._where()} denied {attempt} times, also with renewed credentials;"
                        f" check the user's grants and the role's rds-db:connect policy. Last error: {exc}"
                    ) from exc
                elif is_transient(exc):
                    delay = self._rng() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempt - 1, 16))
                    if self._clock() + delay >= deadline:
                        raise RelationalUnavailableError(
                            f"{what} on {self._where()} failed with transient errors {attempt} times and the time"
                            f" budget ran out; last error: {exc!r}"
                        ) from exc
                else:
                    raise
                logger.warning(
                    "Relational error; retrying",
                    extra={"operation": what, "attempt": attempt, "code": code, "delay_s": round(delay, 4)},
                )
                self.retries += 1
                self._sleep(delay)

    def close(self) -> None:
        """Close the connection, if any; the next use opens a new one."""
        self._discard()

    def _attempt(self, work: Callable[[Connection], T]) -> T:
        connection = self.connection()
        try:
            return work(connection)
        except Exception as exc:
            if breaks_connection(exc):
                self._discard()
            else:
                # A lock wait timeout, or any failure but a deadlock, may leave the transaction open, and the next
                # BEGIN on this reused connection would silently commit it.
                self._rollback(connection)
            raise

    def _open(self) -> Connection:
        settings = self._settings
        connection = open_verified_connection(
            self._connect,
            host=settings.db_host,
            port=settings.db_port,
            user=self._credentials.username,
            password=self._credentials.password(),
            database=settings.db_name,
            ca_bundle=self._checked_ca_bundle(),
            connect_timeout_s=settings.db_connect_timeout_s,
            read_timeout_s=settings.db_read_timeout_s,
        )
        self.connections_opened += 1
        logger.info(
            "Opened relational connection",
            extra={"host": settings.db_host, "port": settings.db_port, "connections_opened": self.connections_opened},
        )
        return connection

    def _checked_ca_bundle(self) -> Path:
        """The CA bundle, checked once (see ``checked_ca_bundle``)."""
        if not self._ca_checked:
            checked_ca_bundle(self._ca_bundle)
            self._ca_checked = True
        return self._ca_bundle

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except (pymysql.MySQLError, OSError) as exc:  # "Already closed"; the socket is dropped either way
                logger.debug("Closing a dead relational connection failed", extra={"error": repr(exc)})

    def _rollback(self, connection: Connection) -> None:
        try:
            connection.rollback()
        except pymysql.MySQLError as exc:
            logger.warning("Rollback after a failed attempt failed", extra={"error": repr(exc)})

    def _where(self) -> str:
        return f"{self._settings.db_host}:{self._settings.db_port}"


def ca_bundle_path(setting: str) -> Path:
    """The CA bundle ``DB_CA_BUNDLE`` names, or the RDS and Amazon root CAs shipped in ``certs/`` when it is empty."""
    return Path(setting) if setting else BUNDLED_CA_BUNDLE


def checked_ca_bundle(ca_bundle: Path) -> Path:
    """``ca_bundle``, once checked to load as PEM CAs: pymysql would raise a bare OSError for it, which reads
    as an unreachable server and would be retried. Raises ConfigurationError."""
    try:
        ssl.create_default_context(cafile=str(ca_bundle))
    except OSError as exc:  # missing or unreadable; ssl.SSLError (an OSError too) when it holds no PEM
        raise ConfigurationError(f"DB_CA_BUNDLE {ca_bundle} cannot be loaded as PEM CAs: {exc}") from exc
    return ca_bundle


def open_verified_connection(
    connect: Callable[..., Connection],
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    database: str | None,
    ca_bundle: Path,
    connect_timeout_s: float,
    read_timeout_s: float,
) -> Connection:
    """A new connection over TLS, the server's certificate and host name verified against ``ca_bundle``.

    A TLS failure raises RelationalTlsError with a hint; any other pymysql error is raised unchanged, for the
    caller to judge (``error_code``, ``is_transient``).
    """
    try:
        # Nothing here makes pymysql send a SET of ours after the handshake (a SET can pin a proxy connection):
        # - autocommit=None: pymysql's default (False) sends "SET AUTOCOMMIT = 0"; None sends nothing and keeps
        #   the server's autocommit=1, so callers use explicit begin()/commit();
        # - no init_command or sql_mode (each one more statement) and no collation (it extends SET NAMES).
        # pymysql 1.2's connect() always sends "SET NAMES utf8mb4" (PyMySQL#1092); RDS Proxy tracks NAMES
        # without pinning, and nothing else is sent with these arguments.
        # IAM auth through the proxy asks for the mysql_clear_password plugin, which pymysql answers with no
        # opt-in (the token + NUL): the token's secrecy rests on the verified TLS below.
        return connect(
            host=host,
            port=port,
            user=user,
            password=password,
            database=database,
            ssl_ca=str(ca_bundle),
            ssl_verify_cert=True,
            ssl_verify_identity=True,
            charset="utf8mb4",
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            write_timeout=read_timeout_s,
            autocommit=None,
        )
    except pymysql.MySQLError as exc:
        problem = _tls_problem(exc, host)
        if problem is not None:
            raise RelationalTlsError(f"TLS to {host}:{port} failed: {problem} (CA bundle {ca_bundle})") from exc
        raise


def _tls_problem(exc: BaseException, host: str) -> str | None:
    """Why TLS failed, with a hint, or None when ``exc`` is no TLS failure. pymysql wraps the handshake's
    ``ssl.SSLError`` as ``OperationalError(2003, "Can't connect to MySQL server on 'host' (<ssl error>)")``,
    with the original as ``original_exception`` and ``__context__``."""
    if error_code(exc) == SSL_CONNECTION_ERROR:
        return "the server does not offer TLS"
    cause = _ssl_cause(exc)
    if cause is None or isinstance(cause, _SSL_TRANSPORT_ERRORS):
        return None
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS handshake error {cause.reason or cause}"
    problem = f"certificate verify failed: {cause.verify_message}"
    if cause.verify_code in _UNKNOWN_ISSUER:
        return f"{problem}; is DB_CA_BUNDLE the CA that signed the server's certificate?"
    if cause.verify_code in _NAME_MISMATCH:
        return f"{problem}; the server's certificate is not for {host}"
    return problem


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    current: BaseException | None = exc
    for _ in range(8):  # a bounded walk: cause chains can loop
        if current is None or isinstance(current, ssl.SSLError):
            return current
        original = getattr(current, "original_exception", None)
        current = original if isinstance(original, BaseException) else current.__cause__ or current.__context__
    return None
