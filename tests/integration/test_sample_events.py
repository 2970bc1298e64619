"""Every function of template.yaml runs with every sample event of its directory, through `prism invoke`,
as a developer would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
CASES = [
    (logical_id, event)
    for logical_id, directory in FUNCTIONS.items()
    for event in sorted((EVENTS / directory).glob("*.json"))
]


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


@pytest.mark.parametrize(("logical_id", "event"), CASES, ids=[f"{f}:{e.name}" for f, e in CASES])
def test_each_sample_event_runs(provisioned: LocalConfig, logical_id: str, event: Path) -> None:
    result = invoke(provisioned, logical_id, event)

    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    failures = response["batchItemFailures"]
    if "poison" in event.name:
        assert len(failures) == 1, "exactly the poison record fails"
    else:
        assert failures == []
    assert "END RequestId:" in result.stderr


def test_invoking_an_unknown_function_is_a_clear_usage_error(provisioned: LocalConfig) -> None:
    result = invoke(provisioned, "NoSuchFunction", EVENTS / "fanout" / "stream-batch.json")

    assert result.returncode == 2
    assert "NoSuchFunction is not a resource of this template (functions: FanoutFunction" in result.stderr


def test_an_invalid_event_file_is_a_clear_usage_error(provisioned: LocalConfig, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"Records": [')

    result = invoke(provisioned, "FanoutFunction", broken)

    assert result.returncode == 2
    assert "is not valid JSON" in result.stderr
