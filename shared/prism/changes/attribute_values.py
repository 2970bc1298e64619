"""DynamoDB AttributeValues (the typed JSON of stream records) to plain JSON values, exactly and strictly.

| DynamoDB         | plain JSON                                   |
|------------------|----------------------------------------------|
| S                | string                                       |
| N                | int when integral, else Decimal (exact text) |
| B                | base64 string, as the stream sends it        |
| BOOL, NULL       | true/false, null                             |
| SS, NS, BS       | sorted array (sets have no JSON type)        |
| L, M             | array, object                                |

Anything else (an unknown type tag, a number that is not a number, two tags in one value) raises
MalformedChangeError naming the attribute path, because a record we cannot read exactly must not be
published approximately.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from prism.errors import MalformedChangeError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# DynamoDB numbers: up to 38 significant digits, magnitude between 1E-130 and 9.99...E+125.
_MAX_DIGITS = 38


def item_to_plain(item: Mapping[str, Any], path: str) -> dict[str, Any]:
    """A whole item (``{"attr": {"S": "..."}, ...}``) as a plain-JSON object."""
    if not isinstance(item, dict):
        raise MalformedChangeError(f"{path}: expected a map of attributes, got {type(item).__name__}")
    return {name: value_to_plain(value, f"{path}.{name}") for name, value in item.items()}


def value_to_plain(value: Any, path: str) -> Any:
    """One AttributeValue as a plain-JSON value."""
    if not isinstance(value, dict) or len(value) != 1:
        raise MalformedChangeError(f"{path}: expected one type tag such as {{'S': ...}}, got {value!r:.80}")
    ((tag, content),) = value.items()
    decode = _DECODERS.get(tag)
    if decode is None:
        raise MalformedChangeError(f"{path}: unknown DynamoDB type {tag!r}")
    return decode(content, path)


def _string(content: Any, path: str) -> str:
    if not isinstance(content, str):
        raise MalformedChangeError(f"{path}: S value must be a string, got {type(content).__name__}")
    return content


def _number(content: Any, path: str) -> int | Decimal:
    if not isinstance(content, str):
        raise MalformedChangeError(f"{path}: N value must be a numeric string, got {type(content).__name__}")
    try:
        number = Decimal(content)
    except InvalidOperation as exc:
        raise MalformedChangeError(f"{path}: N value {content!r:.40} is not a number") from exc
    if not number.is_finite() or len(number.normalize().as_tuple().digits) > _MAX_DIGITS:
        raise MalformedChangeError(f"{path}: N value {content!r:.40} is not a DynamoDB number")
    if number == number.to_integral_value() and "." not in content and "e" not in content.lower():
        return int(content)
    return number


def _binary(content: Any, path: str) -> str:
    if isinstance(content, bytes | bytearray):
        return base64.b64encode(content).decode("ascii")
    if not isinstance(content, str):
        raise MalformedChangeError(f"{path}: B value must be base64 text, got {type(content).__name__}")
    try:
        base64.b64decode(content, validate=True)
    except binascii.Error as exc:
        raise MalformedChangeError(f"{path}: B value is not valid base64") from exc
    return content


def _boolean(content: Any, path: str) -> bool:
    if not isinstance(content, bool):
        raise MalformedChangeError(f"{path}: BOOL value must be true or false, got {content!r:.40}")
    return content


def _null(content: Any, path: str) -> None:
    if content is not True:
        raise MalformedChangeError(f"{path}: NULL value must be true, got {content!r:.40}")


def _set_of(element: Callable[[Any, str], Any]) -> Callable[[Any, str], list[Any]]:
    def decode(content: Any, path: str) -> list[Any]:
        if not isinstance(content, list) or not content:
            raise MalformedChangeError(f"{path}: a set must be a non-empty list")
        return sorted(element(item, f"{path}[{index}]") for index, item in enumerate(content))

    return decode


def _list(content: Any, path: str) -> list[Any]:
    if not isinstance(content, list):
        raise MalformedChangeError(f"{path}: L value must be a list, got {type(content).__name__}")
    return [value_to_plain(item, f"{path}[{index}]") for index, item in enumerate(content)]


def _map(content: Any, path: str) -> dict[str, Any]:
    return item_to_plain(content, path)


_DECODERS: Mapping[str, Callable[[Any, str], Any]] = {
    "S": _string,
    "N": _number,
    "B": _binary,
    "BOOL": _boolean,
    "NULL": _null,
    "SS": _set_of(_string),
    "NS": _set_of(_number),
    "BS": _set_of(_binary),
    "L": _list,
    "M": _map,
}
