"""A function that fails one record of its batch: only that record is retried, then dead-lettered whole."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from prism_local.config import REPO_ROOT, LocalConfig
from prism_local.stack.control import stack_up
from tests.support.pipeline import client, receive_all, running_pipeline

pytestmark = pytest.mark.integration

TEMPLATE = REPO_ROOT / "tests" / "fixtures" / "templates" / "sqs-partial-failure.yaml"


def test_only_the_failing_record_is_retried_and_finally_dead_lettered(
    local_servers: LocalConfig, tmp_path: Path
) -> None:
    config = local_servers.with_overrides(
        stack_name="sqs-partial", template=TEMPLATE, parameter_overrides={"AuditDir": str(tmp_path)}
    )
    stack = stack_up(config).stack
    sqs = client(config, "sqs")
    poison = json.dumps({"order": 3, "note": "poison", "payload": "x" * 1000})
    bodies = [json.dumps({"order": n}) for n in range(5)] + [poison]
    for body in bodies:
        sqs.send_message(QueueUrl=stack.ref("WorkQueue"), MessageBody=body)  # type: ignore[attr-defined]

    with running_pipeline(config) as (_runtime, runner):
        dead = receive_all(sqs, stack.ref("WorkDeadLetterQueue"), expected=1, wait_s=30)
        deadline = time.monotonic() + 10
        while not runner.stats()["PickyFunction.Work"].idle and time.monotonic() < deadline:
            time.sleep(0.2)

    attempts = [json.loads(line) for line in (tmp_path / "attempts.jsonl").read_text().splitlines()]
    tries = Counter(attempt["body"] for attempt in attempts)
    assert {body: tries[body] for body in bodies if body != poison} == {body: 1 for body in bodies if body != poison}
    assert tries[poison] == 3, "retried until the queue's maxReceiveCount"
    assert sorted(a["receive_count"] for a in attempts if a["body"] == poison) == ["1", "2", "3"]
    assert len(dead) == 1
    assert dead[0]["Body"] == poison, "the DLQ holds the full payload"
    assert receive_all(sqs, stack.ref("WorkQueue"), expected=1, wait_s=2) == []
