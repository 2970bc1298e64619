"""Functions as Prism runs them: SAM Globals merged the way SAM merges them, then resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, REPO_ROOT
from prism_local.template.model import TemplateError
from prism_local.template.reader import Template
from prism_local.template.sam_function import merge_globals
from tests.support.provisioned import fake_stack

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "templates" / "features.yaml"


def load(path: Path, **overrides: str) -> Template:
    return Template.load(path, overrides, stack_name="prism-local", region=DEFAULT_REGION, account_id=ACCOUNT_ID)


def parse(text: str, directory: Path) -> Template:
    return Template.parse(text, directory=directory, stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID)


def test_merge_follows_sam_scalars_replace_maps_merge_lists_add() -> None:
    globals_ = {"Timeout": 3, "Tags": {"a": "g", "b": "g"}, "Layers": ["g"], "KmsKeyArn": {"Ref": "K"}}
    local = {"Timeout": 9, "Tags": {"b": "l", "c": "l"}, "Layers": ["l"], "KmsKeyArn": "arn:local"}

    assert merge_globals(globals_, local) == {
        "Timeout": 9,
        "Tags": {"a": "g", "b": "l", "c": "l"},
        "Layers": ["g", "l"],
        "KmsKeyArn": "arn:local",  # an intrinsic counts as a scalar, so the function's value replaces it
    }


def test_merge_of_different_kinds_keeps_the_functions_value() -> None:
    assert merge_globals({"Layers": ["g"]}, {"Layers": {"Fn::If": ["C", ["a"], ["b"]]}}) == {
        "Layers": {"Fn::If": ["C", ["a"], ["b"]]}
    }


def test_the_fanout_function_of_template_yaml() -> None:
    template = load(REPO_ROOT / "template.yaml")
    stack = fake_stack(template, ChangesTopic="arn:topic", ClaimCheckBucket="bucket")

    spec = template.function("FanoutFunction", stack)

    assert spec.function_name == "prism-local-FanoutFunction"
    assert spec.arn == "arn:aws:lambda:us-east-1:123456789012:function:prism-local-FanoutFunction"
    assert spec.code_uri == REPO_ROOT / "functions" / "fanout"
    assert (spec.handler, spec.runtime, spec.architectures) == ("app.lambda_handler", "python3.13", ("arm64",))
    assert (spec.timeout, spec.memory_size, spec.tracing) == (60, 512, "Active")
    assert spec.layers == (REPO_ROOT / "shared",)
    assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "fanout"  # the function's key wins
    assert spec.environment["POWERTOOLS_METRICS_NAMESPACE"] == "Prism"  # inherited from Globals
    assert spec.environment["CHANGES_TOPIC_ARN"] == "arn:topic"
    assert spec.environment["CLAIM_CHECK_BUCKET"] == "bucket"
    (event,) = spec.events
    assert (event.name, event.type) == ("TableStream", "DynamoDB")
    assert event.properties["Stream"] == "Table.StreamArn"
    assert event.properties["DestinationConfig"]["OnFailure"]["Destination"] == "FanoutFailureQueue.Arn"
    assert event.properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert spec.unemulated_events == ()


def test_globals_maps_merge_lists_add_and_conditions_apply() -> None:
    dev, prod = load(FIXTURE), load(FIXTURE, Stage="prod")

    dev_spec = dev.function("WorkerFunction", fake_stack(dev))
    prod_spec = prod.function("WorkerFunction", fake_stack(prod))

    fixtures = FIXTURE.parent
    assert dev_spec.layers == (fixtures / "layers" / "common", fixtures / "layers" / "extra")  # Globals first
    assert dev_spec.environment == {
        "LOG_LEVEL": "DEBUG",
        "SHARED": "from-globals",
        "OVERRIDDEN": "from-function",
        "QUEUE_URL": "ref:OrdersQueue",
        "SECRET_ARN": "ref:DatabaseSecret",
        "PARAMETER": "ref:QueueUrlParameter",
        "DEBUG_ENABLED": "true",
        "RETENTION_DAYS": "4",
    }
    assert prod_spec.environment["PROD_QUEUE"] == "ref:ProdOnlyQueue"
    assert (prod_spec.environment["LOG_LEVEL"], prod_spec.environment["DEBUG_ENABLED"]) == ("INFO", "false")
    assert (dev_spec.timeout, dev_spec.memory_size, dev_spec.architectures) == (40, 128, ("x86_64",))
    assert [(e.name, e.type) for e in dev_spec.events] == [("Orders", "SQS"), ("GetOrder", "Api")]
    assert dev_spec.events[0].properties == {"Queue": "OrdersQueue.Arn", "BatchSize": 10}
    assert dev_spec.events[1].properties == {"RestApiId": "ref:PublicApi", "Path": "/orders/{id}", "Method": "get"}
    assert dev_spec.unemulated_events == (("Nightly", "Schedule"),)
    assert [spec.logical_id for spec in dev.functions(fake_stack(dev))] == ["WorkerFunction"]
    assert [spec.logical_id for spec in prod.functions(fake_stack(prod))] == ["ProdOnlyFunction", "WorkerFunction"]
    with pytest.raises(TemplateError, match=r"ProdOnlyFunction is not in the stack: its Condition IsProd is false"):
        dev.function("ProdOnlyFunction", fake_stack(dev))


def test_an_unknown_function_lists_the_functions_there_are() -> None:
    template = load(REPO_ROOT / "template.yaml")
    stack = fake_stack(template)

    with pytest.raises(
        TemplateError,
        match=r"^Nope is not a resource of this template \(functions: ApiFunction, FanoutFunction, CacheSinkFunction, "
        r"RelationalFunction, LakeFunction, SearchFunction, SearchReindexFunction, MigrationFunction, "
        r"DbSecretRotationFunction\)",
    ):
        template.function("Nope", stack)
    with pytest.raises(
        TemplateError, match=r"^Table is an AWS::DynamoDB::Table, not a function \(functions: ApiFunction"
    ):
        template.function("Table", stack)
    assert [spec.logical_id for spec in template.functions(stack)] == [
        "ApiFunction",
        "FanoutFunction",
        "CacheSinkFunction",
        "RelationalFunction",
        "LakeFunction",
        "SearchFunction",
        "SearchReindexFunction",
        "MigrationFunction",
        "DbSecretRotationFunction",
    ]


FUNCTION = """
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
{globals_extra}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code_uri}
{function_extra}
"""


def function_template(tmp_path: Path, globals_extra: str = "", function_extra: str = "") -> Template:
    (tmp_path / "code").mkdir(exist_ok=True)
    code_uri = "code/"
    if function_extra.strip().startswith("CodeUri:"):
        code_uri, function_extra = function_extra.strip().removeprefix("CodeUri:").strip(), ""
    text = FUNCTION.format(globals_extra=globals_extra, function_extra=function_extra, code_uri=code_uri)
    return parse(text, tmp_path)


def test_defaults_apply_when_neither_side_sets_a_value(tmp_path: Path) -> None:
    template = function_template(tmp_path, function_extra="      FunctionName: !Sub ${AWS::StackName}-named")

    spec = template.function("Fn", fake_stack(template))

    assert (spec.timeout, spec.memory_size, spec.architectures) == (3, 128, ("x86_64",))
    assert (spec.environment, spec.layers, spec.events, spec.tracing) == ({}, (), (), None)
    assert spec.function_name == "s-named"
    assert spec.code_uri == tmp_path / "code"


@pytest.mark.parametrize(
    ("globals_extra", "function_extra", "message"),
    [
        (
            "",
            "      Layers: [arn:aws:lambda:us-east-1:1:layer:x:1]",
            r"Resources.Fn.Properties.Layers\[0\]: 'arn:aws:lambda:us-east-1:1:layer:x:1' is not an "
            r"AWS::Serverless::LayerVersion of this template; an external layer cannot be emulated",
        ),
        (
            "    Layers: [arn:aws:lambda:us-east-1:1:layer:x:1]",
            "",
            r"^Globals.Function.Layers\[0\]: 'arn:aws:lambda",
        ),
        (
            "    Architectures: [arm64]",
            "      Architectures: [x86_64]",
            r"Architectures: a function has exactly one architecture, got \['arm64', 'x86_64'\]",
        ),
        (
            "    Environment: {Variables: {X: !ImportValue shared}}",
            "",
            r"^Globals.Function.Environment.Variables.X: Fn::ImportValue cannot be emulated locally",
        ),
        (
            "",
            "      Environment: {Variables: {X: !ImportValue shared}}",
            r"^Resources.Fn.Properties.Environment.Variables.X: Fn::ImportValue cannot be emulated locally",
        ),
        ("", "      Environment: {Variables: {X: [1]}}", r"Variables.X: an environment value must be a string"),
        ("", "      Timeout: soon", r"Resources.Fn.Properties.Timeout: expected a whole number"),
        ("", "      CodeUri: s3://bucket/key.zip", r"CodeUri: 's3://bucket/key.zip' is not a local directory"),
        ("", "      CodeUri: missing/", r"CodeUri: .*missing is not a directory"),
        ("", "      InlineCode: print(1)", r"only zip functions with a local CodeUri can run locally"),
    ],
)
def test_functions_that_cannot_run_locally_say_where(
    tmp_path: Path, globals_extra: str, function_extra: str, message: str
) -> None:
    template = function_template(tmp_path, globals_extra, function_extra)

    with pytest.raises(TemplateError, match=message):
        template.function("Fn", fake_stack(template))


def test_runtime_is_required_from_the_function_or_globals(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    template = parse(
        "Resources:\n  Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: code/, Handler: h}}", tmp_path
    )

    with pytest.raises(TemplateError, match=r"Resources.Fn.Properties.Runtime is required .*Globals.Function"):
        template.function("Fn", fake_stack(template))


def test_environment_values_become_strings(tmp_path: Path) -> None:
    template = function_template(
        tmp_path, function_extra="      Environment: {Variables: {A: true, B: false, C: 5, D: 1.5, E: text}}"
    )

    spec = template.function("Fn", fake_stack(template))

    assert spec.environment == {"A": "true", "B": "false", "C": "5", "D": "1.5", "E": "text"}


def test_environment_and_layers_may_themselves_be_intrinsics(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "layer").mkdir()
    template = parse(
        """
Conditions:
  Never: !Equals [a, b]
Resources:
  Layer: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layer/}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.13
      Environment: !If [Never, !Ref AWS::NoValue, {Variables: {MODE: fallback}}]
      Layers: !If [Never, [], [!Ref Layer]]
""",
        tmp_path,
    )

    spec = template.function("Fn", fake_stack(template, Layer="arn:aws:lambda:us-east-1:1:layer:s-Layer:1"))

    assert spec.environment == {"MODE": "fallback"}
    assert spec.layers == (tmp_path / "layer",)
