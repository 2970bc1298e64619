"""A circuit breaker, so a dead or partitioned Redis costs one timeout per cool-down, not one per request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class CircuitBreaker:
    """Open for ``cooldown_s`` after each failure; closed otherwise.

    There is no half-open bookkeeping: once the cool-down has passed the next call simply tries Redis again,
    and a failure opens the breaker for another cool-down. Concurrent callers may each try once at that
    moment, which is harmless. State is one float, so threads share it without a lock.
    """

    def __init__(self, cooldown_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._open_until = float("-inf")

    @property
    def is_open(self) -> bool:
        """True while Redis should not be asked."""
        return self._clock() < self._open_until

    def trip(self) -> None:
        """Record a failure: skip Redis for the next ``cooldown_s`` seconds."""
        self._open_until = self._clock() + self._cooldown_s
