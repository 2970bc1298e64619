"""samconfig.toml's environments deploy template.yaml: every override names a parameter of the template and
passes its constraints, and each environment gets what its comments promise."""

from __future__ import annotations

import tomllib
from typing import Any, Final

import pytest

from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, REPO_ROOT
from prism_local.template.reader import Template

SAMCONFIG: Final = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
ENVIRONMENTS: Final = ("default", "prod")


def overrides(environment: str) -> dict[str, str]:
    entries: Any = SAMCONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    assert isinstance(entries, list)
    pairs = [entry.split("=", 1) for entry in entries]
    assert all(len(pair) == 2 for pair in pairs)
    return dict(pairs)


def template_for(environment: str) -> Template:
    # Template.load checks each value against the parameter's Type, AllowedValues, pattern and bounds.
    return Template.load(
        REPO_ROOT / "template.yaml",
        overrides(environment),
        stack_name=SAMCONFIG[environment]["global"]["parameters"]["stack_name"],
        region=DEFAULT_REGION,
        account_id=ACCOUNT_ID,
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_override_is_a_valid_template_parameter(environment: str) -> None:
    template = template_for(environment)

    assert set(overrides(environment)) <= set(template.parameters)
    assert SAMCONFIG[environment]["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM"


def test_dev_creates_the_smallest_stack_that_scales_to_zero() -> None:
    template = template_for("default")

    assert template.parameters["Stage"] == "dev"
    assert template.condition("DatabaseCanPause")
    assert "DatabaseReader" not in template.resources
    assert not template.condition("SearchZoneAware")


def test_prod_is_protected_and_spread_over_two_zones() -> None:
    template = template_for("prod")

    assert template.parameters["Stage"] == "prod"
    assert template.condition("IsProd")
    assert "DatabaseReader" in template.resources
    assert template.condition("SearchZoneAware")
    assert not template.condition("DatabaseCanPause")
    assert int(template.parameters["DbBackupRetentionDays"]) >= 7
    names = {overrides(e)["SearchDomainName"] for e in ENVIRONMENTS}
    assert len(names) == len(ENVIRONMENTS), "each environment's domain has a name of its own"
