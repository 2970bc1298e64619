"""Every intrinsic function, resolved against parameters, mappings, conditions and a hand-built stack."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from prism_local.template.model import PhysicalResource, ProvisionedStack, TemplateError
from prism_local.template.reader import Template

TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a, b ,c"}
Mappings:
  Sizes:
    dev: {Memory: 256}
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Role: {Type: AWS::IAM::Role}
  LaterQueue: {Type: AWS::SQS::Queue}
"""


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.parse(
        TEMPLATE, directory=Path("/tmp"), stack_name="demo", region="eu-west-1", account_id="123456789012"
    )


@pytest.fixture(scope="module")
def stack() -> ProvisionedStack:
    queue = PhysicalResource(
        "Queue", "AWS::SQS::Queue", "http://moto/123456789012/demo-Queue", {"Arn": "arn:aws:sqs:q", "QueueName": "q"}
    )
    return ProvisionedStack("demo", "eu-west-1", "123456789012", {"Queue": queue}, {"Role": "AWS::IAM::Role"})


def resolve(template: Template, stack: ProvisionedStack, value: Any) -> Any:
    return template.resolve(value, stack, "Resources.X.Properties.P")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Stage"}, "dev"),
        ({"Ref": "Names"}, ["a", "b", "c"]),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::StackName"}, "demo"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "AWS::NotificationARNs"}, []),
        ({"Ref": "Queue"}, "http://moto/123456789012/demo-Queue"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:q"),
        ({"Fn::GetAtt": "Queue.QueueName"}, "q"),
        ({"Fn::Sub": "${AWS::StackName}-${Stage}"}, "demo-dev"),
        ({"Fn::Sub": "${Queue.Arn}/x"}, "arn:aws:sqs:q/x"),
        ({"Fn::Sub": "${Queue}"}, "http://moto/123456789012/demo-Queue"),
        ({"Fn::Sub": "${!Literal} and ${ Stage }"}, "${Literal} and dev"),
        ({"Fn::Sub": ["${A}-${Stage}", {"A": {"Fn::GetAtt": ["Queue", "QueueName"]}}]}, "q-dev"),
        ({"Fn::Join": ["/", ["a", 1, True, {"Ref": "Stage"}]]}, "a/1/true/dev"),
        ({"Fn::Join": ["+", {"Ref": "Names"}]}, "a+b+c"),
        ({"Fn::Select": ["1", {"Ref": "Names"}]}, "b"),
        ({"Fn::Select": [0, {"Fn::Split": [":", "x:y"]}]}, "x"),
        ({"Fn::Split": [",", {"Fn::Sub": "${Stage},z"}]}, ["dev", "z"]),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::GetAZs": "us-east-2"}, ["us-east-2a", "us-east-2b", "us-east-2c"]),
        ({"Fn::Base64": {"Ref": "Stage"}}, base64.b64encode(b"dev").decode()),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 256),
        ({"Fn::FindInMap": ["Sizes", "prod", "Memory", {"DefaultValue": 128}]}, 128),
        ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
        ({"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, True),
        ({"Fn::Not": [{"Fn::Equals": ["a", "b"]}]}, True),
        ({"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [1, "1"]}]}, True),
        ({"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Condition": "IsDev"}]}, True),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, ["10.0.0.0/24", "10.0.1.0/24"]),
        ({"Fn::ToJsonString": {"a": [1]}}, '{"a":[1]}'),
        ({"Fn::Length": [1, 2, 3]}, 3),
    ],
)
def test_each_intrinsic_resolves(template: Template, stack: ProvisionedStack, value: Any, expected: Any) -> None:
    assert resolve(template, stack, value) == expected


def test_get_att_attribute_may_itself_be_an_intrinsic(template: Template, stack: ProvisionedStack) -> None:
    value = {"Fn::GetAtt": ["Queue", {"Fn::Join": ["", ["Queue", "Name"]]}]}

    assert resolve(template, stack, value) == "q"


def test_no_value_drops_the_key_and_the_list_item(template: Template, stack: ProvisionedStack) -> None:
    value = {
        "Kept": 1,
        "Dropped": {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, 2]},
        "List": ["a", {"Ref": "AWS::NoValue"}, "b"],
    }

    assert resolve(template, stack, value) == {"Kept": 1, "List": ["a", "b"]}
    assert template.resolve({"Ref": "AWS::NoValue"}, stack) is None


def test_policy_condition_keys_are_data_not_intrinsics(template: Template, stack: ProvisionedStack) -> None:
    statement = {"Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}

    assert resolve(template, stack, statement) == {"Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"Fn::ImportValue": "shared"},
            r"^Resources\.X\.Properties\.P: Fn::ImportValue cannot be emulated locally",
        ),
        ({"Ref": "Role"}, r"P: refers to Role \(AWS::IAM::Role\), which is not emulated locally"),
        ({"Fn::Sub": "${Role.Arn}"}, r"refers to Role \(AWS::IAM::Role\), which is not emulated"),
        ({"Ref": "Nope"}, r"P: Nope is not a parameter, pseudo parameter or resource"),
        ({"Ref": "LaterQueue"}, r"LaterQueue \(AWS::SQS::Queue\) is not in the local stack"),
        ({"Fn::GetAtt": ["Queue", "Missing"]}, r"Queue \(AWS::SQS::Queue\) has no attribute Missing .*Arn"),
        ({"Fn::Select": [5, ["a"]]}, r"Fn::Select index 5 is outside"),
        ({"Fn::FindInMap": ["Sizes", "prod", "Memory"]}, r"Mappings.Sizes has no key 'prod'"),
        ({"Fn::If": ["Unknown", 1, 2]}, r"Conditions.Unknown is not declared"),
        ({"Fn::Join": [",", "not-a-list"]}, r"Fn::Join needs a list"),
        ({"Fn::Sub": "${Names}"}, r"expected a string, got list"),
        ({"Fn::Transform": {}}, r"Fn::Transform is not supported by the local runtime"),
    ],
)
def test_unresolvable_values_name_their_path(
    template: Template, stack: ProvisionedStack, value: Any, message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        resolve(template, stack, value)


def test_nested_errors_name_the_nested_path(template: Template, stack: ProvisionedStack) -> None:
    value = {"Environment": {"Variables": {"X": {"Fn::ImportValue": "shared"}}}}

    with pytest.raises(TemplateError, match=r"^Resources\.X\.Properties\.P\.Environment\.Variables\.X: Fn::Imp"):
        resolve(template, stack, value)


def test_without_a_stack_only_parameters_resolve(template: Template) -> None:
    assert template.resolve({"Fn::Sub": "${Stage}-${AWS::Region}"}, None) == "dev-eu-west-1"
    with pytest.raises(TemplateError, match="only parameters, mappings and pseudo parameters are known"):
        template.resolve({"Ref": "Queue"}, None)


def test_pseudo_parameters_follow_the_partition(tmp_path: Path) -> None:
    template = Template.parse(
        "Resources: {Q: {Type: AWS::SQS::Queue}}",
        directory=tmp_path,
        stack_name="s",
        region="cn-north-1",
        account_id="1",
    )

    assert template.resolve({"Fn::Sub": "${AWS::Partition} ${AWS::URLSuffix}"}, None) == "aws-cn amazonaws.com.cn"
    assert str(template.resolve({"Ref": "AWS::StackId"}, None)).startswith("arn:aws-cn:cloudformation:cn-north-1:1:")
