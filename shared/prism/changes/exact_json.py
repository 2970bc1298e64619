"""JSON with exact numbers: DynamoDB numbers (38 significant digits) never pass through a float.

``dumps`` writes a ``Decimal`` as its exact decimal text; ``loads`` reads every non-integer number back as a
``Decimal`` (integers stay ``int``), so ``loads(dumps(x)) == x`` for any plain-JSON value built from
str, int, Decimal, bool, None, list and dict.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

_encode_string = json.encoder.encode_basestring


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; raises TypeError for anything that is not plain JSON."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def loads(text: str | bytes) -> Any:
    """Parse JSON text, reading fractional and exponent numbers as ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


def _write(value: Any, parts: list[str]) -> None:
    # bool before int: bool is a subclass of int.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_encode_string(value))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, Decimal):
        parts.append(_decimal_text(value))
    elif isinstance(value, dict):
        _write_object(value, parts)
    elif isinstance(value, list | tuple):
        _write_array(value, parts)
    else:
        raise TypeError(
            f"{type(value).__name__} is not plain JSON (expected str, int, Decimal, bool, None, list, dict)"
        )


def _write_object(value: dict[Any, Any], parts: list[str]) -> None:
    parts.append("{")
    for index, (key, item) in enumerate(value.items()):
        if not isinstance(key, str):
            raise TypeError(f"object keys must be strings, got {type(key).__name__}")
        if index:
            parts.append(",")
        parts.append(_encode_string(key))
        parts.append(":")
        _write(item, parts)
    parts.append("}")


def _write_array(value: list[Any] | tuple[Any, ...], parts: list[str]) -> None:
    parts.append("[")
    for index, item in enumerate(value):
        if index:
            parts.append(",")
        _write(item, parts)
    parts.append("]")


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise TypeError(f"{value} has no JSON representation")
    # str() keeps every digit (and trailing zeros); its exponent form ("1E+2") is valid JSON.
    return str(value)
