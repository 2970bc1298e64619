from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from prism.changes import exact_json
from prism.changes.attribute_values import item_to_plain, value_to_plain
from prism.errors import MalformedChangeError


@pytest.mark.parametrize(
    ("attribute", "plain"),
    [
        ({"S": "héllo"}, "héllo"),
        ({"N": "42"}, 42),
        ({"N": "-7"}, -7),
        ({"N": "1.10"}, Decimal("1.10")),
        ({"N": "12345678901234567890.123456789012345678"}, Decimal("12345678901234567890.123456789012345678")),
        ({"N": "1E+2"}, Decimal("1E+2")),
        ({"B": "aGVsbG8="}, "aGVsbG8="),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"SS": ["b", "a"]}, ["a", "b"]),
        ({"NS": ["10", "2.5"]}, [Decimal("2.5"), 10]),
        ({"BS": ["Yg==", "YQ=="]}, ["YQ==", "Yg=="]),
        ({"L": [{"S": "x"}, {"N": "1"}]}, ["x", 1]),
        ({"M": {"a": {"M": {"b": {"N": "0.1"}}}}}, {"a": {"b": Decimal("0.1")}}),
    ],
)
def test_every_dynamodb_type_becomes_plain_json(attribute: dict[str, object], plain: object) -> None:
    assert value_to_plain(attribute, "x") == plain


def test_numbers_keep_every_digit_through_json() -> None:
    item = {"price": {"N": "0.1"}, "big": {"N": "99999999999999999999999999999999999999"}}

    text = exact_json.dumps(item_to_plain(item, "NewImage"))

    assert text == '{"price":0.1,"big":99999999999999999999999999999999999999}'
    assert exact_json.loads(text)["price"] == Decimal("0.1")


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ({"X": "1"}, "unknown DynamoDB type 'X'"),
        ({"N": "abc"}, "is not a number"),
        ({"N": "NaN"}, "is not a DynamoDB number"),
        ({"N": 5}, "numeric string"),
        ({"S": "a", "N": "1"}, "one type tag"),
        ({"NULL": False}, "NULL value must be true"),
        ({"B": "***"}, "not valid base64"),
        ({"SS": []}, "non-empty list"),
        ({"BOOL": "yes"}, "true or false"),
    ],
)
def test_malformed_values_name_the_attribute_path(attribute: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedChangeError, match=message) as raised:
        item_to_plain({"price": attribute}, "NewImage")
    assert "NewImage.price" in str(raised.value)


numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: len(d.as_tuple().digits) <= 38 and -130 < d.adjusted() < 125
)
scalars = st.one_of(st.text(), numbers, st.booleans(), st.none(), st.binary(max_size=16))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_any_item_round_trips_exactly_through_the_envelope_json(item: dict[str, object]) -> None:
    attributes = {name: TypeSerializer().serialize(value) for name, value in item.items()}

    plain = item_to_plain(attributes, "NewImage")

    assert exact_json.loads(exact_json.dumps(plain)) == plain
    for name, value in item.items():
        if isinstance(value, Decimal):
            assert plain[name] == value  # the exact value, not a float approximation
