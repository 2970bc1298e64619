"""DESIGN invariant 2 at the model level: every write to a key, delete and re-create included, gets a newer
version; a caller's expected version must be the current one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.domain.errors import ConflictError, PreconditionFailedError
from prism.domain.versions import (
    StoredVersion,
    check_expected_version,
    tombstone_expiry,
    version_after,
    version_for_create,
)

TAKEN = ConflictError("taken", code="sku_taken")


def test_a_new_key_starts_at_the_clock() -> None:
    assert version_for_create(None, taken=TAKEN) > 1_700_000_000_000_000  # microseconds since the epoch


def test_a_live_key_cannot_be_created_again() -> None:
    with pytest.raises(ConflictError) as raised:
        version_for_create(StoredVersion(version=5, deleted=False), taken=TAKEN)

    assert raised.value is TAKEN


@given(st.lists(st.sampled_from(["update", "delete"]), max_size=30))
def test_versions_grow_through_any_history_of_writes_deletes_and_re_creates(history: list[str]) -> None:
    # Versions far in the future make the clock irrelevant: only "previous + 1" can keep them growing.
    stored = StoredVersion(version_for_create(None, taken=TAKEN) + 10**12, deleted=False)
    versions = [stored.version]
    for write in history:
        if stored.deleted:  # the only write a tombstone accepts is a re-create
            stored = StoredVersion(version_for_create(stored, taken=TAKEN), deleted=False)
        elif write == "update":
            stored = StoredVersion(version_after(stored.version), deleted=False)
        else:
            stored = StoredVersion(version_after(stored.version), deleted=True)
        versions.append(stored.version)

    assert versions == sorted(set(versions))


def test_an_expected_version_must_be_the_current_one() -> None:
    check_expected_version("product A", 7, None)
    check_expected_version("product A", 7, 7)

    with pytest.raises(PreconditionFailedError) as raised:
        check_expected_version("product A", 7, 6)

    assert raised.value.details == {"expected_version": 6, "current_version": 7}
    assert "product A is at version 7, not 6" in raised.value.message


def test_a_tombstone_expires_thirty_days_after_the_delete() -> None:
    deleted_at = datetime(2025, 1, 1, tzinfo=UTC)

    assert tombstone_expiry(deleted_at) == int(datetime(2025, 1, 31, tzinfo=UTC).timestamp())
