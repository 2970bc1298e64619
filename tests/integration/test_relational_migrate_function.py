"""MigrationFunction, the custom resource RelationalMigrations, run by the local runtime against the stack's own
MariaDB over verified TLS, answering a real HTTP server the way it answers CloudFormation's pre-signed S3 URL.

It runs as on AWS: logged in as an admin (a user these tests create with what an RDS master user has), either
only migrating (an operator-managed database) or, with DB_APP_USER_SECRET_ARN, first bootstrapping the
database and the app user. As the template configures it locally (the stack's app user, DML only) it can
check an up-to-date database, and nothing more."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pymysql
import pytest

from prism.relational.custom_resource import ResponseNotDeliveredError, put_response
from prism.relational.migrations import MIGRATIONS_DIR, discover
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.mariadb import tls_files
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

SHIPPED = [migration.version for migration in discover(MIGRATIONS_DIR)]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class ResponseEndpoint:
    """A stand-in for CloudFormation's pre-signed URL: records every request and answers ``statuses`` in
    turn (200 once they run out)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    base_url: str = ""

    def url(self, name: str) -> str:
        return f"{self.base_url}/cloudformation-custom-resource-response/{name}?X-Amz-Signature=local"

    @property
    def only(self) -> Received:
        assert len(self.received) == 1, self.received
        return self.received[0]


@pytest.fixture
def endpoint() -> Iterator[ResponseEndpoint]:
    recorder = ResponseEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            recorder.received.append(Received("PUT", self.path, dict(self.headers.items()), body))
            self.send_response(recorder.statuses.pop(0) if recorder.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None  # keep the test output to the test's own

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="cfn-response-endpoint", daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def custom_resource_event(request_type: str, response_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:prism-local-MigrationFunction",
        "ResponseURL": response_url,
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/prism-local/{uuid.uuid4()}",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "RelationalMigrations",
        "ResourceType": "Custom::RelationalMigrations",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:prism-local-MigrationFunction",
            "LayerVersion": "arn:aws:lambda:us-east-1:123456789012:layer:prism-local-PrismLayer:1",
            "Database": "prism",
        },
        **extra,
    }


def invoke_migration_function(
    config: LocalConfig, event: dict[str, Any], environment: dict[str, str] | None = None
) -> Any:
    """Invoke MigrationFunction with its template environment, ``environment`` overriding variables (as the
    template does on AWS, where it logs in as the cluster's admin)."""
    with LocalRuntime(config, max_environments=1) as runtime:
        spec = runtime.function("MigrationFunction")
        spec = replace(spec, environment={**spec.environment, **(environment or {})})
        invocation = runtime.pool(spec).invoke(event)
    assert not invocation.failed, invocation.error
    return invocation.payload


def root(config: LocalConfig) -> Any:
    return pymysql.connect(
        host=config.host, port=config.ports.mariadb, user="root", password="", autocommit=True, connect_timeout=5
    )


def recorded_versions(config: LocalConfig, database: str | None = None) -> list[str]:
    with root(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT version FROM `{database or config.database_name}`.schema_migrations ORDER BY version")
        return [row[0] for row in cursor.fetchall()]


def tables(config: LocalConfig, database: str | None = None) -> set[str]:
    with root(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"SHOW TABLES FROM `{database or config.database_name}`")
        return {row[0] for row in cursor.fetchall()}


def put_secret(config: LocalConfig, name: str, username: str, password: str) -> str:
    """Create (or give a new value to) the secret ``name`` in moto; return its ARN."""
    client = config.session().client("secretsmanager", endpoint_url=config.moto_endpoint)
    value = json.dumps({"username": username, "password": password})
    try:
        return str(client.create_secret(Name=name, SecretString=value)["ARN"])
    except client.exceptions.ResourceExistsException:
        return str(client.put_secret_value(SecretId=name, SecretString=value)["ARN"])


def tls_login(config: LocalConfig, user: str, password: str, database: str, **tls: Any) -> Any:
    """A login as the relational functions make it: TLS verified against the stack's CA, unless ``tls``
    says otherwise."""
    options = tls or {"ssl_ca": str(tls_files(config.state_dir).ca_certificate), "ssl_verify_identity": True}
    return pymysql.connect(
        host=config.host,
        port=config.ports.mariadb,
        user=user,
        password=password,
        database=database,
        autocommit=True,
        connect_timeout=5,
        **options,
    )


def mysql_error(exc: pytest.ExceptionInfo[pymysql.MySQLError]) -> int:
    return int(exc.value.args[0])


@dataclass(frozen=True)
class Admin:
    """A user with what an RDS master user has (every privilege, with grant option), and its secret in moto."""

    name: str
    secret_arn: str

    def environment(self, **more: str) -> dict[str, str]:
        """MigrationFunction's variables as the template sets them on AWS: logged in as this admin."""
        return {"DB_USER": self.name, "DB_AUTH": "secret", "DB_SECRET_ARN": self.secret_arn, **more}


@pytest.fixture
def admin(provisioned: LocalConfig) -> Iterator[Admin]:
    name, password = f"adm_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    account = (name, provisioned.host)
    with root(provisioned) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s REQUIRE SSL", (*account, password))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION", account)
    try:
        yield Admin(name, put_secret(provisioned, f"{provisioned.stack_name}/{name}", name, password))
    finally:
        with root(provisioned) as connection, connection.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@%s", account)


