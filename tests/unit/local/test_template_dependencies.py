"""Creation order: every resource after what it refers to, and refusals before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, REPO_ROOT
from prism_local.stack.provision import check_emulated_references
from prism_local.template.model import TemplateError
from prism_local.template.reader import Template


def parse(resources: str, **overrides: str) -> Template:
    text = (
        "Parameters:\n  Stage: {Type: String, Default: dev}\n"
        "Conditions:\n  IsProd: !Equals [!Ref Stage, prod]\n"
        f"Resources:\n{resources}"
    )
    return Template.parse(
        text, overrides, directory=Path("/tmp"), stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID
    )


def before(order: list[str], first: str, then: str) -> bool:
    return order.index(first) < order.index(then)


def test_template_yaml_creates_what_each_resource_needs_first() -> None:
    template = Template.load(REPO_ROOT / "template.yaml", stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID)

    order = template.creation_order()

    assert sorted(order) == sorted(template.resources)
    assert before(order, "DataKey", "Table")  # SSESpecification.KMSMasterKeyId: !Ref DataKey
    assert before(order, "DataKey", "DataKeyAlias")
    assert before(order, "RelationalDeadLetterQueue", "RelationalQueue")  # RedrivePolicy GetAtt
    assert before(order, "RelationalQueue", "RelationalSubscription")
    assert before(order, "DeliveryFailureQueue", "CacheSubscription")
    assert before(order, "ChangesTopic", "LakeSubscription")
    assert before(order, "Table", "FanoutFunction")  # the event's Stream
    assert before(order, "PrismLayer", "FanoutFunction")  # through Globals.Function.Layers
    assert before(order, "FanoutFunction", "FanoutLogGroup")  # !Sub /aws/lambda/${FanoutFunction}


def test_sub_references_and_depends_on_order_resources() -> None:
    template = parse(
        "  C: {Type: AWS::SSM::Parameter, Properties: {Value: !Sub '${B.Arn}/${!Literal}/${AWS::Region}'}}\n"
        "  B: {Type: AWS::SQS::Queue, DependsOn: A}\n"
        "  A: {Type: AWS::SQS::Queue}\n"
    )

    assert template.creation_order() == ["A", "B", "C"]
    assert template.references("C") == {"B": "Resources.C.Properties.Value"}


def test_the_branch_fn_if_does_not_take_is_no_dependency() -> None:
    resources = (
        "  P: {Type: AWS::SQS::Queue, Condition: IsProd}\n"
        "  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !If [IsProd, !GetAtt P.QueueName, dev-q]}}\n"
    )

    assert parse(resources).creation_order() == ["Q"]
    assert parse(resources, Stage="prod").creation_order() == ["P", "Q"]


def test_a_reference_to_a_resource_whose_condition_is_false_is_refused() -> None:
    template = parse(
        "  P: {Type: AWS::SQS::Queue, Condition: IsProd}\n"
        "  Q: {Type: AWS::SSM::Parameter, Properties: {Value: !Ref P}}\n"
    )

    with pytest.raises(
        TemplateError, match=r"Resources.Q.Properties.Value: refers to P, whose Condition IsProd is false"
    ):
        template.creation_order()


def test_cycles_and_unknown_depends_on_are_refused() -> None:
    cycle = parse(
        "  A: {Type: AWS::SQS::Queue, Properties: {Tags: [{Key: k, Value: !Ref B}]}}\n"
        "  B: {Type: AWS::SQS::Queue, DependsOn: [A]}\n"
    )
    unknown = parse("  A: {Type: AWS::SQS::Queue, DependsOn: Ghost}\n")

    with pytest.raises(TemplateError, match="cycle among: A, B"):
        cycle.creation_order()
    with pytest.raises(TemplateError, match=r"Resources\.A\.DependsOn: Ghost is not a resource"):
        unknown.creation_order()


def test_an_emulated_resource_needing_a_not_emulated_one_is_refused_naming_both() -> None:
    template = parse(
        "  Role: {Type: AWS::IAM::Role}\n"
        "  Param: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: !GetAtt Role.Arn}}\n"
    )

    with pytest.raises(
        TemplateError,
        match=r"Resources.Param.Properties.Value: Param \(AWS::SSM::Parameter\) refers to Role \(AWS::IAM::Role\), "
        r"which is not emulated locally",
    ):
        check_emulated_references(template)


def test_not_emulated_resources_may_refer_to_emulated_ones() -> None:
    check_emulated_references(
        Template.load(REPO_ROOT / "template.yaml", stack_name="s", region=DEFAULT_REGION, account_id=ACCOUNT_ID)
    )


def test_depends_on_a_not_emulated_resource_only_orders_creation() -> None:
    template = parse("  Role: {Type: AWS::IAM::Role}\n  Queue: {Type: AWS::SQS::Queue, DependsOn: Role}\n")

    check_emulated_references(template)
    assert template.creation_order() == ["Role", "Queue"]


def test_an_emulated_resource_needing_a_sam_generated_resource_is_refused() -> None:
    template = parse("  Param: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: !GetAtt FnRole.Arn}}\n")

    with pytest.raises(
        TemplateError,
        match=r"Resources.Param.Properties.Value: Param \(AWS::SSM::Parameter\) refers to FnRole, which is not a "
        r"parameter or resource",
    ):
        check_emulated_references(template)
