"""Benchmark: the fanout's apply rate (decode + PublishBatch, through Powertools' BatchProcessor) next to the
naive approach common samples use (one SNS Publish per stream record), on the same records, in one run,
against the same moto server with template.yaml provisioned (4 raw subscriptions per message).

    make bench            # or: .venv/bin/python -m bench.fanout_publish --records 2000

Figures are ratios against the naive rate measured in the same run, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import statistics
import time
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.batch import process_partial_response
from moto.server import ThreadedMotoServer

from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.envelope import ChangeEvent
from prism.changes.publisher import SnsChangePublisher
from prism.changes.stream_decoder import decode_stream_record
from prism.fanout.processor import FanoutProcessor, decode_record
from prism_local.config import ACCOUNT_ID, REPO_ROOT, local_session
from prism_local.stack.provision import provision
from prism_local.template.reader import Template
from tests.support.ports import free_port
from tests.support.records import entity, stream_record

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_sns import SNSClient

    from prism_local.template.model import ProvisionedStack

Record = dict[str, object]
RESULTS = REPO_ROOT / "bench" / "results"
BATCH_SIZE = 100  # the template's BatchSize for the table stream


def records(count: int) -> list[Record]:
    return [
        stream_record(
            "INSERT",
            new=entity("product", f"p-{n}", n + 1, name=f"Product {n}", category="books", price="19.99", stock=n),
        )
        for n in range(count)
    ]


def naive(sns: SNSClient, topic_arn: str, batch: list[Record]) -> None:
    """What common samples do: decode, then one Publish call per record."""
    for record in batch:
        change = decode_stream_record(record)
        if not isinstance(change, ChangeEvent):
            raise TypeError(f"benchmark records are all entities, got {change}")
        sns.publish(
            TopicArn=topic_arn,
            Message=change.to_json(),
            MessageAttributes=change.message_attributes(),  # type: ignore[arg-type]
        )


def fanout(processor: FanoutProcessor, batch: list[dict[str, object]]) -> None:
    response = process_partial_response({"Records": batch}, decode_record, processor)
    if response["batchItemFailures"]:
        raise RuntimeError(f"fanout reported failures: {response}")


def timed(
    label: str, prepare: Callable[[], Callable[[list[Record]], object]], batch: list[Record], rounds: int
) -> float:
    """Median records/s over ``rounds``; each round runs on what ``prepare`` returns, untimed, so every round
    starts with empty sink queues (moto slows down as undrained queues grow)."""
    rates = []
    for _ in range(rounds):
        work = prepare()
        started = time.perf_counter()
        for start in range(0, len(batch), BATCH_SIZE):
            work(batch[start : start + BATCH_SIZE])
        rates.append(len(batch) / (time.perf_counter() - started))
    rate = statistics.median(rates)
    print(f"  {label:<44} {rate:>9,.0f} records/s   (median of {rounds})", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        session = local_session("us-east-1")
        sns, s3 = session.client("sns", endpoint_url=endpoint), session.client("s3", endpoint_url=endpoint)
        stacks = itertools.count()

        def fresh_stack() -> ProvisionedStack:
            template = Template.load(
                REPO_ROOT / "template.yaml",
                stack_name=f"bench{next(stacks)}",
                region="us-east-1",
                account_id=ACCOUNT_ID,
            )
            return provision(template, endpoint_url=endpoint, region="us-east-1")

        def topic_of(stack: ProvisionedStack, delivered: bool) -> str:
            if delivered:
                return stack.ref("ChangesTopic")
            # moto delivers to every subscribed queue inside the Publish call, and its SQS send scans the
            # whole queue (O(depth)); on AWS delivery is asynchronous. A topic without subscriptions
            # measures what the fanout itself does: decoding and publishing requests.
            return sns.create_topic(Name=f"{stack.stack_name}-bare")["TopicArn"]

        def prepare_naive(delivered: bool) -> Callable[[], Callable[[list[Record]], object]]:
            def prepare() -> Callable[[list[Record]], object]:
                topic = topic_of(fresh_stack(), delivered)
                return lambda b: naive(sns, topic, b)

            return prepare

        def prepare_fanout(delivered: bool) -> Callable[[], Callable[[list[Record]], object]]:
            def prepare() -> Callable[[list[Record]], object]:
                stack = fresh_stack()
                claims = S3ClaimCheckStore(s3, stack.ref("ClaimCheckBucket"))
                processor = FanoutProcessor(SnsChangePublisher(sns, topic_of(stack, delivered), claims))
                return lambda b: fanout(processor, b)

            return prepare

        batch = records(args.records)
        print(
            f"fanout benchmark: {args.records} stream records in batches of {BATCH_SIZE}, moto with 4 subscriptions",
            flush=True,
        )
        decode_only = timed(
            "decode only (no publishing)", lambda: lambda b: [decode_stream_record(r) for r in b], batch, args.rounds
        )
        print("  publishing to the topic (what the fanout does; SNS delivers asynchronously on AWS):")
        naive_rate = timed("naive: one Publish per record", prepare_naive(False), batch, args.rounds)
        fanout_rate = timed("fanout: BatchProcessor + PublishBatch", prepare_fanout(False), batch, args.rounds)
        print(f"    fanout / naive = {fanout_rate / naive_rate:.1f}x")
        delivered_records = batch[: min(len(batch), 500)]
        print(f"  with moto delivering each message to the 4 sink queues ({len(delivered_records)} records):")
        naive_delivered = timed("naive: one Publish per record", prepare_naive(True), delivered_records, 1)
        fanout_delivered = timed("fanout: BatchProcessor + PublishBatch", prepare_fanout(True), delivered_records, 1)
        print(f"    fanout / naive = {fanout_delivered / naive_delivered:.1f}x")
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "fanout_publish.json").write_text(
            json.dumps(
                {
                    "records": args.records,
                    "decode_only_per_s": decode_only,
                    "naive_per_s": naive_rate,
                    "fanout_per_s": fanout_rate,
                    "fanout_over_naive": fanout_rate / naive_rate,
                    "with_delivery": {"naive_per_s": naive_delivered, "fanout_per_s": fanout_delivered},
                },
                indent=2,
            )
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
