"""Parameters (overrides, defaults, constraints) and Conditions, decided before anything is provisioned."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, REPO_ROOT
from prism_local.template.model import TemplateError
from prism_local.template.reader import Template

PARAMETERS = """
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Retention: {Type: Number, Default: 4, MinValue: 1, MaxValue: 14}
  Owners: {Type: CommaDelimitedList, Default: "ana, bo"}
  Prefix: {Type: String, Default: ab, AllowedPattern: "[a-z]+", MaxLength: 5}
  Required: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  LongRetention: !Or [!Condition IsProd, !Equals [!Ref Retention, 14]]
  DevAndAna: !And [!Condition IsDev, !Equals [!Select [0, !Ref Owners], ana]]
Resources:
  Always: {Type: AWS::SQS::Queue}
  ProdOnly: {Type: AWS::SQS::Queue, Condition: IsProd}
"""


def parse(text: str = PARAMETERS, **overrides: str) -> Template:
    return Template.parse(
        text, overrides, directory=Path("/tmp"), stack_name="t", region=DEFAULT_REGION, account_id=ACCOUNT_ID
    )


def test_overrides_win_and_defaults_fill_in() -> None:
    template = parse(Required="x", Retention="7")

    assert template.parameters == {
        "Stage": "dev",
        "Retention": "7",
        "Owners": ["ana", "bo"],
        "Prefix": "ab",
        "Required": "x",
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, r"Parameters.Required has no Default: pass a value for it as a parameter override"),
        ({"Required": "x", "Stage": "qa"}, r"Parameters.Stage: 'qa' is not one of the AllowedValues \['dev', 'prod'\]"),
        ({"Required": "x", "Nope": "1"}, r"override\(s\) Nope are not declared in Parameters \(declared: Stage, "),
        ({"Required": "x", "Retention": "30"}, r"Parameters.Retention: 30 is above MaxValue 14"),
        ({"Required": "x", "Retention": "many"}, r"Parameters.Retention: 'many' is not a number"),
        ({"Required": "x", "Prefix": "AB"}, r"Parameters.Prefix: 'AB' does not match the AllowedPattern"),
        ({"Required": "x", "Prefix": "abcdef"}, r"Parameters.Prefix: 'abcdef' is longer than MaxLength 5"),
    ],
)
def test_bad_parameters_are_refused_with_their_path(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        parse(**overrides)


def test_conditions_follow_the_parameters() -> None:
    dev, prod = parse(Required="x"), parse(Required="x", Stage="prod")

    assert [dev.condition(n) for n in ("IsProd", "IsDev", "LongRetention", "DevAndAna")] == [False, True, False, True]
    assert [prod.condition(n) for n in ("IsProd", "IsDev", "LongRetention", "DevAndAna")] == [True, False, True, False]


def test_resources_whose_condition_is_false_are_left_out() -> None:
    assert list(parse(Required="x").resources) == ["Always"]
    assert list(parse(Required="x", Stage="prod").resources) == ["Always", "ProdOnly"]


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ("A: !Condition B\n  B: !Condition A", r"Conditions form a cycle: A -> B -> A"),
        ("A: !Condition Missing", r"Conditions.A uses the condition Missing, which is not declared"),
        ("A: !Equals [!Ref Q, x]", r"Conditions.A.Fn::Equals\[0\]: refers to the resource Q, but only parameters"),
        ("A: just-text", r"Conditions.A: a condition must be true or false"),
    ],
)
def test_broken_conditions_are_template_errors(conditions: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        parse(f"Conditions:\n  {conditions}\nResources:\n  Q: {{Type: AWS::SQS::Queue}}\n")


def test_an_undeclared_resource_condition_is_named() -> None:
    with pytest.raises(TemplateError, match=r"Resources.Q.Condition: 'Nope' is not a declared condition"):
        parse("Resources:\n  Q: {Type: AWS::SQS::Queue, Condition: Nope}\n")


def test_the_real_template_reads_with_its_defaults() -> None:
    template = Template.load(REPO_ROOT / "template.yaml", stack_name="t", region=DEFAULT_REGION, account_id=ACCOUNT_ID)

    assert template.parameters == {
        "Stage": "dev",
        "LogLevel": "INFO",
        "AlarmEmail": "",
        "CacheUrl": "",
        "CacheTtlSeconds": "300",
        "DbHost": "",
        "DbPort": "3306",
        "DbName": "prism",
        "DbUser": "prism_app",
        "DbAuth": "iam",
        "DbProxyResourceId": "",
        "DbCaBundle": "",
        "SearchUrl": "",
        "SearchAuth": "sigv4-es",
        "SearchIndexPrefix": "",
        "RelationalMaxConcurrency": "2",
        "ExistingVpcId": "",
        "ExistingSubnetIds": "",
        "VpcCidr": "10.40.0.0/16",
        "DbEngineVersion": "8.0.mysql_aurora.3.08.2",
        "DbMinCapacity": "0",
        "DbMaxCapacity": "4",
        "DbSecondsUntilAutoPause": "900",
        "DbBackupRetentionDays": "1",
        "SearchDomainName": "prism-dev-search",
        "SearchEngineVersion": "OpenSearch_2.19",
        "SearchInstanceType": "t3.small.search",
        "SearchInstanceCount": "1",
        "SearchVolumeGiB": "10",
        "CacheMaxDataGiB": "1",
        "CacheMaxEcpuPerSecond": "5000",
        "LakeInfrequentAccessDays": "30",
        "LakeGlacierDays": "180",
    }
    assert template.condition("IsProd") is False
    # With no endpoint given, the stack creates every store, its network, and runs the migrations.
    for condition in ("CreateDatabase", "CreateSearchDomain", "CreateCache", "CreateVpc", "RunsMigrations"):
        assert template.condition(condition) is True, condition
    assert {"Vpc", "DatabaseCluster", "DatabaseProxy", "SearchDomain", "Cache", "RelationalMigrations"} <= set(
        template.resources
    )
    assert "DatabaseReader" not in template.resources  # prod only
    assert "AlarmEmailSubscription" not in template.resources


def test_with_endpoints_given_the_stack_creates_no_store_and_no_network() -> None:
    """What the local stack does: it gives its own MariaDB, osmem and Redis."""
    given = {"DbHost": "127.0.0.1", "SearchUrl": "http://127.0.0.1:9210", "CacheUrl": "redis://127.0.0.1:6480/0"}
    template = Template.load(
        REPO_ROOT / "template.yaml", given, stack_name="t", region=DEFAULT_REGION, account_id=ACCOUNT_ID
    )

    for condition in ("CreateDatabase", "CreateSearchDomain", "CreateCache", "NeedsVpc", "RunsMigrations"):
        assert template.condition(condition) is False, condition
    created = {resource["Type"] for resource in template.resources.values()}
    assert not {t for t in created if t.startswith(("AWS::EC2::", "AWS::RDS::", "AWS::OpenSearchService::"))}
    assert "AWS::ElastiCache::ServerlessCache" not in created
    assert "RelationalDbSecretRotation" not in template.resources  # the function exists; only AWS schedules it

    with pytest.raises(TemplateError, match=r"Parameters.Stage: 'staging' is not one of the AllowedValues"):
        Template.load(
            REPO_ROOT / "template.yaml",
            {"Stage": "staging"},
            stack_name="t",
            region=DEFAULT_REGION,
            account_id=ACCOUNT_ID,
        )
