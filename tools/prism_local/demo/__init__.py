"""`prism demo`: the whole local pipeline, end to end, with a readable report.

It starts the local stack (unless it is already up), serves the API locally and drives a few hundred entities
through it over HTTP (creates, reads, updates, deletes, refused requests), lets the template's event sources
carry every change through the fanout to SNS, the cache sink and every sink queue, reads the queues back and
reports API statuses, cache hit ratio, counts, duplicates, lag and anything dead-lettered. It stops what it
started.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING

from prism_local.demo.api_workload import drive
from prism_local.demo.queues import FAILURE_QUEUES, SINK_QUEUES, QueueDelivery, depth, drain
from prism_local.demo.report import CacheSinkFigures, DemoResult, FanoutFigures, render
from prism_local.progress import ProgressBar
from prism_local.runtime.api_gateway.server import ApiGatewayServer
from prism_local.runtime.esm.checkpoints import CheckpointStore
from prism_local.runtime.esm.runner import EventSourceRunner
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.control import stack_down, stack_up
from prism_local.stack.lifecycle import LocalStack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from prism_local.config import LocalConfig
    from prism_local.template.model import ProvisionedStack

FANOUT = "FanoutFunction"
CACHE_SINK = "CacheSinkFunction"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_demo(config: LocalConfig, *, items: int, keep_stack: bool) -> int:
    began = time.monotonic()
    already_up = LocalStack(config).status().all_ready
    if already_up:
        # A running stack may hold earlier data; the demo provisions its own copy of the template beside it.
        config = config.with_overrides(stack_name=f"prism-demo-{uuid.uuid4().hex[:6]}")
    _say(f"▸ local stack ({'already running; using stack ' + config.stack_name if already_up else 'starting'})")
    up = stack_up(config, lambda message: _say(f"  · {message}"))
    try:
        result = _drive_pipeline(config, up.moto_instance_id, items, began)
    finally:
        if keep_stack or already_up:
            _say(f"▸ the local stack keeps running (state in {config.state_dir}); stop it with: make down")
        else:
            _say("▸ stopping the local stack")
            stack_down(config, lambda message: _say(f"  · {message}"))
    print(render(result))
    return 0 if result.passed else 1


def _drive_pipeline(config: LocalConfig, moto_instance_id: str, items: int, began: float) -> DemoResult:
    session = config.session()
    sqs = session.client("sqs", endpoint_url=config.moto_endpoint)
    s3 = session.client("s3", endpoint_url=config.moto_endpoint)

    with LocalRuntime(config) as runtime:
        stack = runtime.stack
        runner = EventSourceRunner(
            runtime.functions(),
            runtime.pool,
            endpoint_url=config.moto_endpoint,
            region=config.region,
            checkpoints=CheckpointStore(config.checkpoint_file, moto_instance_id),
        )
        _say("▸ event sources running: " + ", ".join(runner.stats()))
        runner.start()
        try:
            with ApiGatewayServer(runtime, port=0) as server:
                _say(f"▸ API at {server.url}: creating, reading, updating and deleting ~{items} entities over HTTP")
                bar = ProgressBar("API requests", 1)

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done)

                traffic = drive(server.url, items, progress)
            expected = len(traffic.writes_ms)
            _say("▸ fanout: stream -> envelopes -> SNS -> sink queues (read back through ChangeReader)")
            deliveries = _drain_sink_queues(sqs, s3, stack, expected)
            runner.wait_until_idle(timeout=30)
        finally:
            runner.stop(timeout=30)
        stats = runner.stats()
        metrics = runtime.metrics
        fanout_stats = [s for name, s in stats.items() if name.startswith(FANOUT)]
        figures = FanoutFigures(
            stream_records=sum(s.records_read for s in fanout_stats),
            invocations=sum(s.invocations for s in fanout_stats),
            function_errors=sum(s.function_errors for s in fanout_stats),
            cold_starts=runtime.cold_starts().get(FANOUT, 0),
            published=int(metrics.total(FANOUT, "EnvelopesPublished")),
            claim_checks=int(metrics.total(FANOUT, "ClaimChecksWritten")),
            skipped=int(metrics.total(FANOUT, "NonEntityRecordsSkipped")),
            malformed=int(metrics.total(FANOUT, "MalformedRecords")),
        )
        cache_sink = CacheSinkFigures(
            records=int(metrics.total(CACHE_SINK, "CacheChangeRecords")),
            applied=int(metrics.total(CACHE_SINK, "CacheChangesApplied")),
            stale=int(metrics.total(CACHE_SINK, "CacheStaleChangesIgnored")),
        )
        failures = {name: depth(sqs, stack.ref(queue)) for name, queue in FAILURE_QUEUES.items()}
    return DemoResult(traffic, figures, cache_sink, deliveries, failures, time.monotonic() - began)


def _drain_sink_queues(
    sqs: SQSClient, s3: S3Client, stack: ProvisionedStack, expected: int
) -> dict[str, QueueDelivery]:
    """Read all four sink queues at once, under one progress bar (distinct envelopes over all queues)."""
    bar = ProgressBar("sink queues", expected * len(SINK_QUEUES))
    received = dict.fromkeys(SINK_QUEUES, 0)
    lock = threading.Lock()

    def progress(sink: str, distinct: int) -> None:
        with lock:
            received[sink] = min(distinct, expected)
            bar.update(sum(received.values()))

    bucket = stack.ref("ClaimCheckBucket")
    with ThreadPoolExecutor(max_workers=len(SINK_QUEUES)) as pool:
        futures = {
            sink: pool.submit(
                drain,
                sqs,
                s3,
                queue_url=stack.ref(queue),
                claim_check_bucket=bucket,
                expected=expected,
                progress=partial(progress, sink),
            )
            for sink, queue in SINK_QUEUES.items()
        }
        return {sink: future.result() for sink, future in futures.items()}
