"""A stack's own MariaDB user, made from the RelationalDbSecret provisioned in moto (local only).

On AWS the relational functions log in to RDS Proxy as ``DbUser`` over verified TLS. Locally they log in to
the private MariaDB the same way (``DbAuth=secret``): as this user, with the password of the stack's secret
in moto, over TLS verified against the stack's CA. The user is created ``REQUIRE SSL``, so a client that
forgets TLS fails locally just as it would against the proxy. It is made by the same code that makes the app
user on AWS (``prism.relational.users``, run as root here, as the cluster's admin there), so it has the same
privileges: the projection's DML, no DDL. The local stack applies the migrations as root.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pymysql  # PyMySQL ships no type information
from botocore.exceptions import BotoCoreError, ClientError

from prism.errors import ConfigurationError
from prism.relational import users
from prism_local.stack.errors import StackError
from prism_local.stack.mariadb import root_connection, tls_files
from prism_local.stack.relational_schema import DATABASE_NAME

if TYPE_CHECKING:
    from prism_local.config import LocalConfig
    from prism_local.template.model import ProvisionedStack
    from prism_local.template.reader import Template

#: The template's secret that holds ``{"username", "password"}`` of the relational functions' user.
CREDENTIALS_RESOURCE: Final = "RelationalDbSecret"

#: The template's DbUser AllowedPattern (and MariaDB's 32-character limit).
USER_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,32}")


@dataclass(frozen=True)
class DatabaseCredentials:
    username: str
    password: str = ""

    def __repr__(self) -> str:  # the password never reaches a log or a traceback
        return f"DatabaseCredentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True)
class RelationalTarget:
    """The database and user the stack's relational functions are configured with (DB_NAME, DB_USER)."""

    database: str
    user: str


def relational_target(template: Template, config: LocalConfig) -> RelationalTarget:
    """The template's DbName and DbUser as provisioned (an override of either wins), else the config's
    per-stack names."""

    def parameter(name: str, default: str) -> str:
        value = template.parameters.get(name)
        return value if isinstance(value, str) and value else default

    return RelationalTarget(parameter("DbName", config.database_name), parameter("DbUser", config.database_user))


def read_secret_credentials(config: LocalConfig, secret_arn: str) -> DatabaseCredentials:
    """``{"username", "password"}`` of the secret ``secret_arn`` in the stack's moto."""
    client = config.session().client("secretsmanager", endpoint_url=config.moto_endpoint)
    try:
        secret = client.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"]
    except (ClientError, BotoCoreError, KeyError) as exc:
        raise StackError(
            f"relational user: cannot read {CREDENTIALS_RESOURCE} ({secret_arn}) from moto: {exc}"
        ) from exc
    try:
        document = json.loads(secret)
    except json.JSONDecodeError as exc:
        raise StackError(f"relational user: {CREDENTIALS_RESOURCE} is not JSON ({secret_arn})") from exc
    username = document.get("username") if isinstance(document, dict) else None
    password = document.get("password") if isinstance(document, dict) else None
    if not isinstance(username, str) or not isinstance(password, str) or not password:
        raise StackError(
            f'relational user: {CREDENTIALS_RESOURCE} must be {{"username": ..., "password": ...}} with both set '
            f"({secret_arn})"
        )
    if not USER_NAME.fullmatch(username):
        raise StackError(
            f"relational user: {username!r} in {CREDENTIALS_RESOURCE} is not a user name ([A-Za-z0-9_]{{1,32}})"
        )
    return DatabaseCredentials(username, password)


def ensure_app_user(
    config: LocalConfig, stack: ProvisionedStack, target: RelationalTarget
) -> DatabaseCredentials | None:
    """Create (or refresh the password of) the stack's app user from its secret, grant it its database, and
    check that it logs in over verified TLS. Returns its credentials; None when the template has no
    RelationalDbSecret (then there is no user to make).

    Idempotent: a second run sets the same password and grants again. A moto restart provisions the secret
    with a new password, which the ALTER USER here puts in place.
    """
    if CREDENTIALS_RESOURCE not in stack.resources:
        return None
    credentials = read_secret_credentials(config, stack.ref(CREDENTIALS_RESOURCE))
    if credentials.username != target.user:
        raise StackError(
            f"relational user: {CREDENTIALS_RESOURCE} names user {credentials.username!r} but DbUser is "
            f"{target.user!r}; the secret keeps its first value, so restart moto (`prism stack down`, then "
            "`prism stack up`) to provision it afresh"
        )
    if not DATABASE_NAME.fullmatch(target.database):
        raise StackError(f"relational user: {target.database!r} is not a database name ([A-Za-z0-9_], at most 64)")
    _create_user(config, target.database, credentials)
    _check_tls_login(config, target.database, credentials)
    return credentials


def _create_user(config: LocalConfig, database: str, credentials: DatabaseCredentials) -> None:
    where = f"{config.host}:{config.ports.mariadb}"
    try:
        connection = root_connection(config)
        with connection:
            with connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL VARIABLES LIKE 'have_ssl'")
                row = cursor.fetchone()
            if row is None or row[1] != "YES":
                raise StackError(
                    f"relational user: the MariaDB on {where} runs without TLS (have_ssl={row[1] if row else '?'}); "
                    "it was probably started before the local stack turned TLS on. Restart it: "
                    "`prism stack down`, then `prism stack up`."
                )
            # The functions connect over TCP from this machine, so the account's host is the stack's host. An
            # app user made before the migrations moved to the admin loses its DDL here.
            users.ensure_app_user(
                connection, users.AppUser(credentials.username, credentials.password, config.host), database
            )
    except (pymysql.MySQLError, OSError, ConfigurationError) as exc:
        raise StackError(
            f"relational user: could not create {credentials.username}@{config.host} on {where}: {exc}"
        ) from exc


def _check_tls_login(config: LocalConfig, database: str, credentials: DatabaseCredentials) -> None:
    """Log in as the functions will: TLS, the server's certificate verified against the stack's CA and
    its host name. Catches a server whose certificate the CA file no longer matches before a function does."""
    ca = tls_files(config.state_dir).ca_certificate
    where = f"{config.host}:{config.ports.mariadb}"
    try:
        connection = pymysql.connect(
            host=config.host,
            port=config.ports.mariadb,
            user=credentials.username,
            password=credentials.password,
            database=database,
            ssl_ca=str(ca),
            ssl_verify_cert=True,
            ssl_verify_identity=True,
            connect_timeout=5,
        )
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (pymysql.MySQLError, OSError) as exc:
        raise StackError(
            f"relational user: {credentials.username} cannot log in to {database} on {where} over TLS verified "
            f"with {ca}: {exc}. If the certificates were regenerated while MariaDB ran, restart it: "
            "`prism stack down`, then `prism stack up`."
        ) from exc
