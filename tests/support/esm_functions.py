"""Test doubles for the event source mapping tests: a function as a Python callable, and its FunctionSpec."""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_local.runtime.invocation import Invocation
from prism_local.template.model import EventSource, FunctionSpec

if TYPE_CHECKING:
    from collections.abc import Callable


class FunctionInvoker:
    """An Invoker that runs a Python function in the calling thread, the way Lambda reports the result.

    An exception becomes a function error (``errorType``/``errorMessage``/``stackTrace``); a return value is
    round-tripped through JSON like a real response. Every event received is kept, in order.
    """

    def __init__(self, handler: Callable[[dict[str, Any]], Any], name: str = "fn") -> None:
        self._handler = handler
        self._name = name
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []

    @property
    def function_name(self) -> str:
        return self._name

    def invoke(self, event: dict[str, Any]) -> Invocation:
        event = json.loads(json.dumps(event))  # the function gets JSON, as on Lambda
        with self._lock:
            self.events.append(event)
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        try:
            payload = json.loads(json.dumps(self._handler(event)))
        except Exception as exc:
            error = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            return Invocation(None, error, (time.perf_counter() - started) * 1000, request_id)
        return Invocation(payload, None, (time.perf_counter() - started) * 1000, request_id)

    def batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return [list(event["Records"]) for event in self.events]


def function_spec(logical_id: str, *events: EventSource, timeout: int = 3) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        function_name=f"prism-test-{logical_id}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:prism-test-{logical_id}",
        handler="app.lambda_handler",
        code_uri=Path("/nonexistent"),
        runtime="python3.13",
        architectures=("arm64",),
        timeout=timeout,
        memory_size=128,
        environment={},
        layers=(),
        events=events,
    )
