"""Every function of template.yaml runs with every sample event of its directory, through `prism invoke`,
as a developer would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from prism_local.config import ACCOUNT_ID, REPO_ROOT, LocalConfig
from prism_local.template.reader import Template
from tests.conftest import cli_environment

pytestmark = pytest.mark.integration

EVENTS = REPO_ROOT / "events"
TEMPLATE = Template.load(REPO_ROOT / "template.yaml", stack_name="sample", region="us-east-1", account_id=ACCOUNT_ID)
FUNCTIONS = {
    logical_id: Path(resource["Properties"]["CodeUri"]).name
    for logical_id, resource in TEMPLATE.resources.items()
    if resource["Type"] == "AWS::Serverless::Function"
}
#: Events that only make sense as a sequence against prepared state run in a test of their own (below).
IN_SEQUENCE = {"rotate_db_secret"}
CASES = [
    (logical_id, event)
    for logical_id, directory in FUNCTIONS.items()
    if directory not in IN_SEQUENCE
    for event in sorted((EVENTS / directory).glob("*.json"))
]
#: What RotateSecret names as the rotation function before it invokes it; moto has no Lambda to invoke.
ROTATION_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:prism-local-DbSecretRotationFunction"


def invoke(config: LocalConfig, function: str, event: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prism_local.cli", "invoke", function, "--event", str(event)],
        env=cli_environment(config),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_sample_events(logical_id: str) -> None:
    assert list((EVENTS / FUNCTIONS[logical_id]).glob("*.json")), f"events/{FUNCTIONS[logical_id]}/ has no event"


#: What each API Gateway event of events/api/ answers on a freshly provisioned (empty) stack.
API_STATUSES = {
    "health.json": 200,
    "create-customer.json": 201,
    "get-customer-missing.json": 404,
    "list-products-by-category.json": 200,
    "patch-order-if-match.json": 404,  # the order does not exist on an empty stack
}


@pytest.mark.parametrize(("logical_id", "event"), CASES, ids=[f"{f}:{e.name}" for f, e in CASES])
def test_each_sample_event_runs(provisioned: LocalConfig, logical_id: str, event: Path) -> None:
    result = invoke(provisioned, logical_id, event)

    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    if event.parent.name == "api":
        assert_api_response(event, response)
    elif event.parent.name == "migrate":
        assert_custom_resource_response(event, response, result.stderr)
    elif event.parent.name == "search_reindex":
        assert_reindex_response(event, response)
    else:
        assert_batch_response(event, response)
    assert "END RequestId:" in result.stderr


def assert_batch_response(event: Path, response: dict[str, Any]) -> None:
    failures = response["batchItemFailures"]
    if "poison" in event.name:
        assert len(failures) == 1, "exactly the poison record fails"
    else:
        assert failures == []


#: What each custom-resource event of events/migrate/ answers on a freshly provisioned stack, whose database
#: `prism stack up` has already migrated: Create finds the schema up to date, Delete keeps it.
MIGRATE_RESPONSES = {
    "create.json": {"Status": "SUCCESS", "Reason": "the schema was up to date", "Data": {"Applied": "", "Count": 0}},
    "delete.json": {
        "Status": "SUCCESS",
        "Reason": "Delete keeps the schema and its data",
        "Data": {"Applied": "", "Count": 0},
    },
}


def assert_custom_resource_response(event: Path, response: dict[str, Any], stderr: str) -> None:
    """The response document CloudFormation would get, for this request. Nothing listens at the sample
    events' ResponseURL, so the PUT fails; the handler logs that and returns the document anyway."""
    assert event.name in MIGRATE_RESPONSES, f"add the response {event.name} should get to MIGRATE_RESPONSES"
    request = json.loads(event.read_text())
    assert response == {
        **MIGRATE_RESPONSES[event.name],
        "PhysicalResourceId": "prism-schema",
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
    }
    assert "Could not deliver the response to CloudFormation" in stderr


def assert_reindex_response(event: Path, response: dict[str, Any]) -> None:
    """Each alias named moved from its first generation to the second (a fresh stack's indices are empty)."""
    request = json.loads(event.read_text())
    moved = [
        (r["alias"].rsplit("-", 1)[-1] if "-" in r["alias"] else r["alias"], r["source"][-3:], r["target"][-3:])
        for r in response["reindexed"]
    ]
    expected = [(f"{entity}s", "-v1", "-v2") for entity in request["entities"]]
    assert moved == expected, response


def assert_api_response(event: Path, response: dict[str, Any]) -> None:
    """A REST proxy result with the expected status and a JSON body; an error body has the API's error shape."""
    assert event.name in API_STATUSES, f"add the status {event.name} should answer to API_STATUSES"
    assert set(response) <= {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}, response
    assert response["statusCode"] == API_STATUSES[event.name], response
    assert response.get("isBase64Encoded") is False
    headers = {name.lower(): [value] for name, value in (response.get("headers") or {}).items()}
    headers |= {name.lower(): values for name, values in (response.get("multiValueHeaders") or {}).items()}
    assert headers.get("content-type") == ["application/json"]
    body = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == "not_found"
    else:
        assert "error" not in body


def test_the_rotation_events_rotate_the_stacks_app_user_in_order(provisioned: LocalConfig, tmp_path: Path) -> None:
    """events/rotate_db_secret/ as Secrets Manager sends them, after RotateSecret has staged their token: the
    stack's app user gets a new password, AWSCURRENT holds it, and the relational function still logs in."""
    secrets = provisioned.session().client("secretsmanager", endpoint_url=provisioned.moto_endpoint)
    secret_id = f"{provisioned.stack_name}-RelationalDbSecret"
    events = sorted((EVENTS / "rotate_db_secret").glob("*.json"))
    assert [json.loads(e.read_text())["Step"] for e in events] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    token = json.loads(events[0].read_text())["ClientRequestToken"]
    before = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    # What the template's RotationSchedule does on AWS: turn rotation on. Then RotateSecret stages the token
    # AWSPENDING and invokes the function (moto has none to invoke, hence the error).
    secrets.rotate_secret(SecretId=secret_id, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        secrets.rotate_secret(SecretId=secret_id, ClientRequestToken=token, RotationLambdaARN=ROTATION_LAMBDA)

    for event in events:
        request = json.loads(event.read_text()) | {"SecretId": secret_id}
        step = tmp_path / event.name
        step.write_text(json.dumps(request))
        result = invoke(provisioned, "DbSecretRotationFunction", step)
        assert result.returncode == 0, result.stderr
        assert "END RequestId:" in result.stderr

    after = json.loads(secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])
    assert after["username"] == before["username"]
    assert after["password"] != before["password"]
    sink = invoke(
        provisioned,
        "RelationalFunction",
        EVENTS
        / "relational"
        / sorted(e.name for e in (EVENTS / "relational").glob("*.json") if "poison" not in e.name)[0],
    )
    assert sink.returncode == 0, sink.stderr
    assert json.loads(sink.stdout)["batchItemFailures"] == []


def test_invoking_an_unknown_function_is_a_clear_usage_error(provisioned: LocalConfig) -> None:
    result = invoke(provisioned, "NoSuchFunction", EVENTS / "fanout" / "stream-batch.json")

    assert result.returncode == 2
    assert "NoSuchFunction is not a resource of this template (functions: ApiFunction, FanoutFunction" in result.stderr


def test_an_invalid_event_file_is_a_clear_usage_error(provisioned: LocalConfig, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"Records": [')

    result = invoke(provisioned, "FanoutFunction", broken)

    assert result.returncode == 2
    assert "is not valid JSON" in result.stderr
