"""Pagination cursors: they round-trip, and any change, truncation, foreign key or foreign listing is refused."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from prism.domain.cursor import MAX_CURSOR_CHARS, CursorCodec
from prism.domain.errors import InvalidCursorError

KEY = b"k" * 32
CODEC = CursorCodec(KEY)
# Listings and positions are built from ASCII ids, categories and emails (see prism.store.keys).
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
LISTINGS = st.text(ASCII, min_size=1, max_size=60)
POSITIONS = st.dictionaries(st.sampled_from(["pk", "sk", "gsi1pk", "gsi1sk"]), st.text(ASCII, max_size=120), min_size=1)


@given(LISTINGS, POSITIONS)
def test_a_cursor_gives_back_the_position_it_was_made_from(listing: str, position: dict[str, str]) -> None:
    cursor = CODEC.encode(listing, position)

    assert CODEC.decode(listing, cursor) == position
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@given(LISTINGS, POSITIONS, st.data())
def test_changing_any_character_of_a_cursor_is_detected(
    listing: str, position: dict[str, str], data: st.DataObject
) -> None:
    cursor = CODEC.encode(listing, position)
    index = data.draw(st.integers(0, len(cursor) - 1))
    replacement = data.draw(st.sampled_from("AQgw_-.0x="))
    assume(replacement != cursor[index])

    with pytest.raises(InvalidCursorError):
        CODEC.decode(listing, cursor[:index] + replacement + cursor[index + 1 :])


@given(LISTINGS, POSITIONS, st.data())
def test_a_truncated_cursor_is_refused(listing: str, position: dict[str, str], data: st.DataObject) -> None:
    cursor = CODEC.encode(listing, position)
    cut = data.draw(st.integers(0, len(cursor) - 1))

    with pytest.raises(InvalidCursorError):
        CODEC.decode(listing, cursor[:cut])


@given(LISTINGS, LISTINGS, POSITIONS)
def test_a_cursor_of_another_listing_is_refused(listing: str, other: str, position: dict[str, str]) -> None:
    assume(listing != other)

    with pytest.raises(InvalidCursorError) as raised:
        CODEC.decode(other, CODEC.encode(listing, position))

    assert "another listing" in raised.value.message


def test_a_cursor_made_under_another_key_is_refused() -> None:
    cursor = CursorCodec(b"x" * 32).encode("customers", {"pk": "A", "sk": "B"})

    with pytest.raises(InvalidCursorError):
        CODEC.decode("customers", cursor)


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_without_any_other_error(text: str) -> None:
    with pytest.raises(InvalidCursorError) as raised:
        CODEC.decode("customers", text)

    assert raised.value.code == "invalid_cursor"


def test_an_oversized_cursor_is_refused_before_any_work() -> None:
    with pytest.raises(InvalidCursorError):
        CODEC.decode("customers", "A" * (MAX_CURSOR_CHARS + 1))


def test_a_short_key_is_a_configuration_mistake() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        CursorCodec("short")


def test_a_position_too_large_for_a_cursor_is_a_bug_not_a_cursor() -> None:
    with pytest.raises(ValueError, match="limit 2048"):
        CODEC.encode("customers", {"pk": "x" * 2_000})
