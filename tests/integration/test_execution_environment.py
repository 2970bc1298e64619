"""The local runtime's execution environments behave like Lambda's: warm reuse, errors, hard timeouts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from prism_local.runtime.environment import lambda_environment
from prism_local.runtime.pool import FunctionPool
from prism_local.template.model import FunctionSpec

pytestmark = pytest.mark.integration

PROBE = Path(__file__).resolve().parents[1] / "fixtures" / "functions" / "probe"


def spec(handler: str, timeout: int = 5, **env: str) -> FunctionSpec:
    return FunctionSpec(
        logical_id="Probe",
        function_name="test-Probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:test-Probe",
        handler=f"app.{handler}",
        code_uri=PROBE,
        runtime="python3.13",
        architectures=("arm64",),
        timeout=timeout,
        memory_size=256,
        environment=env,
        layers=(),
    )


def pool_for(function: FunctionSpec, lines: list[str] | None = None, size: int = 2) -> FunctionPool:
    sink = lines.append if lines is not None else (lambda line: None)
    env = lambda_environment(function, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    return FunctionPool(function, env, lambda _fid, line: sink(line), max_environments=size)


def test_a_warm_environment_keeps_module_state_and_sees_the_function_environment() -> None:
    pool = pool_for(spec("echo", GREETING="hello"))
    try:
        first = pool.invoke({"n": 1})
        second = pool.invoke({"n": 2})
    finally:
        pool.close()

    assert first.payload["invocations"] == 1
    assert second.payload["invocations"] == 2
    assert second.payload["pid"] == first.payload["pid"]
    assert pool.cold_starts == 1
    assert second.payload["event"] == {"n": 2}
    assert second.payload["greeting"] == "hello"
    assert second.payload["endpoint"] == "http://127.0.0.1:1"
    assert second.payload["function_name"] == "test-Probe"
    assert 0 < second.payload["remaining_ms"] <= 5000


def test_a_raising_handler_is_a_function_error_with_lambdas_shape_and_its_output_is_logged() -> None:
    lines: list[str] = []
    pool = pool_for(spec("fail"), lines)
    try:
        result = pool.invoke({"x": 1})
    finally:
        pool.close()

    assert result.failed
    assert result.error is not None
    assert result.error["errorType"] == "ValueError"
    assert result.error["errorMessage"] == "bad input: {'x': 1}"
    assert result.error["stackTrace"]
    assert "about to fail" in lines


def test_a_handler_past_its_timeout_is_killed_and_the_next_invoke_is_a_cold_start() -> None:
    pool = pool_for(spec("sleep", timeout=1))
    try:
        timed_out = pool.invoke({"seconds": 30})
        quick = pool.invoke({"seconds": 0})
    finally:
        pool.close()

    assert timed_out.error is not None
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert timed_out.duration_ms < 5_000
    assert quick.payload == "woke up"
    assert pool.cold_starts == 2


def test_a_result_that_is_not_json_is_a_marshal_error() -> None:
    pool = pool_for(spec("not_json"))
    try:
        result = pool.invoke({})
    finally:
        pool.close()

    assert result.error is not None
    assert result.error["errorType"] == "Runtime.MarshalError"


def test_a_missing_handler_fails_every_invoke_clearly() -> None:
    pool = pool_for(spec("nope"))
    try:
        result = pool.invoke({})
    finally:
        pool.close()

    assert result.error is not None
    assert result.error["errorType"] == "Runtime.HandlerNotFound"


def test_concurrent_invokes_use_at_most_the_pool_size() -> None:
    pool = pool_for(spec("echo"), size=2)
    pids: list[int] = []
    try:
        threads = [threading.Thread(target=lambda: pids.append(pool.invoke({}).payload["pid"])) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        pool.close()

    assert len(pids) == 6
    assert len(set(pids)) <= 2