@pytest.fixture
def empty_database(provisioned: LocalConfig) -> LocalConfig:
    """The stack's database emptied, as on a first deploy (`prism stack up` has migrated it already)."""
    with root(provisioned) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{provisioned.database_name}`")
        cursor.execute(f"CREATE DATABASE `{provisioned.database_name}` CHARACTER SET utf8mb4")
    return provisioned


@dataclass(frozen=True)
class FreshCluster:
    """What a stack that creates its cluster starts with: a database name nobody has created yet and an app
    user that does not exist, whose secret (RelationalDbSecret) is in moto."""

    database: str
    app_user: str
    app_secret_name: str
    app_secret_arn: str

    def environment(self, admin: Admin) -> dict[str, str]:
        """The MigrationFunction's environment on such a stack: the admin's login and the app user's secret."""
        return admin.environment(DB_NAME=self.database, DB_APP_USER_SECRET_ARN=self.app_secret_arn)

    def request(self, kind: str, response_url: str, **fields: Any) -> dict[str, Any]:
        """A CloudFormation request of ``kind`` for this cluster's database."""
        event = custom_resource_event(kind, response_url, **fields)
        event["ResourceProperties"]["Database"] = self.database
        return event


@pytest.fixture
def fresh_cluster(provisioned: LocalConfig) -> Iterator[FreshCluster]:
    suffix = uuid.uuid4().hex[:8]
    database, app_user = f"fresh_{suffix}", f"app_{suffix}"
    secret_name = f"{provisioned.stack_name}/{app_user}"
    arn = put_secret(provisioned, secret_name, app_user, secrets.token_urlsafe(18))
    try:
        yield FreshCluster(database, app_user, secret_name, arn)
    finally:
        with root(provisioned) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (app_user,))


def test_create_migrates_the_stack_s_database_and_answers_success(
    empty_database: LocalConfig, admin: Admin, endpoint: ResponseEndpoint
) -> None:
    event = custom_resource_event("Create", endpoint.url("create"))

    payload = invoke_migration_function(empty_database, event, admin.environment())

    put = endpoint.only
    assert put.method == "PUT"
    assert put.path == "/cloudformation-custom-resource-response/create?X-Amz-Signature=local"
    assert put.headers["Content-Type"] == "", "the pre-signed URL was signed without a Content-Type"
    assert put.document == payload
    assert put.document == {
        "Status": "SUCCESS",
        "Reason": f"applied {', '.join(SHIPPED)}",
        "PhysicalResourceId": "prism-schema",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": "RelationalMigrations",
        "Data": {"Applied": ",".join(SHIPPED), "Count": len(SHIPPED)},
    }
    assert recorded_versions(empty_database) == SHIPPED
    assert {"customers", "products", "orders", "order_lines"} <= tables(empty_database)


def test_an_update_applies_nothing_new_and_a_delete_keeps_every_table(
    empty_database: LocalConfig, admin: Admin, endpoint: ResponseEndpoint
) -> None:
    as_admin = admin.environment()
    invoke_migration_function(empty_database, custom_resource_event("Create", endpoint.url("create")), as_admin)
    before = tables(empty_database)

    update = invoke_migration_function(
        empty_database,
        custom_resource_event("Update", endpoint.url("update"), PhysicalResourceId="prism-schema"),
        as_admin,
    )
    delete = invoke_migration_function(
        empty_database,
        custom_resource_event("Delete", endpoint.url("delete"), PhysicalResourceId="prism-schema"),
        as_admin,
    )

    assert [put.document for put in endpoint.received[1:]] == [update, delete]
    assert (update["Status"], update["PhysicalResourceId"], update["Data"]) == (
        "SUCCESS",
        "prism-schema",
        {"Applied": "", "Count": 0},
    )
    assert (delete["Status"], delete["PhysicalResourceId"]) == ("SUCCESS", "prism-schema")
    assert tables(empty_database) == before
    assert recorded_versions(empty_database) == SHIPPED


def test_as_the_stack_s_app_user_it_confirms_an_up_to_date_database_but_cannot_migrate_an_empty_one(
    provisioned: LocalConfig, endpoint: ResponseEndpoint
) -> None:
    # Given the template's own environment: the stack's app user, which has the projection's DML only
    up_to_date = invoke_migration_function(provisioned, custom_resource_event("Create", endpoint.url("checked")))
    with root(provisioned) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{provisioned.database_name}`")
        cursor.execute(f"CREATE DATABASE `{provisioned.database_name}` CHARACTER SET utf8mb4")

    empty = invoke_migration_function(provisioned, custom_resource_event("Create", endpoint.url("empty")))

    assert (up_to_date["Status"], up_to_date["Reason"]) == ("SUCCESS", "the schema was up to date")
    assert empty["Status"] == "FAILED"
    assert "CREATE command denied to user" in empty["Reason"]
    assert f"'{provisioned.database_user}'" in empty["Reason"]


