"""Forming stream batches: size, window, payload limit, and records the filter dropped."""

from __future__ import annotations

from prism_local.runtime.esm.stream_batching import BatchRules, ShardBuffer
from prism_local.runtime.esm.stream_outcomes import StreamBatch
from prism_local.runtime.esm.stream_records import StreamRecord


def record(seq: int, size: int = 100) -> StreamRecord:
    return StreamRecord(str(seq), 0.0, {}, size)


def buffer_of(*entries: tuple[int, bool], rules: BatchRules, now: float = 0.0) -> ShardBuffer:
    buffer = ShardBuffer(rules)
    for seq, keep in entries:
        buffer.add(record(seq), keep=keep, now=now)
    return buffer


def seqs(batch: StreamBatch | None) -> list[str]:
    assert batch is not None
    return [r.sequence_number for r in batch.records]


def test_batches_hold_at_most_batch_size_records_in_order() -> None:
    buffer = buffer_of((1, True), (2, True), (3, True), rules=BatchRules(batch_size=2, batching_window_s=0))

    first, _ = buffer.take(now=0.0, shard_closed=False)
    second, _ = buffer.take(now=0.0, shard_closed=False)

    assert (seqs(first), seqs(second)) == (["1", "2"], ["3"])
    assert buffer.take(now=0.0, shard_closed=False) == (None, None)


def test_a_batch_waits_for_its_window_unless_full_or_the_shard_is_closed() -> None:
    rules = BatchRules(batch_size=3, batching_window_s=1.0)
    buffer = buffer_of((1, True), rules=rules, now=10.0)

    assert buffer.take(now=10.5, shard_closed=False) == (None, None)
    assert buffer.window_closes_at == 11.0
    assert seqs(buffer.take(now=11.0, shard_closed=False)[0]) == ["1"]
    assert seqs(buffer_of((1, True), rules=rules, now=10.0).take(now=10.0, shard_closed=True)[0]) == ["1"]
    assert seqs(buffer_of((1, True), (2, True), (3, True), rules=rules).take(now=0.0, shard_closed=False)[0]) == [
        "1",
        "2",
        "3",
    ]


def test_filtered_out_records_are_consumed_and_reported_for_the_checkpoint() -> None:
    rules = BatchRules(batch_size=10, batching_window_s=5.0)
    buffer = buffer_of((1, False), (2, False), (3, True), rules=rules)

    assert buffer.take(now=0.0, shard_closed=False) == (None, "2")
    assert buffer.kept == 1
    assert len(buffer) == 1


def test_a_batch_spans_the_filtered_records_between_its_records() -> None:
    rules = BatchRules(batch_size=2, batching_window_s=0)
    buffer = buffer_of((1, False), (2, True), (3, False), (4, True), (5, False), (6, True), rules=rules)

    batch, skipped_to = buffer.take(now=0.0, shard_closed=False)

    assert skipped_to is None
    assert seqs(batch) == ["2", "4"]
    assert batch is not None
    assert batch.checkpoint_after == "4"
    rest, _ = buffer.take(now=0.0, shard_closed=False)
    assert rest is not None
    assert (seqs(rest), rest.checkpoint_after) == (["6"], "6")


def test_a_batch_stops_short_of_the_payload_limit() -> None:
    rules = BatchRules(batch_size=100, batching_window_s=60, max_event_bytes=1000)
    buffer = ShardBuffer(rules)
    for seq in range(1, 6):
        buffer.add(record(seq, size=300), keep=True, now=0.0)

    first, _ = buffer.take(now=0.0, shard_closed=False)  # due: the records exceed the limit together
    second, _ = buffer.take(now=0.0, shard_closed=True)

    assert (seqs(first), seqs(second)) == (["1", "2", "3"], ["4", "5"])


def test_reading_ahead_stops_when_a_batch_is_ready_or_the_buffer_is_long() -> None:
    rules = BatchRules(batch_size=2, batching_window_s=0)

    assert buffer_of((1, True), rules=rules).wants_more(limit=10)
    assert not buffer_of((1, True), (2, True), rules=rules).wants_more(limit=10)
    assert not buffer_of((1, False), (2, False), rules=rules).wants_more(limit=2)
