"""Each stack's MariaDB user over TLS, against the real private MariaDB: logged in the way the relational
functions log in (their template environment, ConnectionManager, the password from the moto secret)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pymysql
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from prism.errors import RelationalTlsError
from prism.relational.connection import ConnectionManager, SecretCredentials
from prism.settings import RelationalSettings
from prism_local.config import LocalConfig, Ports
from prism_local.stack.control import load_template, stack_up
from prism_local.stack.errors import StackError
from prism_local.stack.mariadb import MariaDbServer, tls_files
from prism_local.stack.processes import StopTarget, process_exited, spawn_detached, stop_processes
from prism_local.stack.provision import load_stack
from prism_local.stack.relational_user import ensure_app_user, relational_target
from prism_local.stack.tls import generate_ca, issue_server_certificate, load_ca
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WRONG_HOST = "db.wrong.example"


def relational_settings(config: LocalConfig) -> RelationalSettings:
    """The settings RelationalFunction reads from its environment, as the local runtime builds it."""
    template = load_template(config)
    spec = template.function("RelationalFunction", load_stack(config.stack_file))
    return RelationalSettings.from_env({**spec.environment, "AWS_REGION": config.region})


def moto_secret_credentials(config: LocalConfig, secret_arn: str) -> SecretCredentials:
    """SecretCredentials reading through Powertools, as in the function, from the stack's moto."""
    client = config.session().client("secretsmanager", endpoint_url=config.moto_endpoint)
    return SecretCredentials(secret_arn, fetch=SecretsProvider(boto3_client=client).get)


def secret_password(config: LocalConfig, settings: RelationalSettings) -> str:
    return moto_secret_credentials(config, settings.db_secret_arn).password()


def query(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def plain_login(settings: RelationalSettings, password: str, **tls: Any) -> Any:
    return pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=password,
        database=settings.db_name,
        connect_timeout=5,
        **tls,
    )


def test_the_functions_settings_name_the_stacks_own_database_user_and_ca(provisioned: LocalConfig) -> None:
    settings = relational_settings(provisioned)

    assert (settings.db_host, settings.db_port) == (provisioned.host, provisioned.ports.mariadb)
    assert (settings.db_name, settings.db_user) == (provisioned.database_name, provisioned.database_user)
    assert settings.db_auth == "secret"
    assert settings.db_ca_bundle == str(tls_files(provisioned.state_dir).ca_certificate)


def test_the_app_user_logs_in_over_verified_tls_with_the_secrets_password(provisioned: LocalConfig) -> None:
    settings = relational_settings(provisioned)
    manager = ConnectionManager(settings, moto_secret_credentials(provisioned, settings.db_secret_arn))

    try:
        connection = manager.connection()

        assert query(connection, "SELECT 1") == [(1,)]
        [(_, cipher)] = query(connection, "SHOW STATUS LIKE 'Ssl_cipher'")
        assert cipher
        assert query(connection, "SELECT CURRENT_USER(), DATABASE()") == [
            (f"{provisioned.database_user}@{provisioned.host}", provisioned.database_name)
        ]
        assert {"customers", "orders", "schema_migrations"} <= {row[0] for row in query(connection, "SHOW TABLES")}
    finally:
        manager.close()


def test_the_app_user_reaches_only_its_own_stacks_database(provisioned: LocalConfig) -> None:
    settings = relational_settings(provisioned)
    connection = plain_login(settings, secret_password(provisioned, settings), ssl_ca=settings.db_ca_bundle)

    with connection, pytest.raises(pymysql.err.OperationalError) as refused:
        connection.select_db("prism")

    assert refused.value.args[0] == 1044  # access denied to the database


def test_the_app_user_cannot_log_in_without_tls(provisioned: LocalConfig) -> None:
    settings = relational_settings(provisioned)
    password = secret_password(provisioned, settings)
    with plain_login(settings, password, ssl_ca=settings.db_ca_bundle) as over_tls:
        assert query(over_tls, "SELECT 1") == [(1,)]  # the same password works over TLS

    with pytest.raises(pymysql.err.OperationalError) as refused:
        plain_login(settings, password, ssl_disabled=True)

    assert refused.value.args[0] == 1045  # REQUIRE SSL: access denied without TLS


def test_a_ca_that_did_not_sign_the_servers_certificate_is_refused_clearly(
    provisioned: LocalConfig, tmp_path: Path
) -> None:
    settings = relational_settings(provisioned)
    stranger = tmp_path / "stranger"
    generate_ca("A CA the server never met").save(stranger / "ca.pem", stranger / "ca-key.pem")
    manager = ConnectionManager(
        settings.model_copy(update={"db_ca_bundle": str(stranger / "ca.pem")}),
        moto_secret_credentials(provisioned, settings.db_secret_arn),
    )

    with pytest.raises(RelationalTlsError, match="certificate verify failed") as failed:
        manager.connection()

    # MariaDB sends its CA along with its certificate, so OpenSSL names a self-signed chain it does not trust
    assert "self-signed certificate in certificate chain" in str(failed.value)
    assert "is DB_CA_BUNDLE the CA that signed the server's certificate?" in str(failed.value)
    assert str(stranger / "ca.pem") in str(failed.value)