def test_with_the_app_user_secret_the_admin_creates_database_and_app_user_then_migrates(
    provisioned: LocalConfig, admin: Admin, fresh_cluster: FreshCluster, endpoint: ResponseEndpoint
) -> None:
    create = fresh_cluster.request("Create", endpoint.url("create"))

    payload = invoke_migration_function(provisioned, create, fresh_cluster.environment(admin))

    assert (payload["Status"], payload["PhysicalResourceId"]) == ("SUCCESS", f"{fresh_cluster.database}-schema")
    assert payload["Data"] == {"Applied": ",".join(SHIPPED), "Count": len(SHIPPED)}
    assert recorded_versions(provisioned, fresh_cluster.database) == SHIPPED
    assert {"customers", "products", "orders", "order_lines"} <= tables(provisioned, fresh_cluster.database)
    assert app_privileges(provisioned, fresh_cluster) == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    password = secret_password(provisioned, fresh_cluster)
    with tls_login(provisioned, fresh_cluster.app_user, password, fresh_cluster.database) as app:
        assert app_can_write_rows(app)
        for ddl in ("CREATE TABLE sneaky (id INT)", "DROP TABLE customers", "ALTER TABLE orders ADD COLUMN x INT"):
            with pytest.raises(pymysql.err.OperationalError) as denied:
                run_sql(app, ddl)
            assert mysql_error(denied) == 1142, ddl  # ER_TABLEACCESS_DENIED_ERROR
    with pytest.raises(pymysql.err.OperationalError) as refused:
        tls_login(provisioned, fresh_cluster.app_user, password, fresh_cluster.database, ssl_disabled=True)
    assert mysql_error(refused) == 1045  # REQUIRE SSL
    log = (provisioned.state_dir / "logs" / "functions" / "MigrationFunction.log").read_text()
    assert password not in log


def test_an_update_re_syncs_a_changed_app_password_and_revokes_privileges_beyond_the_dml(
    provisioned: LocalConfig, admin: Admin, fresh_cluster: FreshCluster, endpoint: ResponseEndpoint
) -> None:
    environment = fresh_cluster.environment(admin)
    invoke_migration_function(provisioned, fresh_cluster.request("Create", endpoint.url("create")), environment)
    old_password = secret_password(provisioned, fresh_cluster)
    # Given an operator changed the secret by hand, and granted the app user DDL
    new_password = secrets.token_urlsafe(18)
    put_secret(provisioned, fresh_cluster.app_secret_name, fresh_cluster.app_user, new_password)
    with root(provisioned) as connection, connection.cursor() as cursor:
        cursor.execute(f"GRANT CREATE, DROP ON `{fresh_cluster.database}`.* TO %s@'%%'", (fresh_cluster.app_user,))

    update = fresh_cluster.request(
        "Update", endpoint.url("update"), PhysicalResourceId=f"{fresh_cluster.database}-schema"
    )
    payload = invoke_migration_function(provisioned, update, environment)

    assert (payload["Status"], payload["Data"]) == ("SUCCESS", {"Applied": "", "Count": 0})
    with tls_login(provisioned, fresh_cluster.app_user, new_password, fresh_cluster.database) as app:
        assert run_sql(app, "SELECT COUNT(*) FROM customers") == [(0,)]
    with pytest.raises(pymysql.err.OperationalError) as refused:
        tls_login(provisioned, fresh_cluster.app_user, old_password, fresh_cluster.database)
    assert mysql_error(refused) == 1045
    assert app_privileges(provisioned, fresh_cluster) == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    log = (provisioned.state_dir / "logs" / "functions" / "MigrationFunction.log").read_text()
    assert "Bootstrapped the database and its app user" in log
    assert old_password not in log
    assert new_password not in log


