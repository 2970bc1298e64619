"""The order lifecycle: PENDING -> PAID -> SHIPPED, and PENDING or PAID -> CANCELLED.

SHIPPED and CANCELLED are final. Asking for the status an order already has is a no-op, so a retried
request succeeds; any other move is an InvalidTransitionError that names the allowed targets.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from prism.domain.errors import InvalidTransitionError
from prism.domain.models import OrderStatus

TRANSITIONS: Final = MappingProxyType(
    {
        OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
        OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
        OrderStatus.SHIPPED: frozenset[OrderStatus](),
        OrderStatus.CANCELLED: frozenset[OrderStatus](),
    }
)


def allowed_targets(current: OrderStatus) -> frozenset[OrderStatus]:
    """The statuses an order in ``current`` may move to (excluding staying where it is)."""
    return TRANSITIONS[current]


def transition(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """``target`` if an order may move there from ``current`` (or already is there); raises otherwise."""
    if target == current or target in TRANSITIONS[current]:
        return target
    allowed = sorted(TRANSITIONS[current])
    reason = f"allowed from {current}: {', '.join(allowed)}" if allowed else f"{current} is final"
    raise InvalidTransitionError(
        f"an order cannot move from {current} to {target} ({reason})",
        details={"from": current.value, "to": target.value, "allowed": [status.value for status in allowed]},
    )
