from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.cache.entries import (
    CachedAbsence,
    CacheHit,
    CacheResult,
    KeyLayout,
    Source,
    decode_entry,
    encode_body,
    encode_fence,
)


def test_entries_and_locks_have_separate_prefixes_so_no_id_can_name_a_lock() -> None:
    keys = KeyLayout()

    assert keys.entry("customer", "c-1") == "prism:customer:c-1"
    assert keys.fill_lock("customer", "c-1") == "prism-lock:customer:c-1"
    assert keys.entry("customer", "c-1:lock") != keys.fill_lock("customer", "c-1")


@given(version=st.integers(min_value=0, max_value=10**40), body=st.binary(max_size=200))
def test_a_body_comes_back_exactly_with_its_version(version: int, body: bytes) -> None:
    assert decode_entry(encode_body(version, body)) == CacheHit(body, version)


def test_a_body_may_contain_the_separator() -> None:
    body = b'{"url":"https://x:1/a:b"}'

    assert decode_entry(encode_body(7, body)) == CacheHit(body, 7)


@pytest.mark.parametrize(
    ("raw", "answer"),
    [
        (encode_fence(9, deleted=False), None),
        (encode_fence(9, deleted=True), CachedAbsence(9)),
        (b"A", CachedAbsence(None)),
        (b"", None),
        (b"B:body", None),
        (b"Bx1:body", None),
        (b"B12", None),
        (b"Dnope", None),
        (b"something else", None),
    ],
)
def test_fences_are_misses_delete_fences_are_absences_and_garbage_is_a_miss(
    raw: bytes, answer: CachedAbsence | None
) -> None:
    assert decode_entry(raw) == answer


def test_a_result_is_found_when_it_has_a_body() -> None:
    assert CacheResult(b"{}", 1, Source.HIT).found
    assert not CacheResult(None, None, Source.LOADED).found
