from __future__ import annotations

import pytest

from prism.cache.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_breaker_starts_closed() -> None:
    assert not CircuitBreaker(1.0, clock=FakeClock()).is_open


def test_a_failure_opens_it_for_exactly_the_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2.0, clock=clock)

    breaker.trip()

    clock.now += 1.999
    assert breaker.is_open
    clock.now += 0.001
    assert not breaker.is_open


def test_a_failure_during_a_retry_opens_it_again() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1.0, clock=clock)
    breaker.trip()
    clock.now += 1.5

    breaker.trip()

    clock.now += 0.9
    assert breaker.is_open


def test_a_zero_cooldown_never_skips_redis() -> None:
    breaker = CircuitBreaker(0.0, clock=FakeClock())

    breaker.trip()

    assert not breaker.is_open


def test_a_negative_cooldown_is_refused() -> None:
    with pytest.raises(ValueError, match="cooldown_s"):
        CircuitBreaker(-1.0)
