"""MigrationFunction, the custom resource RelationalMigrations, run by the local runtime against the stack's own
MariaDB (its app user, over verified TLS, as the template configures it), answering a real HTTP server the
way it answers CloudFormation's pre-signed S3 URL."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pymysql
import pytest

from prism.relational.custom_resource import ResponseNotDeliveredError, put_response
from prism.relational.migrations import MIGRATIONS_DIR, discover
from prism_local.runtime.local_runtime import LocalRuntime
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


def invoke_migration_function(config: LocalConfig, event: dict[str, Any]) -> Any:
    with LocalRuntime(config, max_environments=1) as runtime:
        invocation = runtime.pool(runtime.function("MigrationFunction")).invoke(event)
    assert not invocation.failed, invocation.error
    return invocation.payload


def root(config: LocalConfig) -> Any:
    return pymysql.connect(
        host=config.host, port=config.ports.mariadb, user="root", password="", autocommit=True, connect_timeout=5
    )


def recorded_versions(config: LocalConfig) -> list[str]:
    with root(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT version FROM `{config.database_name}`.schema_migrations ORDER BY version")
        return [row[0] for row in cursor.fetchall()]


def tables(config: LocalConfig) -> set[str]:
    with root(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"SHOW TABLES FROM `{config.database_name}`")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def empty_database(provisioned: LocalConfig) -> LocalConfig:
    """The stack's database emptied, as on a first deploy (`prism stack up` has migrated it already).
    MariaDB keeps database-level grants across DROP DATABASE, so the stack's app user still owns it."""
    with root(provisioned) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{provisioned.database_name}`")
        cursor.execute(f"CREATE DATABASE `{provisioned.database_name}` CHARACTER SET utf8mb4")
    return provisioned


def test_create_migrates_the_stack_s_database_and_answers_success(
    empty_database: LocalConfig, endpoint: ResponseEndpoint
) -> None:
    event = custom_resource_event("Create", endpoint.url("create"))

    payload = invoke_migration_function(empty_database, event)

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
    empty_database: LocalConfig, endpoint: ResponseEndpoint
) -> None:
    invoke_migration_function(empty_database, custom_resource_event("Create", endpoint.url("create")))
    before = tables(empty_database)

    update = invoke_migration_function(
        empty_database, custom_resource_event("Update", endpoint.url("update"), PhysicalResourceId="prism-schema")
    )
    delete = invoke_migration_function(
        empty_database, custom_resource_event("Delete", endpoint.url("delete"), PhysicalResourceId="prism-schema")
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
