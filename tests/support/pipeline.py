"""Run a provisioned stack's event sources with the real local runtime, the way `prism run` does."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from prism_local.runtime.esm import CheckpointStore, EventSourceRunner
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.lifecycle import LocalStack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig


@contextlib.contextmanager
def running_pipeline(
    config: LocalConfig, retry_backoff_s: float = 0.05
) -> Iterator[tuple[LocalRuntime, EventSourceRunner]]:
    with LocalRuntime(config) as runtime:
        runner = EventSourceRunner(
            runtime.functions(),
            runtime.pool,
            endpoint_url=config.moto_endpoint,
            region=config.region,
            checkpoints=CheckpointStore(config.checkpoint_file, LocalStack(config).moto_instance_id),
            retry_backoff_s=retry_backoff_s,
        )
        with runner:
            yield runtime, runner


def client(config: LocalConfig, service: str) -> object:
    return config.session().client(service, endpoint_url=config.moto_endpoint)  # type: ignore[call-overload]


def receive_all(sqs: object, queue_url: str, expected: int, wait_s: float = 60.0) -> list[dict[str, object]]:
    """Every message of a queue (deleted as read) until ``expected`` arrived or ``wait_s`` passed quietly."""
    import time

    messages: list[dict[str, object]] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and len(messages) < expected:
        batch = sqs.receive_message(  # type: ignore[attr-defined]
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])  # type: ignore[attr-defined]
        messages.extend(batch)
    return messages
