"""The YAML loader turns CloudFormation's short-form tags into the long form, and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from prism_local.template.model import TemplateError
from prism_local.template.yaml_loader import load_yaml, load_yaml_text

if TYPE_CHECKING:
    from pathlib import Path


def load_value(text: str) -> object:
    return load_yaml_text(f"Value: {text}\n")["Value"]


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("!Ref Table", {"Ref": "Table"}),
        ("!GetAtt Table.StreamArn", {"Fn::GetAtt": ["Table", "StreamArn"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Table, Arn]", {"Fn::GetAtt": ["Table", "Arn"]}),
        ("!Sub arn:${AWS::Partition}:x", {"Fn::Sub": "arn:${AWS::Partition}:x"}),
        ("!Sub ['${A}-b', {A: !Ref X}]", {"Fn::Sub": ["${A}-b", {"A": {"Ref": "X"}}]}),
        ("!Join [',', [a, b]]", {"Fn::Join": [",", ["a", "b"]]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!If [IsProd, 1, 2]", {"Fn::If": ["IsProd", 1, 2]}),
        ("!Equals [!Ref Stage, prod]", {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}),
        ("!Not [!Condition IsProd]", {"Fn::Not": [{"Condition": "IsProd"}]}),
        ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!FindInMap [M, a, b]", {"Fn::FindInMap": ["M", "a", "b"]}),
        ("!Base64 hello", {"Fn::Base64": "hello"}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!Cidr [10.0.0.0/16, 2, 8]", {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}),
    ],
)
def test_short_form_tags_load_as_the_long_form(short: str, long: object) -> None:
    assert load_value(short) == long


def test_plain_yaml_keeps_its_types_but_dates_stay_text() -> None:
    document = load_yaml_text("AWSTemplateFormatVersion: 2010-09-09\nA: 3\nB: true\nC: [x]\n")

    assert document == {"AWSTemplateFormatVersion": "2010-09-09", "A": 3, "B": True, "C": ["x"]}


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(TemplateError, match="duplicate key 'Table'"):
        load_yaml_text("Resources:\n  Table: {}\n  Table: {}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Value: !Nope x\n", "unknown tag !Nope"),
        ("Value: !GetAtt NoDot\n", "Resource.Attribute"),
        ("Value: [unclosed\n", "not valid CloudFormation YAML"),
        ("- just a list\n", "a template is a mapping"),
    ],
)
def test_malformed_templates_are_template_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        load_yaml_text(text)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(TemplateError, match=r"nope\.yaml: cannot read the template"):
        load_yaml(missing)