class ExtraMariaDb(MariaDbServer):
    """A private MariaDB of a test's own, started with ``options`` instead of the stack's TLS files."""

    def __init__(self, config: LocalConfig, options: tuple[str, ...]) -> None:
        super().__init__(config)
        self._options = options

    def server_options(self) -> tuple[str, ...]:
        return self._options


@contextmanager
def extra_mariadb(state_dir: Path, options: tuple[str, ...]) -> Iterator[int]:
    """Run an ExtraMariaDb in ``state_dir`` on a free port until the block ends; yields its port. It is
    stopped by its pid, whatever happens."""
    config = LocalConfig(
        state_dir=state_dir, ports=Ports(moto=free_port(), mariadb=free_port(), redis=free_port(), osmem=free_port())
    )
    server = ExtraMariaDb(config, options)
    server.log_file.parent.mkdir(parents=True, exist_ok=True)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    plan = server.plan()
    server.prepare(plan, lambda _message: None)
    process = spawn_detached(server.name, plan.argv, cwd=server.data_dir, log_file=server.log_file)
    try:
        deadline = time.monotonic() + 30
        while not (answer := server.probe()).ready:
            assert not process_exited(process.pid, process), server.log_file.read_text()
            assert time.monotonic() < deadline, answer.detail
            time.sleep(0.1)
        yield config.ports.mariadb
    finally:
        stop_processes([StopTarget(server.name, process.pid, process)])


@pytest.fixture(scope="module")
def wrong_host_port(local_servers: LocalConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A second private MariaDB whose certificate names only db.wrong.example, signed by the CA the stack's
    clients trust, so verification can fail on the host name alone."""
    state_dir = tmp_path_factory.mktemp("wrong-host")
    stack_ca = tls_files(local_servers.state_dir)
    issued = issue_server_certificate(load_ca(stack_ca.ca_certificate, stack_ca.ca_key), [WRONG_HOST])
    issued.save(state_dir / "wrong-cert.pem", state_dir / "wrong-key.pem")
    options = (
        f"--ssl-ca={stack_ca.ca_certificate}",
        f"--ssl-cert={state_dir / 'wrong-cert.pem'}",
        f"--ssl-key={state_dir / 'wrong-key.pem'}",
    )
    with extra_mariadb(state_dir, options) as port:
        yield port


@pytest.mark.parametrize(
    ("host", "mismatch"), [("127.0.0.1", "IP address mismatch"), ("localhost", "Hostname mismatch")]
)
def test_a_server_certificate_for_another_host_is_refused_naming_the_host(
    provisioned: LocalConfig, wrong_host_port: int, host: str, mismatch: str
) -> None:
    settings = relational_settings(provisioned).model_copy(update={"db_host": host, "db_port": wrong_host_port})
    manager = ConnectionManager(settings, moto_secret_credentials(provisioned, settings.db_secret_arn))

    with pytest.raises(RelationalTlsError) as failed:
        manager.connection()

    message = str(failed.value)
    assert f"{mismatch}, certificate is not valid for '{host}'" in message
    assert f"the server's certificate is not for {host}" in message


def test_up_again_changes_nothing_and_a_new_secret_password_is_put_in_place(provisioned: LocalConfig) -> None:
    settings = relational_settings(provisioned)
    old_password = secret_password(provisioned, settings)
    messages: list[str] = []

    stack_up(provisioned, progress=messages.append)

    assert f"relational schema: 0 migration(s) applied to {provisioned.database_name}" in messages
    assert f"relational user: {provisioned.database_user} (TLS required)" in messages
    with plain_login(settings, old_password, ssl_ca=settings.db_ca_bundle) as connection:
        assert query(connection, "SELECT 1") == [(1,)]

    # Given the secret now holds another password (as after a moto restart re-provisions it)
    secrets = provisioned.session().client("secretsmanager", endpoint_url=provisioned.moto_endpoint)
    new_password = "Rotated0" + old_password[8:][::-1]
    secrets.put_secret_value(
        SecretId=settings.db_secret_arn,
        SecretString=f'{{"username": "{settings.db_user}", "password": "{new_password}"}}',
    )
    # When the stack comes up again
    stack_up(provisioned)
    # Then the user logs in with the new password, and no longer with the old one
    with plain_login(settings, new_password, ssl_ca=settings.db_ca_bundle) as connection:
        assert query(connection, "SELECT 1") == [(1,)]
    with pytest.raises(pymysql.err.OperationalError) as refused:
        plain_login(settings, old_password, ssl_ca=settings.db_ca_bundle)
    assert refused.value.args[0] == 1045


def test_up_against_a_mariadb_without_tls_says_to_restart_it(
    provisioned: LocalConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a MariaDB started without TLS options, as one started before the stack turned TLS on
    with extra_mariadb(tmp_path_factory.mktemp("no-tls"), ()) as port:
        config = provisioned.with_overrides(ports=Ports(**{**vars(provisioned.ports), "mariadb": port}))
        target = relational_target(load_template(config), config)

        with pytest.raises(StackError, match=r"runs without TLS \(have_ssl=DISABLED\).*`prism stack down`"):
            ensure_app_user(config, load_stack(provisioned.stack_file), target)
