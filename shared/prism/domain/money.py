"""Money: an exact ``Decimal`` with two places, never a float.

In JSON, money is written as a string with exactly two decimals (``"19.99"``), so that clients whose JSON
numbers are binary floats (JavaScript, most parsers) keep the exact amount. Input accepts either a JSON
number or a string, and rejects more than two decimal places instead of rounding them away.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final

from pydantic import AfterValidator, Field, PlainSerializer, WithJsonSchema

CENT: Final = Decimal("0.01")
MAX_DIGITS: Final = 12  # up to 9,999,999,999.99

MONEY_PATTERN: Final = r"^[0-9]+\.[0-9]{2}$"


def to_cents(amount: Decimal) -> Decimal:
    """``amount`` with exactly two places (``Decimal("20")`` -> ``Decimal("20.00")``); exact, never rounds."""
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise ValueError(f"{amount} has more than two decimal places")
    return quantized


def money_text(amount: Decimal) -> str:
    """The JSON form of an amount: a string with two decimals."""
    return f"{amount.quantize(CENT):f}"


_INPUT_SCHEMA: Final = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$"},
    ],
    "description": "An amount greater than 0 with at most two decimals, as a number or a string.",
    "examples": ["19.99"],
}
_OUTPUT_SCHEMA: Final = {
    "type": "string",
    "pattern": MONEY_PATTERN,
    "description": "An exact amount as a string with two decimals.",
    "examples": ["19.99"],
}

Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=MAX_DIGITS, decimal_places=2),
    AfterValidator(to_cents),
    PlainSerializer(money_text, return_type=str, when_used="json"),
    WithJsonSchema(_INPUT_SCHEMA, mode="validation"),
    WithJsonSchema(_OUTPUT_SCHEMA, mode="serialization"),
]
"""A positive amount with two places; serialized to JSON as ``"19.99"``."""
