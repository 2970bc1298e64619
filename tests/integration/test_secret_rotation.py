"""The rotation of a database secret through the real handler, against moto's Secrets Manager and the
private MariaDB over verified TLS: a user ``REQUIRE SSL`` with a known password, and a secret holding it.

moto stands in for Secrets Manager's own part of a rotation, and two of its behaviours are relied on:
- ``RotateSecret`` without a Lambda and with ``RotateImmediately=False`` turns rotation on (RotationEnabled)
  and keeps the value (as a new AWSCURRENT version of the same string);
- ``RotateSecret`` naming a Lambda that moto does not have stages the token AWSPENDING, with no value, and
  only then answers ResourceNotFoundException: the state in which AWS invokes createSecret.
``secrets_manager_starts_rotation`` checks that state, so a moto that changes either fails there, clearly.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pymysql
import pytest
from botocore.exceptions import ClientError

from prism.observability import metrics
from prism.relational import rotation
from prism_local.config import REPO_ROOT
from prism_local.stack.mariadb import root_connection, tls_files

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
MISSING_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:rotation-is-driven-by-the-test"


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rotate_db_secret_app", REPO_ROOT / "functions/rotate_db_secret/app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def database_user(local_servers: LocalConfig) -> Iterator[tuple[str, str]]:
    """A user that must use TLS, with a known password, as the cluster's prism_app is."""
    user, password = f"rot_{uuid.uuid4().hex[:10]}", f"initial-{uuid.uuid4().hex}"
    with root_connection(local_servers) as root, root.cursor() as cursor:
        cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s REQUIRE SSL", (user, local_servers.host, password))
    try:
        yield user, password
    finally:
        with root_connection(local_servers) as root, root.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@%s", (user, local_servers.host))


@pytest.fixture
def secrets(local_servers: LocalConfig) -> Any:
    return local_servers.session().client("secretsmanager", endpoint_url=local_servers.moto_endpoint)


@pytest.fixture
def secret_arn(secrets: Any, database_user: tuple[str, str]) -> str:
    user, password = database_user
    document = {"username": user, "password": password, "engine": "mysql"}
    arn: str = secrets.create_secret(Name=f"rotation-test-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(document))[
        "ARN"
    ]
    secrets.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    return arn


@pytest.fixture
def handler(local_servers: LocalConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str, str], Any]]:
    """The function's handler as the template configures it: DB_HOST, DB_PORT, DB_CA_BUNDLE, moto's endpoint."""
    environment = {
        "POWERTOOLS_SERVICE_NAME": "db-secret-rotation",
        "POWERTOOLS_METRICS_NAMESPACE": "PrismTest",
        "DB_HOST": local_servers.host,
        "DB_PORT": str(local_servers.ports.mariadb),
        "DB_CA_BUNDLE": str(tls_files(local_servers.state_dir).ca_certificate),
        "AWS_REGION": local_servers.region,
        "AWS_DEFAULT_REGION": local_servers.region,
        "AWS_ENDPOINT_URL": local_servers.moto_endpoint,
        "AWS_ACCESS_KEY_ID": "prism-local",
        "AWS_SECRET_ACCESS_KEY": "prism-local",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # The layer's Metrics was made at import, before this environment; it needs the namespace the template sets.
    monkeypatch.setattr(metrics, "namespace", "PrismTest")
    rotation.secret_rotator.cache_clear()
    app = load_handler()
    context = SimpleNamespace(
        function_name="DbSecretRotationFunction",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:DbSecretRotationFunction",
        aws_request_id=str(uuid.uuid4()),
    )

    def invoke(arn: str, token: str, step: str) -> Any:
        return app.lambda_handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, context)

    yield invoke
    rotation.secret_rotator.cache_clear()


def secrets_manager_starts_rotation(secrets: Any, arn: str) -> str:
    """What RotateSecret does before it invokes the function: stage a new version id AWSPENDING."""
    token = str(uuid.uuid4())
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        secrets.rotate_secret(SecretId=arn, ClientRequestToken=token, RotationLambdaARN=MISSING_LAMBDA)
    description = secrets.describe_secret(SecretId=arn)
    assert description["RotationEnabled"] is True
    assert description["VersionIdsToStages"][token] == ["AWSPENDING"], "moto no longer stages the token this way"
    return token


