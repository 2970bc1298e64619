"""The main job, as a user runs it: `prism demo` drives the whole local pipeline and reports PASS."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from prism_local.config import LocalConfig
from tests.conftest import cli_environment

pytestmark = pytest.mark.e2e


def test_the_demo_carries_every_change_to_every_sink_queue(local_servers: LocalConfig) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prism_local.cli", "demo", "--items", "60"],
        env=cli_environment(local_servers),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    report = result.stdout
    assert result.returncode == 0, result.stderr[-3000:] + report
    assert "result: PASS" in report
    published = re.search(r"envelopes published to SNS\s+(\d+)\s+\(expected (\d+); (\d+) via S3 claim check", report)
    assert published is not None
    assert published.group(1) == published.group(2)
    assert published.group(3) == "1", "the demo's oversized product goes by claim check"
    for sink in ("relational", "search", "lake", "cache"):
        row = re.search(rf"{sink}\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+ok", report)
        assert row is not None, f"{sink} row missing or not ok"
        assert row.group(2) == published.group(2), f"{sink}: every envelope arrived"
    assert "p50" in report
    assert "p95" in report
    assert "already running; using stack prism-demo-" in result.stderr, "a running stack is left alone"
