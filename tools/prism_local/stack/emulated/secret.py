"""AWS::SecretsManager::Secret, with GenerateSecretString generated locally; an existing secret keeps its value."""

from __future__ import annotations

import json
import secrets
import string
from typing import TYPE_CHECKING, Any, Final

from prism_local.stack.emulated.context import is_true, tag_list
from prism_local.template.model import PhysicalResource, TemplateError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prism_local.stack.emulated.context import MotoContext


PUNCTUATION: Final = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def generate_secret_string(spec: Mapping[str, Any], path: str) -> str:
    """What Secrets Manager's GenerateSecretString would store, generated locally with ``secrets``.

    Follows GetRandomPassword's defaults: 32 characters of upper and lower case letters, digits and
    punctuation, at least one of each included kind. With SecretStringTemplate and GenerateStringKey the
    password is added to the template's JSON under that key.
    """
    kinds = [
        kind
        for kind, excluded in (
            (string.ascii_uppercase, "ExcludeUppercase"),
            (string.ascii_lowercase, "ExcludeLowercase"),
            (string.digits, "ExcludeNumbers"),
            (PUNCTUATION, "ExcludePunctuation"),
        )
        if not is_true(spec.get(excluded))
    ]
    if is_true(spec.get("IncludeSpace")):
        kinds.append(" ")
    excluded_characters = set(str(spec.get("ExcludeCharacters", "")))
    kinds = [alphabet for kind in kinds if (alphabet := "".join(c for c in kind if c not in excluded_characters))]
    length = int(spec.get("PasswordLength", 32))
    require_each = is_true(spec.get("RequireEachIncludedType", True))
    if not kinds or length < 1 or (require_each and length < len(kinds)):
        raise TemplateError(f"{path}: no password of length {length} satisfies these exclusions")
    alphabet = "".join(kinds)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if not require_each or all(any(c in kind for c in password) for kind in kinds):
            break
    if "GenerateStringKey" not in spec and "SecretStringTemplate" not in spec:
        return password
    if "GenerateStringKey" not in spec or "SecretStringTemplate" not in spec:
        raise TemplateError(f"{path}: SecretStringTemplate and GenerateStringKey go together")
    try:
        document = json.loads(str(spec["SecretStringTemplate"]))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{path}.SecretStringTemplate: not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"{path}.SecretStringTemplate: must be a JSON object")
    document[str(spec["GenerateStringKey"])] = password
    return json.dumps(document)


def create_secret(ctx: MotoContext, logical_id: str) -> PhysicalResource:
    """Create the secret once; an existing secret keeps its value. Ref is its ARN (GetAtt Id too)."""
    props = ctx.properties(logical_id)
    ctx.note_ignored(logical_id, props, frozenset({"Name", "Description", "SecretString",
                                                   "GenerateSecretString", "KmsKeyId", "Tags"}))  # fmt: skip
    path = f"Resources.{logical_id}.Properties"
    if ("SecretString" in props) == ("GenerateSecretString" in props):
        raise TemplateError(f"{path}: set exactly one of SecretString and GenerateSecretString")
    name = ctx.name(logical_id, props.get("Name"), max_length=512)
    try:
        arn = ctx.secretsmanager.describe_secret(SecretId=name)["ARN"]  # an existing secret keeps its value
    except ctx.secretsmanager.exceptions.ResourceNotFoundException:
        value = props.get("SecretString")
        if value is None:
            value = generate_secret_string(props["GenerateSecretString"], f"{path}.GenerateSecretString")
        arguments: dict[str, Any] = {"Name": name, "SecretString": str(value)}
        for key in ("Description", "KmsKeyId"):
            if key in props:
                arguments[key] = str(props[key])
        if props.get("Tags"):
            arguments["Tags"] = tag_list(props["Tags"])
        arn = ctx.secretsmanager.create_secret(**arguments)["ARN"]
        ctx.progress(f"  {logical_id}: created secret {name}")
    return PhysicalResource(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})