def logs_in(config: LocalConfig, user: str, password: str) -> bool:
    try:
        connection = pymysql.connect(
            host=config.host,
            port=config.ports.mariadb,
            user=user,
            password=password,
            ssl_ca=str(tls_files(config.state_dir).ca_certificate),
            ssl_verify_cert=True,
            ssl_verify_identity=True,
            connect_timeout=5,
        )
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != 1045:  # only a refused password answers "no"; anything else is a broken test setup
            raise
        return False
    connection.close()
    return True


def secret_value(secrets: Any, arn: str, stage: str) -> dict[str, Any]:
    return json.loads(secrets.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])


def secret_state(secrets: Any, arn: str) -> tuple[Any, ...]:
    versions = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    values = {
        version: secrets.get_secret_value(SecretId=arn, VersionId=version).get("SecretString")
        for version, stages in versions.items()
        if stages
    }
    return versions, values


def test_a_rotation_changes_the_users_password_and_moves_awscurrent(
    local_servers: LocalConfig, secrets: Any, secret_arn: str, database_user: tuple[str, str], handler: Any
) -> None:
    user, old_password = database_user
    token = secrets_manager_starts_rotation(secrets, secret_arn)

    outcomes = [handler(secret_arn, token, step) for step in STEPS]

    assert [outcome["Changed"] for outcome in outcomes] == [True, True, False, True]
    current, previous = (
        secret_value(secrets, secret_arn, "AWSCURRENT"),
        secret_value(secrets, secret_arn, "AWSPREVIOUS"),
    )
    assert previous == {"username": user, "password": old_password, "engine": "mysql"}
    assert current["username"] == user
    assert current["engine"] == "mysql"
    new_password = current["password"]
    assert len(new_password) == 32
    assert not set(new_password) & set(rotation.EXCLUDED_CHARACTERS)
    assert logs_in(local_servers, user, new_password)
    assert not logs_in(local_servers, user, old_password)
    with root_connection(local_servers) as root, root.cursor() as cursor:
        cursor.execute("SHOW CREATE USER %s@%s", (user, local_servers.host))
        assert "REQUIRE SSL" in cursor.fetchone()[0], "the password change keeps the TLS requirement"


def test_each_step_run_again_changes_nothing(
    local_servers: LocalConfig, secrets: Any, secret_arn: str, database_user: tuple[str, str], handler: Any
) -> None:
    user, _ = database_user
    token = secrets_manager_starts_rotation(secrets, secret_arn)

    again = []
    for step in STEPS:
        handler(secret_arn, token, step)
        before = secret_state(secrets, secret_arn)
        again.append(handler(secret_arn, token, step))
        assert secret_state(secrets, secret_arn) == before, f"{step} run again changed the secret"
    finished = secret_state(secrets, secret_arn)
    after_the_end = [handler(secret_arn, token, step) for step in STEPS]

    assert [outcome["Changed"] for outcome in again] == [False, False, False, False]
    assert [outcome["Changed"] for outcome in after_the_end] == [False, False, False, False]
    assert secret_state(secrets, secret_arn) == finished
    assert logs_in(local_servers, user, secret_value(secrets, secret_arn, "AWSCURRENT")["password"])


def test_a_secret_without_rotation_enabled_is_refused(
    secrets: Any, database_user: tuple[str, str], handler: Any
) -> None:
    user, password = database_user
    arn = secrets.create_secret(
        Name=f"rotation-off-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"username": user, "password": password})
    )["ARN"]

    with pytest.raises(rotation.SecretRotationError, match="is not enabled for rotation"):
        handler(arn, str(uuid.uuid4()), "createSecret")


def test_the_rotation_function_needs_no_setting_beyond_the_templates(tmp_path: Path) -> None:
    settings = rotation.SecretRotationSettings.from_env(
        {
            "DB_HOST": "prism.cluster-abc.us-east-1.rds.amazonaws.com",
            "DB_PORT": "3306",
            "DB_CA_BUNDLE": "",
            "AWS_REGION": "eu-west-1",
        }
    )

    assert rotation.TlsDatabaseLogin(settings).where == "prism.cluster-abc.us-east-1.rds.amazonaws.com:3306"
