"""The relational connection without a database: credentials, connect arguments, reuse, retries and TLS errors.

Fakes stand in for pymysql's connect, the RDS client and Powertools' get_secret. The TLS tests run pymysql's
real handshake code over a socket pair against a fake server that speaks just enough of the MySQL protocol
to ask for TLS, so the errors they check are the ones pymysql really raises.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pymysql
import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from pymysql.constants import CLIENT

from prism.errors import ConfigurationError, RelationalTlsError, RelationalUnavailableError
from prism.relational.connection import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    BUNDLED_CA_BUNDLE,
    TRANSIENT_ERROR_CODES,
    ConnectionManager,
    IamTokenCredentials,
    SecretCredentials,
    credentials_for,
)
from prism.settings import RelationalSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prism-db-AbCdEf"


def relational_settings(**overrides: Any) -> RelationalSettings:
    values: dict[str, Any] = {
        "db_host": "db.example.com",
        "db_name": "prism",
        "db_user": "prism_sink",
        "db_auth": "secret",
        "db_secret_arn": SECRET_ARN,
        "db_read_timeout_s": 2.0,
        "aws_region": "us-east-1",
    }
    return RelationalSettings.model_validate(values | overrides)


# --- fakes -------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeRdsClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def generate_db_auth_token(self, DBHostname: str, Port: int, DBUsername: str, Region: str | None = None) -> str:
        self.calls.append({"DBHostname": DBHostname, "Port": Port, "DBUsername": DBUsername, "Region": Region})
        return f"token-{len(self.calls)}"


class FakeSecrets:
    """Powertools' get_secret: returns ``value`` (or raises it), and records every call's arguments."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.calls: list[dict[str, Any]] = []

    def __call__(self, name: str, *, transform: Any, force_fetch: bool, max_age: int, VersionStage: str) -> Any:
        self.calls.append({"name": name, "transform": transform, "force_fetch": force_fetch, "max_age": max_age})
        assert VersionStage == "AWSCURRENT"
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


@dataclass
class FakeCredentials:
    username: str = "prism_sink"
    secret: str = "s3cr3t"
    invalidations: int = 0

    def password(self) -> str:
        return self.secret

    def invalidate(self) -> None:
        self.invalidations += 1


@dataclass
class FakeConnection:
    number: int
    ping_error: Exception | None = None
    closed: bool = False
    pings: int = 0
    rollbacks: int = 0

    def ping(self, reconnect: bool = True) -> None:
        assert reconnect is False, "reconnecting inside ping hides the new connection from the count"
        self.pings += 1
        if self.ping_error is not None:
            raise self.ping_error

    def rollback(self) -> None:
        self.rollbacks += 1

    def close(self) -> None:
        if self.closed:
            raise pymysql.err.Error("Already closed")
        self.closed = True


@dataclass
class FakeConnect:
    """pymysql.connect: raises the queued ``failures`` first, then opens fake connections."""

    failures: list[Exception] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    opened: list[FakeConnection] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> FakeConnection:
        self.calls.append(kwargs)
        if self.failures:
            raise self.failures.pop(0)
        connection = FakeConnection(len(self.opened))
        self.opened.append(connection)
        return connection


