"""The order lifecycle: every pair of statuses, and no path to SHIPPED that skips PAID."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.domain.errors import ConflictError, InvalidTransitionError
from prism.domain.models import OrderStatus
from prism.domain.state_machine import allowed_targets, transition

PENDING, PAID, SHIPPED, CANCELLED = OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.CANCELLED
ALLOWED = {(PENDING, PAID), (PAID, SHIPPED), (PENDING, CANCELLED), (PAID, CANCELLED)}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(OrderStatus, OrderStatus)))
def test_every_pair_of_statuses(current: OrderStatus, target: OrderStatus) -> None:
    if (current, target) in ALLOWED or current == target:
        assert transition(current, target) is target
        return
    with pytest.raises(InvalidTransitionError) as raised:
        transition(current, target)
    assert raised.value.details == {
        "from": current.value,
        "to": target.value,
        "allowed": sorted(status.value for status in allowed_targets(current)),
    }
    assert f"from {current} to {target}" in raised.value.message


def test_an_invalid_transition_is_a_conflict_with_its_own_code() -> None:
    with pytest.raises(ConflictError) as raised:
        transition(SHIPPED, PENDING)

    assert raised.value.code == "invalid_transition"
    assert "SHIPPED is final" in raised.value.message


@given(st.lists(st.sampled_from(list(OrderStatus)), max_size=20))
def test_no_sequence_of_requests_ships_an_order_that_was_never_paid(requests: list[OrderStatus]) -> None:
    status, history = PENDING, [PENDING]
    for requested in requests:
        try:
            status = transition(status, requested)
        except InvalidTransitionError:
            continue
        history.append(status)

    if SHIPPED in history:
        assert PAID in history[: history.index(SHIPPED)]
    if CANCELLED in history:
        assert SHIPPED not in history
    assert all(after == before or after in allowed_targets(before) for before, after in itertools.pairwise(history))
