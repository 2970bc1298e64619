"""What follows a stream invocation: checkpoint, retry, bisect, discard. Examples, then the invariants."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism_local.runtime.esm.stream_outcomes import (
    BatchDecision,
    Discard,
    Invoke,
    RetryPolicy,
    StreamBatch,
    decide_after_invocation,
    retry_delay,
    split_expired,
)
from prism_local.runtime.esm.stream_records import StreamRecord
from prism_local.runtime.invocation import Invocation

NOW = 1_700_000_000.0


def record(seq: int, created_at: float = NOW) -> StreamRecord:
    return StreamRecord(str(seq), created_at, {"dynamodb": {"SequenceNumber": str(seq)}}, 10)


def batch(*seqs: int, checkpoint_after: int | None = None, retries: int = 0, invocations: int = 0) -> StreamBatch:
    return StreamBatch(
        tuple(record(s) for s in seqs),
        str(checkpoint_after if checkpoint_after is not None else seqs[-1]),
        retries,
        invocations,
    )


def ok(payload: Any = None) -> Invocation:
    return Invocation(payload, None, 1.0, "req-ok")


def error() -> Invocation:
    return Invocation(None, {"errorType": "Boom", "errorMessage": "x", "stackTrace": []}, 1.0, "req-err")


def failures(*seqs: int) -> Invocation:
    return ok({"batchItemFailures": [{"itemIdentifier": str(s)} for s in seqs]})


def seqs_of(work: Invoke | Discard) -> list[int]:
    return [int(r.sequence_number) for r in work.batch.records]


REPORT = RetryPolicy(report_batch_item_failures=True)
BISECT = RetryPolicy(bisect_on_error=True)
BOTH = RetryPolicy(bisect_on_error=True, report_batch_item_failures=True)


# ---------------------------------------------------------------- success
@pytest.mark.parametrize("payload", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"other": 1}])
def test_success_checkpoints_the_whole_batch(payload: Any) -> None:
    decision = decide_after_invocation(batch(1, 2, 3, checkpoint_after=5), ok(payload), REPORT)

    assert decision == BatchDecision("success", "5")


def test_the_response_is_ignored_without_report_batch_item_failures() -> None:
    decision = decide_after_invocation(batch(1, 2, 3), failures(2), RetryPolicy())

    assert decision.outcome == "success"
    assert decision.checkpoint == "3"


# ---------------------------------------------------------------- function errors
def test_a_function_error_retries_the_whole_batch_and_counts_the_retry() -> None:
    decision = decide_after_invocation(batch(1, 2, 3), error(), RetryPolicy(maximum_retry_attempts=2))

    assert decision.outcome == "function_error"
    assert decision.checkpoint is None
    (retry,) = decision.follow_up
    assert isinstance(retry, Invoke)
    assert seqs_of(retry) == [1, 2, 3]
    assert (retry.batch.retries, retry.batch.invocations) == (1, 1)
    assert decision.records_retried == 3


def test_exhausted_retries_discard_the_batch_with_its_invoke_count() -> None:
    decision = decide_after_invocation(
        batch(1, 2, retries=2, invocations=2), error(), RetryPolicy(maximum_retry_attempts=2)
    )

    (discard,) = decision.follow_up
    assert isinstance(discard, Discard)
    assert seqs_of(discard) == [1, 2]
    assert discard.condition == "RetryAttemptsExhausted"
    assert discard.batch.invocations == 3
    assert discard.request_id == "req-err"
    assert discard.function_error


def test_zero_retry_attempts_discard_after_the_first_failure() -> None:
    decision = decide_after_invocation(batch(1), error(), RetryPolicy(maximum_retry_attempts=0))

    assert isinstance(decision.follow_up[0], Discard)


def test_unlimited_retries_never_discard() -> None:
    decision = decide_after_invocation(batch(1, retries=10_000), error(), RetryPolicy(maximum_retry_attempts=-1))

    assert isinstance(decision.follow_up[0], Invoke)


def test_bisection_splits_in_two_halves_that_inherit_the_retry_count() -> None:
    decision = decide_after_invocation(batch(1, 2, 3, 4, 5, checkpoint_after=7, retries=1), error(), BISECT)

    first, second = decision.follow_up
    assert isinstance(first, Invoke)
    assert isinstance(second, Invoke)
    assert (seqs_of(first), first.batch.checkpoint_after) == ([1, 2], "2")
    assert (seqs_of(second), second.batch.checkpoint_after) == ([3, 4, 5], "7")
    assert first.batch.retries == second.batch.retries == 1
    assert first.batch.invocations == second.batch.invocations == 1
    assert decision.checkpoint is None


def test_a_single_record_cannot_be_bisected_so_it_uses_a_retry() -> None:
    decision = decide_after_invocation(batch(4), error(), BISECT)

    (retry,) = decision.follow_up
    assert isinstance(retry, Invoke)
    assert retry.batch.retries == 1


# ---------------------------------------------------------------- batch item failures
def test_a_partial_failure_checkpoints_before_the_lowest_failure_and_retries_from_it() -> None:
    decision = decide_after_invocation(batch(1, 2, 3, 4, 5, checkpoint_after=6), failures(4, 3), REPORT)

    assert decision.outcome == "partial_failure"
    assert decision.checkpoint == "2"
    (retry,) = decision.follow_up
    assert isinstance(retry, Invoke)
    assert seqs_of(retry) == [3, 4, 5]
    assert retry.batch.checkpoint_after == "6"
    assert retry.batch.retries == 1


def test_a_partial_failure_at_the_first_record_checkpoints_nothing() -> None:
    decision = decide_after_invocation(batch(1, 2, 3), failures(1), REPORT)

    assert decision.checkpoint is None
    assert seqs_of(decision.follow_up[0]) == [1, 2, 3]


def test_a_partial_failure_discards_from_the_failed_record_when_retries_are_exhausted() -> None:
    policy = RetryPolicy(report_batch_item_failures=True, maximum_retry_attempts=1)

    decision = decide_after_invocation(batch(3, 4, 5, retries=1, invocations=1), failures(3), policy)

    (discard,) = decision.follow_up
    assert isinstance(discard, Discard)
    assert seqs_of(discard) == [3, 4, 5]
    assert not discard.function_error


def test_with_bisection_the_batch_is_split_at_the_failed_record_without_using_a_retry() -> None:
    decision = decide_after_invocation(batch(1, 2, 3, 4, 5), failures(3), BOTH)

    assert decision.checkpoint == "2"
    (retry,) = decision.follow_up
    assert isinstance(retry, Invoke)
    assert seqs_of(retry) == [3, 4, 5]
    assert retry.batch.retries == 0


def test_with_bisection_a_failed_first_record_is_isolated() -> None:
    decision = decide_after_invocation(batch(3, 4, 5, checkpoint_after=9), failures(3, 5), BOTH)

    poison, rest = decision.follow_up
    assert isinstance(poison, Invoke)
    assert isinstance(rest, Invoke)
    assert (seqs_of(poison), poison.batch.checkpoint_after) == ([3], "3")
    assert (seqs_of(rest), rest.batch.checkpoint_after) == ([4, 5], "9")


@pytest.mark.parametrize(
    "payload",
    [
        {"batchItemFailures": [{"itemIdentifier": "99"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemidentifier": "2"}]},
        {"batchItemFailures": [{"itemIdentifier": 2}]},
        {"batchItemFailures": ["2"]},
        {"batchItemFailures": "2"},
        "not an object",
        [1, 2],
    ],
)
def test_an_invalid_report_fails_the_whole_batch(payload: Any) -> None:
    decision = decide_after_invocation(batch(1, 2, 3), ok(payload), REPORT)

    assert decision.outcome == "invalid_response"
    assert decision.checkpoint is None
    assert seqs_of(decision.follow_up[0]) == [1, 2, 3]


def test_an_invalid_report_is_bisected_like_a_function_error() -> None:
    decision = decide_after_invocation(batch(1, 2, 3, 4), failures(99), BOTH)

    assert [seqs_of(w) for w in decision.follow_up] == [[1, 2], [3, 4]]


# ---------------------------------------------------------------- record age and backoff
def test_expired_records_are_the_old_prefix_of_the_batch() -> None:
    old = StreamBatch((record(1, NOW - 100), record(2, NOW - 61), record(3, NOW - 10)), "4", 1, 2)

    expired, live = split_expired(old, now=NOW, maximum_record_age_s=60)

    assert expired is not None
    assert live is not None
    assert ([r.sequence_number for r in expired.records], expired.checkpoint_after) == (["1", "2"], "2")
    assert ([r.sequence_number for r in live.records], live.checkpoint_after, live.retries) == (["3"], "4", 1)


def test_record_age_is_unlimited_by_default_and_a_fully_expired_batch_is_all_expired() -> None:
    old = StreamBatch((record(1, NOW - 10**6),), "1")

    assert split_expired(old, now=NOW, maximum_record_age_s=-1) == (None, old)
    assert split_expired(old, now=NOW, maximum_record_age_s=60) == (old, None)


def test_retry_delay_doubles_up_to_a_cap_and_zero_means_none() -> None:
    assert [retry_delay(n, 0.5) for n in (0, 1, 2, 3, 6, 20)] == [0.5, 0.5, 1.0, 2.0, 16.0, 16.0]
    assert retry_delay(5, 0) == 0.0


# ---------------------------------------------------------------- invariants over whole histories
def _run_shard(
    count: int, poison: set[int], policy: RetryPolicy, mode: str, batch_size: int
) -> tuple[dict[int, int], set[int], list[list[int]], list[int]]:
    """Drive the decisions the way the stream poller does; return invocations per record, records
    acknowledged, discards and the checkpoints stored, in order."""
    seqs = list(range(1, count + 1))
    work: deque[Invoke | Discard] = deque(Invoke(batch(*seqs[i : i + batch_size])) for i in range(0, count, batch_size))
    invoked = dict.fromkeys(seqs, 0)
    acknowledged: set[int] = set()
    discards: list[list[int]] = []
    checkpoints: list[int] = []
    while work:
        item = work.popleft()
        if isinstance(item, Discard):
            discards.append(seqs_of(item))
            checkpoints.append(int(item.batch.checkpoint_after))
            continue
        sent = seqs_of(item)
        for s in sent:
            invoked[s] += 1
        bad = [s for s in sent if s in poison]
        invocation = ok() if not bad else error() if mode == "raise" else failures(*bad)
        decision = decide_after_invocation(item.batch, invocation, policy)
        work.extendleft(reversed(decision.follow_up))
        if decision.checkpoint is not None:
            checkpoints.append(int(decision.checkpoint))
            acknowledged.update(s for s in sent if s <= int(decision.checkpoint))
        assert sum(invoked.values()) < 100_000, "no progress"
    return invoked, acknowledged, discards, checkpoints


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(1, 40),
    poison_picks=st.sets(st.integers(0, 39), max_size=5),
    bisect=st.booleans(),
    mode=st.sampled_from(["raise", "report"]),
    max_retries=st.integers(0, 3),
    batch_size=st.integers(1, 16),
)
def test_every_record_ends_delivered_or_discarded_and_poison_never_blocks(
    count: int, poison_picks: set[int], bisect: bool, mode: str, max_retries: int, batch_size: int
) -> None:
    poison = {p + 1 for p in poison_picks if p < count}
    policy = RetryPolicy(bisect, max_retries, report_batch_item_failures=mode == "report")

    invoked, acknowledged, discards, checkpoints = _run_shard(count, poison, policy, mode, batch_size)

    discarded = {s for d in discards for s in d}
    assert acknowledged | discarded == set(range(1, count + 1)), "every record is delivered or discarded"
    assert not acknowledged & poison, "a poison record is never acknowledged"
    assert checkpoints == sorted(checkpoints), "checkpoints only move forward"
    assert checkpoints[-1] == count, "the shard ends checkpointed past its last record"
    if bisect:
        assert all(len(d) == 1 and d[0] in poison for d in discards), "with bisection poison ends alone"
        assert discarded == poison
        bound = math.ceil(math.log2(batch_size)) + max_retries + 1 if mode == "raise" else batch_size + max_retries + 1
        assert all(invoked[p] <= bound for p in poison), "a poison record is retried a bounded number of times"
    else:
        assert all(invoked[s] <= max_retries + 1 for s in poison)