class ScriptedWork:
    """Work that raises each of ``errors`` in turn, then returns ``"done"``; it remembers its connections."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.connections: list[FakeConnection] = []

    def __call__(self, connection: FakeConnection) -> str:
        self.connections.append(connection)
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@dataclass
class Harness:
    connect: FakeConnect
    clock: FakeClock
    credentials: FakeCredentials
    manager: ConnectionManager


def harness(settings: RelationalSettings | None = None, *, rng: Callable[[], float] = lambda: 0.5) -> Harness:
    connect, clock, credentials = FakeConnect(), FakeClock(), FakeCredentials()
    manager = ConnectionManager(
        settings or relational_settings(), credentials, connect=connect, clock=clock, sleep=clock.sleep, rng=rng
    )
    return Harness(connect, clock, credentials, manager)


def mysql_error(code: int, cls: type[pymysql.MySQLError] = pymysql.err.OperationalError) -> pymysql.MySQLError:
    return cls(code, f"error {code}")


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and a server certificate for db.example.com that it signed."""
    directory = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Prism unit-test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "db.example.com")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("db.example.com")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Pki(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.server_cert.write_bytes(server.public_bytes(pem))
    paths.server_key.write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


# --- credentials -------------------------------------------------------------------------------------------


def test_an_iam_token_is_a_presigned_rds_connect_url_for_the_host_port_and_user() -> None:
    rds = boto3.client("rds", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    credentials = IamTokenCredentials(rds, host="db.example.com", port=3306, user="prism_sink", region="us-east-1")

    token = credentials.password()

    assert token.startswith("db.example.com:3306/?Action=connect&DBUser=prism_sink&X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    query = parse_qs(urlsplit("//" + token).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Credential"][0].startswith("AKIDEXAMPLE/")
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/rds-db/aws4_request")
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"][0])
    assert credentials.username == "prism_sink"


def test_an_iam_token_is_reused_until_renew_after_then_signed_anew() -> None:
    rds, clock = FakeRdsClient(), FakeClock()
    credentials = IamTokenCredentials(
        rds, host="proxy.example.com", port=3306, user="prism_sink", region="eu-west-1", clock=clock
    )

    first = credentials.password()
    clock.now = 599.9
    before_renewal = credentials.password()
    clock.now = 600.0
    renewed = credentials.password()

    assert (first, before_renewal, renewed) == ("token-1", "token-1", "token-2")
    assert (
        rds.calls
        == [{"DBHostname": "proxy.example.com", "Port": 3306, "DBUsername": "prism_sink", "Region": "eu-west-1"}] * 2
    )


def test_invalidating_an_iam_token_signs_a_new_one_at_once() -> None:
    rds = FakeRdsClient()
    credentials = IamTokenCredentials(rds, host="h", port=3306, user="u", region="us-east-1", clock=FakeClock())
    credentials.password()

    credentials.invalidate()

    assert credentials.password() == "token-2"


@pytest.mark.parametrize("renew_after_s", [0, 900, 1200])
def test_a_renewal_period_outside_the_token_lifetime_is_refused(renew_after_s: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 900"):
        IamTokenCredentials(
            FakeRdsClient(), host="h", port=1, user="u", region="us-east-1", renew_after_s=renew_after_s
        )


def test_a_secret_gives_its_username_and_password_through_the_cached_json_fetch() -> None:
    fetch = FakeSecrets({"username": "admin", "password": "pw", "engine": "mysql"})
    credentials = SecretCredentials(SECRET_ARN, fetch=fetch)

    assert (credentials.username, credentials.password()) == ("admin", "pw")
    assert fetch.calls[0] == {"name": SECRET_ARN, "transform": "json", "force_fetch": False, "max_age": 300}


def test_invalidating_a_secret_forces_exactly_one_fresh_fetch() -> None:
    fetch = FakeSecrets({"username": "admin", "password": "old"})
    credentials = SecretCredentials(SECRET_ARN, fetch=fetch, max_age_s=60)
    credentials.password()

    credentials.invalidate()
    fetch.value = {"username": "admin", "password": "rotated"}

    assert credentials.password() == "rotated"
    credentials.password()
    assert [call["force_fetch"] for call in fetch.calls] == [False, True, False]
    assert {call["max_age"] for call in fetch.calls} == {60}


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (["admin", "hunter2-value"], "is a JSON list"),
        ("hunter2-value", "is a JSON str"),
        ({"password": "hunter2-value"}, "no non-empty string username"),
        ({"username": "admin", "passwd": "hunter2-value"}, "no non-empty string password"),
        ({"username": "admin", "password": ""}, "no non-empty string password"),
        ({"username": 7, "password": 86420}, "no non-empty string username or password"),
    ],
)
def test_a_badly_shaped_secret_is_a_clear_configuration_error_without_the_secret(value: object, complaint: str) -> None:
    credentials = SecretCredentials(SECRET_ARN, fetch=FakeSecrets(value))

    with pytest.raises(ConfigurationError, match=complaint) as raised:
        credentials.password()

    message = str(raised.value)
    assert SECRET_ARN in message
    assert '{"username": "...", "password": "..."}' in message
    assert "hunter2" not in message
    assert "86420" not in message


def test_a_secret_that_is_not_json_is_a_configuration_error() -> None:
    credentials = SecretCredentials(SECRET_ARN, fetch=FakeSecrets(TransformParameterError("Expecting value")))

    with pytest.raises(ConfigurationError, match="is not JSON"):
        credentials.password()


def test_a_secret_that_cannot_be_read_is_unavailability_not_configuration() -> None:
    credentials = SecretCredentials(SECRET_ARN, fetch=FakeSecrets(GetParameterError("ThrottlingException")))

    with pytest.raises(RelationalUnavailableError, match="ThrottlingException") as raised:
        credentials.username  # noqa: B018 - the property fetches

    assert isinstance(raised.value.__cause__, GetParameterError)


def test_credentials_follow_db_auth() -> None:
    rds, fetch = FakeRdsClient(), FakeSecrets({"username": "admin", "password": "pw"})
    iam_settings = relational_settings(db_auth="iam", db_host="proxy.example.com", db_port=3307)

    iam = credentials_for(iam_settings, rds_client=rds, fetch_secret=fetch)
    secret = credentials_for(relational_settings(), rds_client=rds, fetch_secret=fetch)

    assert (iam.username, iam.password()) == ("prism_sink", "token-1")
    assert rds.calls == [
        {"DBHostname": "proxy.example.com", "Port": 3307, "DBUsername": "prism_sink", "Region": "us-east-1"}
    ]
    assert (secret.username, secret.password()) == ("admin", "pw")
    assert fetch.calls[0]["name"] == SECRET_ARN


# --- connecting and reuse ----------------------------------------------------------------------------------


def test_the_connect_arguments_verify_tls_and_send_no_set_statement() -> None:
    h = harness()

    h.manager.run(ScriptedWork(), deadline=10)

    assert h.connect.calls == [
        {
            "host": "db.example.com",
            "port": 3306,
            "user": "prism_sink",
            "password": "s3cr3t",
            "database": "prism",
            "ssl_ca": str(BUNDLED_CA_BUNDLE),
            "ssl_verify_cert": True,
            "ssl_verify_identity": True,
            "charset": "utf8mb4",
            "connect_timeout": 5.0,
            "read_timeout": 2.0,
            "write_timeout": 2.0,
            "autocommit": None,
        }
    ]
    assert not {"init_command", "sql_mode", "collation"} & set(h.connect.calls[0])


def test_the_bundled_ca_file_holds_the_rds_and_amazon_roots() -> None:
    context = ssl.create_default_context(cafile=str(BUNDLED_CA_BUNDLE))
    certificates: list[dict[str, Any]] = context.get_ca_certs()
    subjects = {value for cert in certificates for rdn in cert["subject"] for key, value in rdn if key == "commonName"}

    assert {f"Amazon Root CA {n}" for n in range(1, 5)} <= subjects
    assert "Starfield Services Root Certificate Authority - G2" in subjects
    assert "Amazon RDS us-east-1 Root CA RSA2048 G1" in subjects


def test_db_ca_bundle_replaces_the_bundled_cas(tmp_path: Path) -> None:
    own_ca = tmp_path / "local-ca.pem"
    shutil.copyfile(BUNDLED_CA_BUNDLE, own_ca)
    h = harness(relational_settings(db_ca_bundle=str(own_ca)))

    h.manager.connection()

    assert h.connect.calls[0]["ssl_ca"] == str(own_ca)


@pytest.mark.parametrize("content", [None, "", "not a certificate\n"])
def test_a_missing_or_unusable_ca_bundle_is_a_configuration_error_before_connecting(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    h = harness(relational_settings(db_ca_bundle=str(path)))

    with pytest.raises(ConfigurationError, match=re.escape(f"DB_CA_BUNDLE {path}")):
        h.manager.run(ScriptedWork(), deadline=10)

    assert h.connect.calls == []


def test_the_connection_is_reused_across_invocations_after_a_ping() -> None:
    h = harness()

    first, second = ScriptedWork(), ScriptedWork()
    h.manager.run(first, deadline=10)
    h.manager.run(second, deadline=10)

    assert first.connections == second.connections == [h.connect.opened[0]]
    assert h.manager.connections_opened == 1
    assert h.connect.opened[0].pings == 1  # the second use checked the kept connection first


def test_a_connection_that_fails_its_ping_is_closed_and_replaced() -> None:
    h = harness()
    dead = h.manager.connection()
    dead.ping_error = mysql_error(2006)

    fresh = h.manager.connection()

    assert fresh is not dead
    assert dead.closed
    assert h.manager.connections_opened == 2


def test_close_drops_the_connection_and_the_next_use_opens_another() -> None:
    h = harness()
    first = h.manager.connection()

    h.manager.close()
    h.manager.close()  # closing twice is harmless

    assert first.closed
    assert h.manager.connection() is not first


# --- retries -----------------------------------------------------------------------------------------------


def test_a_lost_connection_is_retried_on_a_new_connection_after_a_jittered_pause() -> None:
    h = harness(rng=lambda: 0.5)
    work = ScriptedWork(mysql_error(2013))

    assert h.manager.run(work, deadline=10) == "done"

    first, second = work.connections
    assert first.closed
    assert not second.closed
    assert h.manager.connections_opened == 2
    assert h.clock.sleeps == [0.5 * BACKOFF_BASE_S]
    assert h.manager.retries == 1


@pytest.mark.parametrize(
    "error",
    [
        mysql_error(2003),
        mysql_error(2006),
        mysql_error(2013),
        mysql_error(1290, pymysql.err.InternalError),
        mysql_error(1836, pymysql.err.InternalError),
        pymysql.err.InterfaceError(0, ""),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=["2003", "2006", "2013", "1290-read-only", "1836-read-only", "interface-error", "os-error"],
)
def test_connection_errors_drop_the_connection_so_the_retry_reconnects(error: Exception) -> None:
    h = harness()
    work = ScriptedWork(error)

    h.manager.run(work, deadline=10)

    assert work.connections[0].closed
    assert work.connections[1] is not work.connections[0]


@pytest.mark.parametrize("code", [1213, 1205])
def test_a_deadlock_or_lock_wait_timeout_keeps_the_connection_and_rolls_back(code: int) -> None:
    h = harness()
    work = ScriptedWork(mysql_error(code))

    assert h.manager.run(work, deadline=10) == "done"

    only = h.connect.opened[0]
    assert work.connections == [only, only]
    assert only.rollbacks == 1
    assert not only.closed
    assert h.manager.connections_opened == 1


def test_a_failed_connect_is_retried_too() -> None:
    h = harness()
    h.connect.failures.append(mysql_error(2003))

    assert h.manager.run(ScriptedWork(), deadline=10) == "done"
    assert len(h.connect.calls) == 2


def test_retries_stop_when_the_next_pause_would_pass_the_deadline() -> None:
    h = harness(rng=lambda: 1.0)
    last = mysql_error(2013)
    work = ScriptedWork(*[mysql_error(2013) for _ in range(4)], last)

    with pytest.raises(RelationalUnavailableError) as raised:
        h.manager.run(work, deadline=1.0, operation="apply 3 changes")

    assert h.clock.sleeps == [0.05, 0.1, 0.2, 0.4]  # 0.75 s slept; the next pause (0.8 s) would end past 1.0
    assert raised.value.__cause__ is last
    message = str(raised.value)
    assert "apply 3 changes" in message
    assert "db.example.com:3306" in message
    assert "5 times" in message
    assert "error 2013" in message


def test_access_denied_renews_the_credentials_and_retries_once_at_once() -> None:
    h = harness()
    h.connect.failures.append(mysql_error(1045))

    assert h.manager.run(ScriptedWork(), deadline=10) == "done"

    assert h.credentials.invalidations == 1
    assert h.clock.sleeps == [0.0]
    assert len(h.connect.calls) == 2


def test_access_denied_twice_is_unavailability() -> None:
    h = harness()
    second = mysql_error(1045)
    h.connect.failures.extend([mysql_error(1045), second])

    with pytest.raises(RelationalUnavailableError, match="denied 2 times") as raised:
        h.manager.run(ScriptedWork(), deadline=10)

    assert raised.value.__cause__ is second
    assert h.credentials.invalidations == 1
    assert len(h.connect.calls) == 2


@pytest.mark.parametrize(
    "error",
    [
        pymysql.err.IntegrityError(1062, "Duplicate entry"),
        pymysql.err.ProgrammingError(1146, "Table 'prism.orders' doesn't exist"),
        pymysql.err.OperationalError(1142, "INSERT command denied"),
        pymysql.err.OperationalError("received unknown auth switch request"),
        ValueError("a bug in the work"),
    ],
    ids=["duplicate", "missing-table", "no-privilege", "no-code", "not-pymysql"],
)
def test_other_errors_propagate_unchanged_after_a_rollback(error: Exception) -> None:
    h = harness()
    work = ScriptedWork(error)

    with pytest.raises(type(error)) as raised:
        h.manager.run(work, deadline=10)

    assert raised.value is error
    assert len(work.connections) == 1
    assert work.connections[0].rollbacks == 1
    assert not work.connections[0].closed
    assert h.clock.sleeps == []


@pytest.mark.parametrize("code", sorted(TRANSIENT_ERROR_CODES))
def test_every_transient_code_is_retried(code: int) -> None:
    h = harness()

    assert h.manager.run(ScriptedWork(mysql_error(code)), deadline=10) == "done"
    assert h.manager.retries == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), min_size=1, max_size=14))
def test_pauses_are_full_jitter_within_the_exponential_cap(pki: Pki, draws: list[float]) -> None:
    remaining = list(draws)
    h = harness(relational_settings(db_ca_bundle=str(pki.ca)), rng=lambda: remaining.pop(0))
    work = ScriptedWork(*[mysql_error(2013) for _ in draws])

    h.manager.run(work, deadline=1e9)

    assert len(h.clock.sleeps) == len(draws)
    for attempt, (pause, draw) in enumerate(zip(h.clock.sleeps, draws, strict=True)):
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
        assert 0 <= pause <= ceiling
        assert pause == pytest.approx(draw * ceiling)


# --- TLS ---------------------------------------------------------------------------------------------------


class FakeMysqlServer:
    """The server end of a socket pair: sends a MySQL handshake (offering TLS, or not), reads the client's SSL
    request, then runs a TLS handshake (or hangs up), on a thread. Enough for pymysql's own connect code."""

    def __init__(self, pki: Pki, *, offer_tls: bool = True, hang_up_after_ssl_request: bool = False) -> None:
        self.client_socket, self._server_socket = socket.socketpair()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(pki.server_cert, pki.server_key)
        self._offer_tls, self._hang_up = offer_tls, hang_up_after_ssl_request
        self.tls_error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        sock = self._server_socket
        try:
            sock.sendall(_handshake_packet(offer_tls=self._offer_tls))
            if not self._offer_tls:
                return
            sock.recv(4 + 32, socket.MSG_WAITALL)  # the client's SSL request packet
            if self._hang_up:
                return
            try:
                self._context.wrap_socket(sock, server_side=True).close()
            except (ssl.SSLError, OSError) as exc:  # the client rejects our certificate: expected
                self.tls_error = exc
        finally:
            sock.close()

    def connect(self, **kwargs: Any) -> pymysql.connections.Connection:
        """pymysql.connect with the manager's arguments, over this socket pair instead of a TCP connection."""
        connection = pymysql.connect(**kwargs, defer_connect=True)
        connection.connect(sock=self.client_socket)
        return connection

    def stop(self) -> None:
        self.client_socket.close()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive()


def _handshake_packet(*, offer_tls: bool) -> bytes:
    capabilities = CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.LONG_PASSWORD
    if offer_tls:
        capabilities |= CLIENT.SSL
    payload = (
        b"\x0a8.0.36\x00"
        + struct.pack("<I", 7)
        + b"saltsalt\x00"
        + struct.pack("<H", capabilities & 0xFFFF)
        + struct.pack("<BHHB", 45, 2, capabilities >> 16, 21)
        + b"\x00" * 10
        + b"saltsaltsalt\x00mysql_native_password\x00"
    )
    return struct.pack("<I", len(payload))[:3] + b"\x00" + payload


@pytest.fixture
def fake_server(pki: Pki) -> Iterator[Callable[..., FakeMysqlServer]]:
    servers: list[FakeMysqlServer] = []

    def start(**kwargs: Any) -> FakeMysqlServer:
        servers.append(FakeMysqlServer(pki, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def tls_manager(server: FakeMysqlServer, settings: RelationalSettings) -> tuple[ConnectionManager, FakeClock]:
    clock = FakeClock()
    manager = ConnectionManager(
        settings, FakeCredentials(), connect=server.connect, clock=clock, sleep=clock.sleep, rng=lambda: 0.5
    )
    return manager, clock


def test_pymysql_wraps_a_certificate_failure_as_2003_with_the_ssl_error_as_context(
    fake_server: Callable[..., FakeMysqlServer],
) -> None:
    server = fake_server()

    with pytest.raises(pymysql.err.OperationalError) as raised:
        server.connect(host="db.example.com", ssl_ca=str(BUNDLED_CA_BUNDLE), ssl_verify_identity=True)

    assert raised.value.args[0] == 2003
    assert "CERTIFICATE_VERIFY_FAILED" in raised.value.args[1]
    assert isinstance(raised.value.__context__, ssl.SSLCertVerificationError)


def test_a_server_certificate_from_an_unknown_ca_is_a_tls_error_with_a_hint(
    fake_server: Callable[..., FakeMysqlServer],
) -> None:
    server = fake_server()
    manager, clock = tls_manager(server, relational_settings())

    with pytest.raises(RelationalTlsError) as raised:
        manager.run(ScriptedWork(), deadline=10)

    message = str(raised.value)
    assert "db.example.com:3306" in message
    assert str(BUNDLED_CA_BUNDLE) in message
    assert "unable to get local issuer certificate" in message
    assert "is DB_CA_BUNDLE the CA that signed the server's certificate?" in message
    assert isinstance(raised.value.__cause__, pymysql.err.OperationalError)
    assert clock.sleeps == []  # not retried


@pytest.mark.parametrize(
    ("host", "reason"),
    [("other.example.com", "Hostname mismatch"), ("127.0.0.1", "IP address mismatch")],
)
def test_a_certificate_for_another_host_is_a_tls_error_naming_the_host(
    fake_server: Callable[..., FakeMysqlServer], pki: Pki, host: str, reason: str
) -> None:
    server = fake_server()
    manager, clock = tls_manager(server, relational_settings(db_host=host, db_ca_bundle=str(pki.ca)))

    with pytest.raises(RelationalTlsError) as raised:
        manager.run(ScriptedWork(), deadline=10)

    message = str(raised.value)
    assert reason in message
    assert f"the server's certificate is not for {host}" in message
    assert str(pki.ca) in message
    assert clock.sleeps == []


def test_a_server_that_offers_no_tls_is_a_tls_error(fake_server: Callable[..., FakeMysqlServer]) -> None:
    server = fake_server(offer_tls=False)
    manager, _ = tls_manager(server, relational_settings())

    with pytest.raises(RelationalTlsError, match="does not offer TLS"):
        manager.run(ScriptedWork(), deadline=10)


def test_a_connection_dropped_during_the_tls_handshake_is_transient(
    fake_server: Callable[..., FakeMysqlServer],
) -> None:
    dropped = fake_server(hang_up_after_ssl_request=True)
    connects: list[Callable[..., Any]] = [dropped.connect, FakeConnect()]

    def connect_dropped_then_fake(**kwargs: Any) -> Any:
        return connects.pop(0)(**kwargs)

    clock = FakeClock()
    manager = ConnectionManager(
        relational_settings(),
        FakeCredentials(),
        connect=connect_dropped_then_fake,
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
    )

    assert manager.run(ScriptedWork(), deadline=10) == "done"
    assert clock.sleeps == [0.5 * BACKOFF_BASE_S]
