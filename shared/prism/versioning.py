"""Item versions: a hybrid logical clock, so versions grow with every write to a key (DESIGN invariant 2).

``next_version(previous)`` is at least ``previous + 1`` (so it always grows, whatever the wall clock does)
and otherwise the current time in microseconds (so a re-created item, whose previous version may be
unknown, still gets a version newer than anything written before it).
"""

from __future__ import annotations

import time


def now_us() -> int:
    return time.time_ns() // 1_000


def next_version(previous: int | None, *, clock_us: int | None = None) -> int:
    """The version for the next write after ``previous`` (``None`` when the key has no item)."""
    now = now_us() if clock_us is None else clock_us
    if previous is None:
        return now
    if previous < 0:
        raise ValueError(f"versions are never negative, got {previous}")
    return max(previous + 1, now)
