"""JSON with exact numbers: DynamoDB numbers (38 significant digits) never pass through a float.

``dumps`` writes a ``Decimal`` as its exact decimal text; ``loads`` reads every non-integer number back as a
``Decimal`` (integers stay ``int``), so ``loads(dumps(x)) == x`` for any plain-JSON value built from
str, int, Decimal, bool, None, list and dict.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

_encode_string = json.encoder.encode_basestring
_DECODER = json.JSONDecoder(parse_float=Decimal)


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; raises TypeError for anything that is not plain JSON."""
    return _text(value)


def loads(text: str | bytes) -> Any:
    """Parse JSON text, reading fractional and exponent numbers as ``Decimal``.

    Text goes to one decoder built once (``json.loads`` with keyword arguments builds a decoder per call, a
    fifth of the time on an envelope), with ``json.loads``'s own refusal of a leading byte order mark; bytes
    take ``json.loads``, which detects their encoding.
    """
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return _DECODER.decode(text)
    return json.loads(text, parse_float=Decimal)


def _text(value: Any) -> str:
    # A lookup on the exact type (the sinks write an item's JSON per change, so this is a hot path);
    # subclasses (a StrEnum, say) take the slower isinstance route.
    writer = _WRITERS.get(type(value))
    return writer(value) if writer is not None else _text_of_subclass(value)


def _object(value: dict[Any, Any]) -> str:
    return "{" + ",".join([_key(key) + ":" + _text(item) for key, item in value.items()]) + "}"


def _array(value: list[Any] | tuple[Any, ...]) -> str:
    return "[" + ",".join([_text(item) for item in value]) + "]"


def _text_of_subclass(value: Any) -> str:
    # bool itself is in _WRITERS, so a bool never reaches the int case here.
    base: type[Any]
    for base in (str, int, Decimal, dict, list, tuple):
        if isinstance(value, base):
            return _text(base(value))
    raise TypeError(f"{type(value).__name__} is not plain JSON (expected str, int, Decimal, bool, None, list, dict)")


def _key(key: Any) -> str:
    if type(key) is not str and not isinstance(key, str):
        raise TypeError(f"object keys must be strings, got {type(key).__name__}")
    return _encode_string(key)


def _literal(text: str) -> Callable[[Any], str]:
    return lambda _value: text


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise TypeError(f"{value} has no JSON representation")
    # str() keeps every digit (and trailing zeros); its exponent form ("1E+2") is valid JSON.
    return str(value)


_WRITERS: dict[type, Callable[[Any], str]] = {
    str: _encode_string,
    dict: _object,
    int: str,
    Decimal: _decimal_text,
    list: _array,
    tuple: _array,
    type(None): _literal("null"),
    bool: lambda value: "true" if value else "false",
}
