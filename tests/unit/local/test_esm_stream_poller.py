"""The stream poller against an in-memory stream: what moto cannot show (several shards, split shards,
expired records, a destination that refuses) and the loop's own duties (batching, filtering, checkpoints)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from prism_local.runtime.esm.checkpoints import CheckpointKey, CheckpointStore
from prism_local.runtime.esm.mapping_settings import PollerTiming, stream_mapping_settings
from prism_local.runtime.esm.stream_poller import StreamPoller
from prism_local.template.model import EventSource
from tests.support.esm_functions import FunctionInvoker, function_spec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000"
DLQ = "arn:aws:sqs:us-east-1:123456789012:failures"
FAST = PollerTiming(poll_interval_s=0.01, retry_backoff_s=0.0, error_backoff_s=0.01, shard_refresh_s=0.05)


@dataclass
class FakeShard:
    records: list[dict[str, Any]]
    parent: str | None = None
    closed: bool = False


@dataclass
class FakeStreams:
    """DescribeStream, GetShardIterator and GetRecords over in-memory shards (iterator = 'shard|index')."""

    shards: dict[str, FakeShard]
    reads: int = 0

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        shards = [
            {"ShardId": shard_id, **({"ParentShardId": shard.parent} if shard.parent else {})}
            for shard_id, shard in self.shards.items()
        ]
        return {"StreamDescription": {"StreamArn": STREAM, "Shards": shards}}

    def get_shard_iterator(
        self, *, ShardId: str, ShardIteratorType: str, SequenceNumber: str | None = None, **_: Any
    ) -> dict[str, Any]:
        records = self.shards[ShardId].records
        if ShardIteratorType == "TRIM_HORIZON":
            index = 0
        elif ShardIteratorType == "LATEST":
            index = len(records)
        else:
            assert ShardIteratorType == "AFTER_SEQUENCE_NUMBER"
            index = next(i + 1 for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == SequenceNumber)
        return {"ShardIterator": f"{ShardId}|{index}"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.reads += 1
        shard_id, index = ShardIterator.split("|")
        shard = self.shards[shard_id]
        records = shard.records[int(index) : int(index) + Limit]
        following = int(index) + len(records)
        response: dict[str, Any] = {"Records": records}
        if not (shard.closed and following >= len(shard.records)):
            response["NextShardIterator"] = f"{shard_id}|{following}"
        return response


@dataclass
class FakeQueueSender:
    refusals: int = 0
    sent: list[str] = field(default_factory=list)

    def send_message(self, *, QueueUrl: str, MessageBody: str) -> dict[str, Any]:
        if self.refusals:
            self.refusals -= 1
            raise ClientError({"Error": {"Code": "QueueDoesNotExist", "Message": "no"}}, "SendMessage")
        self.sent.append(MessageBody)
        return {}


@dataclass
class FakeClients:
    streams: FakeStreams
    sqs: FakeQueueSender = field(default_factory=FakeQueueSender)

    def queue_url(self, arn: str) -> str:
        return f"http://queue/{arn.rsplit(':', 1)[1]}"


def raw(seq: int, name: str = "INSERT", created_at: float | None = None, **image: str) -> dict[str, Any]:
    return {
        "eventID": f"e{seq}",
        "eventName": name,
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": created_at if created_at is not None else time.time(),
            "Keys": {"pk": {"S": str(seq)}},
            "NewImage": {"pk": {"S": str(seq)}, **{k: {"S": v} for k, v in image.items()}},
            "SequenceNumber": str(seq),
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


@pytest.fixture
def checkpoints(tmp_path: Path) -> CheckpointStore:
    return CheckpointStore(tmp_path / "checkpoints.json", "moto-test")


@pytest.fixture
def run_poller(checkpoints: CheckpointStore) -> Iterator[Callable[..., StreamPoller]]:
    started: list[StreamPoller] = []

    def run(clients: FakeClients, invoker: FunctionInvoker, **properties: Any) -> StreamPoller:
        source = EventSource("Stream", "DynamoDB", {"Stream": STREAM, "StartingPosition": "TRIM_HORIZON", **properties})
        poller = StreamPoller(
            mapping="Fn.Stream",
            function=function_spec("Fn", source),
            event_name="Stream",
            settings=stream_mapping_settings("Fn.Stream", source),
            invoker=invoker,
            clients=clients,  # type: ignore[arg-type]
            checkpoints=checkpoints,
            timing=FAST,
        )
        poller.start()
        started.append(poller)
        return poller

    yield run
    for poller in started:
        poller.request_stop()
        assert poller.join(5)


def wait_idle(poller: StreamPoller, timeout: float = 5.0) -> None:
    since = time.monotonic()
    deadline = since + timeout
    while not poller.idle_since(since):
        assert time.monotonic() < deadline, f"not idle: {poller.stats()}"
        time.sleep(0.01)


def sequence_numbers(invoker: FunctionInvoker) -> list[list[int]]:
    return [[int(r["dynamodb"]["SequenceNumber"]) for r in batch] for batch in invoker.batches()]


def key(shard_id: str) -> CheckpointKey:
    return CheckpointKey("prism-test-Fn", "Stream", STREAM, shard_id)


def test_a_child_shard_is_read_after_its_parent_is_exhausted(
    run_poller: Callable[..., StreamPoller], checkpoints: CheckpointStore
) -> None:
    streams = FakeStreams(
        {
            "child": FakeShard([raw(4), raw(5)], parent="parent"),
            "parent": FakeShard([raw(1), raw(2), raw(3)], closed=True),
        }
    )
    invoker = FunctionInvoker(lambda event: None)

    poller = run_poller(FakeClients(streams), invoker, BatchSize=2)
    wait_idle(poller)

    assert sequence_numbers(invoker) == [[1, 2], [3], [4, 5]]
    assert checkpoints.get(key("parent")) == "3"
    assert checkpoints.get(key("child")) == "5"
    assert poller.stats().caught_up


def test_unrelated_shards_are_all_read(run_poller: Callable[..., StreamPoller]) -> None:
    streams = FakeStreams({"a": FakeShard([raw(1), raw(2)]), "b": FakeShard([raw(10)])})
    invoker = FunctionInvoker(lambda event: None)

    poller = run_poller(FakeClients(streams), invoker)
    wait_idle(poller)

    assert sorted(s for batch in sequence_numbers(invoker) for s in batch) == [1, 2, 10]


def test_records_filtered_out_are_never_sent_but_are_checkpointed_past(
    run_poller: Callable[..., StreamPoller], checkpoints: CheckpointStore
) -> None:
    records = [raw(1, kind="order"), raw(2, kind="noise"), raw(3, kind="order"), raw(4, kind="noise")]
    streams = FakeStreams({"s": FakeShard(records)})
    invoker = FunctionInvoker(lambda event: None)
    criteria = {"Filters": [{"Pattern": '{"dynamodb": {"NewImage": {"kind": {"S": ["order"]}}}}'}]}

    poller = run_poller(FakeClients(streams), invoker, FilterCriteria=criteria)
    wait_idle(poller)

    assert sequence_numbers(invoker) == [[1, 3]]
    assert checkpoints.get(key("s")) == "4"
    stats = poller.stats()
    assert (stats.records_read, stats.records_filtered_out, stats.invocations) == (4, 2, 1)


def test_reading_resumes_after_the_checkpoint(
    run_poller: Callable[..., StreamPoller], checkpoints: CheckpointStore
) -> None:
    checkpoints.put(key("s"), "2")
    streams = FakeStreams({"s": FakeShard([raw(1), raw(2), raw(3)])})
    invoker = FunctionInvoker(lambda event: None)

    poller = run_poller(FakeClients(streams), invoker)
    wait_idle(poller)

    assert sequence_numbers(invoker) == [[3]]


def test_latest_skips_what_is_already_in_the_shard(run_poller: Callable[..., StreamPoller]) -> None:
    streams = FakeStreams({"s": FakeShard([raw(1)])})
    invoker = FunctionInvoker(lambda event: None)

    poller = run_poller(FakeClients(streams), invoker, StartingPosition="LATEST")
    wait_idle(poller)
    streams.shards["s"].records.append(raw(2))
    wait_idle(poller)

    assert sequence_numbers(invoker) == [[2]]


def test_the_batching_window_gathers_records_that_arrive_late(run_poller: Callable[..., StreamPoller]) -> None:
    streams = FakeStreams({"s": FakeShard([raw(1)])})
    invoker = FunctionInvoker(lambda event: None)

    poller = run_poller(FakeClients(streams), invoker, MaximumBatchingWindowInSeconds=1, BatchSize=3)
    time.sleep(0.2)
    streams.shards["s"].records.append(raw(2))
    wait_idle(poller)

    assert sequence_numbers(invoker) == [[1, 2]]


def test_records_too_old_go_to_the_destination_without_an_invocation(
    run_poller: Callable[..., StreamPoller], checkpoints: CheckpointStore
) -> None:
    old = time.time() - 3600
    streams = FakeStreams({"s": FakeShard([raw(1, created_at=old), raw(2, created_at=old), raw(3)])})
    clients = FakeClients(streams)
    invoker = FunctionInvoker(lambda event: None)
    destination = {"OnFailure": {"Destination": DLQ}}

    poller = run_poller(clients, invoker, MaximumRecordAgeInSeconds=60, DestinationConfig=destination)
    wait_idle(poller)

    assert sequence_numbers(invoker) == [[3]]
    (sent,) = clients.sqs.sent
    assert '"condition": "RecordAgeExceeded"' in sent
    assert '"startSequenceNumber": "1", "endSequenceNumber": "2"' in sent
    assert poller.stats().records_to_destination == 2
    assert checkpoints.get(key("s")) == "3"


def test_a_refusing_destination_is_retried_without_invoking_again(
    run_poller: Callable[..., StreamPoller], checkpoints: CheckpointStore
) -> None:
    clients = FakeClients(FakeStreams({"s": FakeShard([raw(1)])}), FakeQueueSender(refusals=2))
    invoker = FunctionInvoker(lambda event: 1 / 0)

    poller = run_poller(clients, invoker, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": DLQ}})
    wait_idle(poller)

    assert len(invoker.events) == 1
    assert len(clients.sqs.sent) == 1
    stats = poller.stats()
    assert (stats.poller_errors, stats.function_errors, stats.records_to_destination) == (2, 1, 1)
    assert checkpoints.get(key("s")) == "1"


def test_without_a_destination_given_up_records_are_counted_as_discarded(
    run_poller: Callable[..., StreamPoller], checkpoints: CheckpointStore, caplog: pytest.LogCaptureFixture
) -> None:
    invoker = FunctionInvoker(lambda event: 1 / 0)

    poller = run_poller(FakeClients(FakeStreams({"s": FakeShard([raw(1), raw(2)])})), invoker, MaximumRetryAttempts=1)
    wait_idle(poller)

    stats = poller.stats()
    assert (stats.invocations, stats.function_errors, stats.records_retried, stats.records_discarded) == (2, 2, 2, 2)
    assert checkpoints.get(key("s")) == "2"
    assert any("discarded, no on-failure destination" in r.getMessage() for r in caplog.records)


def test_an_invoker_that_breaks_is_not_a_function_error_and_uses_no_retry(
    run_poller: Callable[..., StreamPoller],
) -> None:
    class FlakyInvoker(FunctionInvoker):
        def invoke(self, event: dict[str, Any]) -> Any:
            if not self.events:
                self.events.append({"Records": []})
                raise RuntimeError("execution environment failed to start")
            return super().invoke(event)

    invoker = FlakyInvoker(lambda event: None)

    poller = run_poller(FakeClients(FakeStreams({"s": FakeShard([raw(1)])})), invoker, MaximumRetryAttempts=0)
    wait_idle(poller)

    stats = poller.stats()
    assert (stats.poller_errors, stats.function_errors, stats.invocations, stats.records_discarded) == (1, 0, 1, 0)
    assert sequence_numbers(invoker)[-1] == [1]


def test_stop_lets_the_invocation_in_flight_finish(run_poller: Callable[..., StreamPoller]) -> None:
    finished: list[bool] = []

    def slow(event: dict[str, Any]) -> None:
        time.sleep(0.3)
        finished.append(True)

    poller = run_poller(FakeClients(FakeStreams({"s": FakeShard([raw(1)])})), FunctionInvoker(slow))
    time.sleep(0.1)
    poller.request_stop()

    assert poller.join(5)
    assert finished == [True]
