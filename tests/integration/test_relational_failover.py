"""The relational sink under a MariaDB failover: kill -9 the database while a steady stream of changes flows
through the real sink, restart it on the same data dir and port, and the sink carries on by itself and loses
nothing (DESIGN invariants 1 and 4; "Aurora MySQL through RDS Proxy": reconnect, retry with backoff).

Each test prints, and records as the ``failover_recovery_ms`` property (in the JUnit XML), the time from the
database accepting connections again to the sink's first committed write after the kill.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from prism_local.stack.provision import load_stack
from tests.support.relational import actual_projection, expected_projection, root_connection
from tests.support.relational_failover import (
    ChangeStream,
    PrivateStack,
    RelationalQueueFeed,
    SteadyProducer,
    kill_and_restart_mariadb,
    private_stack,
    private_stack_sink,
    recovery_s,
    relational_event_source,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prism.relational.sink import RelationalSinkProcessor
    from prism_local.runtime.esm.mapping_settings import QueueMappingSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

#: The stream: 20 changes every 20 ms, about 1,000 changes/s.
PER_TICK, TICK_S = 20, 0.02
#: The sink's retries back off to at most 2 s (full jitter), so it writes within about that of the database
#: accepting connections again; the rest is headroom for a shared machine.
RECOVERY_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """A whole stack of this module's own, so killing its MariaDB disturbs no other test."""
    with private_stack(tmp_path_factory.mktemp("failover-stack")) as private:
        yield private


@pytest.fixture(scope="module")
def sink(stack: PrivateStack) -> Iterator[RelationalSinkProcessor]:
    with private_stack_sink(stack) as processor:
        yield processor


@pytest.fixture(scope="module")
def event_source(stack: PrivateStack) -> QueueMappingSettings:
    return relational_event_source(stack.config)


@pytest.fixture(scope="module")
def max_receive_count(stack: PrivateStack) -> int:
    """The relational queue's maxReceiveCount, as provisioned: more receives than this and SQS redrives a
    message to the DLQ."""
    config = stack.config
    queue_url = load_stack(config.stack_file).ref("RelationalQueue")
    sqs = config.session().client("sqs", endpoint_url=config.moto_endpoint)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    return int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.01)


@pytest.mark.parametrize(
    "budget_s",
    [
        pytest.param(None, id="lambda-budget"),  # no context: the sink's 25 s, as a 30 s Lambda would give it
        pytest.param(0.5, id="short-budget"),  # shorter than the outage: batches fail and SQS re-delivers them
    ],
)
def test_the_sink_resumes_by_itself_after_mariadb_is_killed_and_loses_nothing(
    stack: PrivateStack,
    sink: RelationalSinkProcessor,
    event_source: QueueMappingSettings,
    max_receive_count: int,
    budget_s: float | None,
    record_property: Callable[[str, object], None],
) -> None:
    stream = ChangeStream(f"fo-{uuid.uuid4().hex[:8]}")
    feed = RelationalQueueFeed(
        sink,
        batch_size=event_source.batch_size,
        # With the template's window a batch leaves about once a second, and one may not reach the database
        # while it is down; the short-budget case needs batches in flight during the outage, so it sends them
        # every 50 ms (a queue that is always full gives Lambda full batches without waiting, too).
        batching_window_s=event_source.batching_window_s if budget_s is None else 0.05,
        budget_s=budget_s,
    )
    producer = SteadyProducer(stream, feed, per_tick=PER_TICK, tick_s=TICK_S)
    stats = feed.stats

    # Given a steady stream of changes that the sink is writing
    feed.start()
    producer.start()
    try:
        wait_until(lambda: len(stats.write_times) >= 2, 15, "the sink's first two writes")
        # When MariaDB is killed, stays down for a second and is restarted on the same data dir and port
        failover = kill_and_restart_mariadb(stack, down_for_s=1.0)
        # Then the sink writes again without being told to, while the stream goes on
        wait_until(lambda: any(t > failover.ready_at for t in stats.write_times), 15, "a write after the restart")
        time.sleep(1.0)
    finally:
        producer.stop()
        feed.close(timeout=60)

    recovery = recovery_s(failover, stats.write_times)
    writes_after = sum(1 for t in stats.write_times if t > failover.restart_began_at)
    print(
        f"\n[sink budget {budget_s or 'default 25'} s] mariadbd {failover.killed_pid} killed; "
        f"accepting again {failover.accepting_at - failover.killed_at:.3f} s later "
        f"(restart took {failover.accepting_at - failover.restart_began_at:.3f} s to accept, "
        f"{failover.ready_at - failover.restart_began_at:.3f} s to pass its checks); "
        f"first sink write {recovery * 1000:.0f} ms after accepting; {len(stream.changes)} changes in "
        f"{stats.invocations} invocations, {stats.failed_invocations} with failures, {stats.redelivered} "
        f"re-deliveries (max receive count {stats.max_receive_count}), {stats.connections_opened} connections opened"
    )
    record_property("failover_recovery_ms", round(recovery * 1000, 1))
    record_property("failover_accepting_after_kill_ms", round((failover.accepting_at - failover.killed_at) * 1000, 1))
    record_property("failover_redelivered_messages", stats.redelivered)

    with root_connection(stack.config) as database:  # nothing lost: every key's row is its newest change
        assert actual_projection(database, stream.ids) == expected_projection(stream.changes)
    assert writes_after > 0
    assert recovery < RECOVERY_LIMIT_S
    assert stats.connections_opened >= 1  # it reconnected on its own: nothing here closes or rebuilds it
    assert stats.dead_lettered == 0
    if budget_s is None:
        # the outage fits in one invocation's budget: the batch in flight waits it out, nothing fails
        assert stats.failed_invocations == 0
        assert stats.max_receive_count <= max_receive_count
    else:
        # the re-delivery path ran: batches failed while MariaDB was down, and their messages came back
        assert stats.unavailable > 0
        assert stats.redelivered > 0
