"""The offline parts of provisioning: secret generation, naming, and the stack.json record."""

from __future__ import annotations

import json
import string
from typing import TYPE_CHECKING

import pytest

from prism_local.stack.emulated.secret import PUNCTUATION, generate_secret_string
from prism_local.stack.provision import StackNotProvisionedError, load_stack, provision, save_stack
from prism_local.template.model import PhysicalResource, ProvisionedStack, TemplateError
from prism_local.template.reader import Template

if TYPE_CHECKING:
    from pathlib import Path


def test_generated_secret_fills_the_template_key() -> None:
    value = json.loads(
        generate_secret_string(
            {"SecretStringTemplate": '{"username": "prism"}', "GenerateStringKey": "password", "PasswordLength": 24},
            "p",
        )
    )

    assert value["username"] == "prism"
    assert len(value["password"]) == 24


def test_generated_password_has_each_kind_and_none_of_the_excluded() -> None:
    for _ in range(50):
        password = generate_secret_string({"PasswordLength": 8, "ExcludeCharacters": 'abc0/@"'}, "p")

        assert len(password) == 8
        assert not set(password) & set('abc0/@"')
        for kind in (string.ascii_uppercase, string.ascii_lowercase, string.digits, PUNCTUATION):
            assert set(password) & set(kind)


def test_generated_password_honours_the_exclusion_flags() -> None:
    password = generate_secret_string(
        {"ExcludePunctuation": True, "ExcludeUppercase": "true", "ExcludeNumbers": True, "PasswordLength": 40}, "p"
    )

    assert set(password) <= set(string.ascii_lowercase)
    assert len(password) == 40


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"GenerateStringKey": "password"}, "SecretStringTemplate and GenerateStringKey go together"),
        ({"SecretStringTemplate": "[1]", "GenerateStringKey": "k"}, "must be a JSON object"),
        ({"SecretStringTemplate": "{", "GenerateStringKey": "k"}, "SecretStringTemplate: not JSON"),
        ({"PasswordLength": 2}, "no password of length 2 satisfies"),
    ],
)
def test_impossible_secret_specs_are_template_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        generate_secret_string(spec, "Resources.S.Properties.GenerateSecretString")


def test_the_stack_record_round_trips(tmp_path: Path) -> None:
    stack = ProvisionedStack(
        "s",
        "us-east-1",
        "123456789012",
        {"Q": PhysicalResource("Q", "AWS::SQS::Queue", "http://q", {"Arn": "arn:q"})},
        {"Role": "AWS::IAM::Role"},
    )

    save_stack(stack, tmp_path / "state" / "stack.json")

    assert load_stack(tmp_path / "state" / "stack.json") == stack
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["stack.json"]


def test_a_missing_or_broken_record_says_to_run_stack_up(tmp_path: Path) -> None:
    with pytest.raises(StackNotProvisionedError, match=r"stack.json does not exist: .*run `prism stack up`"):
        load_stack(tmp_path / "stack.json")
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(StackNotProvisionedError, match=r"cannot be read .*run `prism stack up`"):
        load_stack(tmp_path / "stack.json")
    (tmp_path / "stack.json").write_text('{"stack_name": "s"}')
    with pytest.raises(StackNotProvisionedError, match=r"is not a stack record .*run `prism stack up`"):
        load_stack(tmp_path / "stack.json")


def test_provisioning_refuses_a_region_the_template_was_not_loaded_for(tmp_path: Path) -> None:
    template = Template.parse(
        "Resources: {Q: {Type: AWS::SQS::Queue}}",
        directory=tmp_path,
        stack_name="s",
        region="eu-west-1",
        account_id="1",
    )

    with pytest.raises(TemplateError, match="loaded for region eu-west-1 but is being provisioned into us-east-1"):
        provision(template, endpoint_url="http://127.0.0.1:9", region="us-east-1")
