from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.errors import ConfigurationError
from prism.settings import FanoutSettings
from prism.versioning import next_version

VALID = {"CHANGES_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:changes", "CLAIM_CHECK_BUCKET": "prism-claims"}


def test_settings_come_from_upper_case_variables() -> None:
    settings = FanoutSettings.from_env(VALID)

    assert settings.changes_topic_arn == VALID["CHANGES_TOPIC_ARN"]


def test_every_missing_or_invalid_variable_is_named_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as raised:
        FanoutSettings.from_env({"CLAIM_CHECK_BUCKET": "Not A Bucket"})

    message = str(raised.value)
    assert "CHANGES_TOPIC_ARN is not set" in message
    assert "CLAIM_CHECK_BUCKET is invalid" in message


@given(st.lists(st.integers(min_value=0, max_value=2**62), min_size=1, max_size=50))
def test_versions_always_grow_whatever_the_clock_says(clock_readings: list[int]) -> None:
    version = None
    for reading in clock_readings:
        new = next_version(version, clock_us=reading)
        assert version is None or new > version
        version = new


def test_a_recreated_item_gets_a_clock_version() -> None:
    assert next_version(None, clock_us=1_000) == 1_000
