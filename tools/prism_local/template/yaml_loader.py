"""Read a CloudFormation YAML template: short-form tags become the long form CloudFormation documents.

``!GetAtt Table.StreamArn`` loads as ``{"Fn::GetAtt": ["Table", "StreamArn"]}`` and ``!Ref X`` as
``{"Ref": "X"}``, so everything downstream handles exactly one spelling of each intrinsic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from prism_local.template.model import TemplateError

if TYPE_CHECKING:
    from pathlib import Path

#: Short-form tag -> long-form key. ``!Ref`` and ``!Condition`` have no ``Fn::`` prefix in the long form.
SHORT_FORM_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Base64",
            "Cidr",
            "Equals",
            "FindInMap",
            "GetAZs",
            "If",
            "ImportValue",
            "Join",
            "Not",
            "And",
            "Or",
            "Select",
            "Split",
            "Sub",
            "Length",
            "ToJsonString",
        )
    },
}


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that knows the intrinsic short forms, refuses duplicate keys and keeps dates as text.

    CloudFormation reads ``2010-09-09`` as a string and rejects a key given twice, where plain YAML would
    build a date and silently keep the last value.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_intrinsic(loader: CloudFormationLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = SHORT_FORM_TAGS.get(tag_suffix)
    if key is None:
        raise yaml.constructor.ConstructorError(None, None, f"unknown tag !{tag_suffix}", node.start_mark)
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)
    return {key: value}


def _construct_get_att(loader: CloudFormationLoader, node: yaml.Node) -> dict[str, Any]:
    """``!GetAtt A.B`` splits at the first dot (attribute names such as ``Endpoint.Address`` keep theirs)."""
    if isinstance(node, yaml.ScalarNode):
        resource, dot, attribute = loader.construct_scalar(node).partition(".")
        if not dot or not resource or not attribute:
            raise yaml.constructor.ConstructorError(None, None, "!GetAtt needs Resource.Attribute", node.start_mark)
        return {"Fn::GetAtt": [resource, attribute]}
    if isinstance(node, yaml.SequenceNode):
        return {"Fn::GetAtt": loader.construct_sequence(node, deep=True)}
    raise yaml.constructor.ConstructorError(
        None, None, "!GetAtt takes Resource.Attribute or [Resource, Attribute]", node.start_mark
    )


# Timestamps are the one implicit type CloudFormation does not have; the rest (bool, int, float, null) stay.
CloudFormationLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CloudFormationLoader.add_constructor("!GetAtt", _construct_get_att)
CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml_text(text: str, *, source: str = "<template>") -> dict[str, Any]:
    """Parse template text into plain dicts and lists with long-form intrinsics."""
    try:
        document = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid CloudFormation YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"{source}: a template is a mapping with a Resources section")
    return document


def load_yaml(path: Path) -> dict[str, Any]:
    """Read and parse a template file; a missing or unreadable file is a TemplateError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read the template: {exc.strerror}") from exc
    return load_yaml_text(text, source=str(path))