def secret_password(config: LocalConfig, cluster: FreshCluster) -> str:
    client = config.session().client("secretsmanager", endpoint_url=config.moto_endpoint)
    return str(json.loads(client.get_secret_value(SecretId=cluster.app_secret_arn)["SecretString"])["password"])


def app_privileges(config: LocalConfig, cluster: FreshCluster) -> set[str]:
    with root(config) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = %s AND TABLE_SCHEMA = %s",
            (f"'{cluster.app_user}'@'%'", cluster.database),
        )
        return {row[0] for row in cursor.fetchall()}


def run_sql(connection: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def app_can_write_rows(app: Any) -> bool:
    """INSERT, SELECT, UPDATE and DELETE a customer row, as the sink does."""
    run_sql(
        app,
        "INSERT INTO customers (id, email, item, version) VALUES (%s, %s, %s, %s)",
        ("c-1", "a@example.com", "{}", 1),
    )
    run_sql(app, "UPDATE customers SET email = %s, version = 2 WHERE id = %s", ("b@example.com", "c-1"))
    assert run_sql(app, "SELECT email, version FROM customers WHERE id = %s", ("c-1",)) == [("b@example.com", 2)]
    run_sql(app, "DELETE FROM customers WHERE id = %s", ("c-1",))
    return run_sql(app, "SELECT COUNT(*) FROM customers") == [(0,)]


def test_a_database_certificate_the_ca_bundle_does_not_trust_fails_the_request_with_the_reason(
    provisioned: LocalConfig, endpoint: ResponseEndpoint
) -> None:
    # An empty DbCaBundle means the RDS and Amazon roots shipped in the layer, as on AWS: the local CA is not one.
    untrusting = provisioned.with_overrides(parameter_overrides={"DbCaBundle": ""})

    payload = invoke_migration_function(untrusting, custom_resource_event("Create", endpoint.url("create")))

    document = endpoint.only.document
    assert document == payload
    assert document["Status"] == "FAILED"
    assert document["Reason"].startswith(f"TLS to {provisioned.host}:{provisioned.ports.mariadb} failed: certificate")
    assert "is DB_CA_BUNDLE the CA that signed the server's certificate?" in document["Reason"]
    assert document["Data"] == {}


def test_an_unreachable_response_url_is_logged_and_the_response_still_returned(provisioned: LocalConfig) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/cloudformation-custom-resource-response/delete"

    payload = invoke_migration_function(
        provisioned, custom_resource_event("Delete", nowhere, PhysicalResourceId="prism-schema")
    )

    assert payload["Status"] == "SUCCESS"
    log = (provisioned.state_dir / "logs" / "functions" / "MigrationFunction.log").read_text()
    assert "Could not deliver the response to CloudFormation" in log


def test_put_response_retries_a_server_error_then_delivers(endpoint: ResponseEndpoint) -> None:
    endpoint.statuses = [503, 500]
    pauses: list[float] = []

    put_response(endpoint.url("retry"), b'{"Status":"SUCCESS"}', sleep=pauses.append)

    assert [put.body for put in endpoint.received] == [b'{"Status":"SUCCESS"}'] * 3
    assert pauses == [0.5, 1.0]


def test_put_response_does_not_retry_a_refused_url(endpoint: ResponseEndpoint) -> None:
    endpoint.statuses = [403]
    pauses: list[float] = []

    with pytest.raises(ResponseNotDeliveredError, match=r"answered 403") as raised:
        put_response(endpoint.url("expired"), b"{}", sleep=pauses.append)

    assert len(endpoint.received) == 1
    assert pauses == []
    assert "X-Amz-Signature" not in str(raised.value)


def test_put_response_gives_up_after_its_attempts_when_nothing_listens() -> None:
    pauses: list[float] = []

    with pytest.raises(ResponseNotDeliveredError, match=r"failed 3 times: .*Connection refused"):
        put_response(f"http://127.0.0.1:{free_port()}/r", b"{}", sleep=pauses.append)

    assert pauses == [0.5, 1.0]
