"""Execution environments: each function runs in child processes of its own, as on Lambda.

A child process per environment gives each function its own environment variables (process-global, so two
functions could not share a process), module-level state reused across invocations (warm starts), and a
hard timeout: an invocation that runs past the function's Timeout is killed with its process, and the next
invocation starts a new one (a cold start), which is exactly what Lambda does.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from prism_local.runtime import wire
from prism_local.runtime.invocation import Invocation

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prism_local.template.model import FunctionSpec


_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_INIT_TIMEOUT_S = 30.0


class EnvironmentStartError(RuntimeError):
    """An execution environment could not be started."""


def lambda_environment(spec: FunctionSpec, aws: Mapping[str, str]) -> dict[str, str]:
    """The variables a handler sees: the template's (Globals merged), Lambda's reserved ones, and the local
    AWS endpoint. The template cannot override the endpoint, so local code never reaches real AWS."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(spec.environment)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            # No X-Ray daemon runs locally; Powertools' Tracer would otherwise try to emit segments.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
            "PRISM_LOCAL_FUNCTION_ARN": spec.arn,
            "PRISM_LOCAL_SYS_PATH": os.pathsep.join([str(spec.code_uri), *map(str, spec.layers)]),
        }
    )
    env.update(aws)
    return env


class ExecutionEnvironment:
    """One environment: a worker process that has imported the handler and runs one invocation at a time."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], log_sink: Callable[[str, str], None]) -> None:
        self.spec = spec
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        started = time.monotonic()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "prism_local.runtime.worker", str(request_read), str(response_write)],
            env=dict(env),
            cwd=spec.code_uri,
            pass_fds=(request_read, response_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        os.close(request_read)
        os.close(response_write)
        self._log_thread = threading.Thread(
            target=self._forward_output, args=(log_sink,), name=f"logs-{spec.logical_id}", daemon=True
        )
        self._log_thread.start()
        ready = self._await_response(_INIT_TIMEOUT_S)
        if ready is None:
            self.close()
            raise EnvironmentStartError(f"{spec.logical_id}: the runtime did not start within {_INIT_TIMEOUT_S:.0f}s")
        self.init_duration_ms = (time.monotonic() - started) * 1000
        self.invocations = 0

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def invoke(self, event: dict[str, Any]) -> Invocation:
        request_id = str(uuid.uuid4())
        timeout = float(self.spec.timeout)
        deadline_ms = int((time.time() + timeout) * 1000)
        started = time.monotonic()
        try:
            wire.send(self._request_write, {"event": event, "request_id": request_id, "deadline_ms": deadline_ms})
        except OSError:
            return self._failed(request_id, started, "Runtime.ExitError", "the execution environment had exited")
        response = self._await_response(timeout)
        self.invocations += 1
        if response is None:
            # Lambda stops a timed-out environment at once; the next invocation starts a new one.
            self._process.kill()
            self._process.wait()
            self.close()
            return self._failed(request_id, started, "Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        if "error" in response:
            return Invocation(None, response["error"], _elapsed_ms(started), request_id)
        return Invocation(response["result"], None, _elapsed_ms(started), request_id)

    def close(self) -> None:
        """Stop the worker: politely if it is idle, by SIGKILL if it does not exit (a timed-out handler)."""
        if self._process.poll() is None:
            try:
                wire.send(self._request_write, {"stop": True})
                self._process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for fd in (self._request_write, self._response_read):
            try:
                os.close(fd)
            except OSError:
                continue  # already closed by an earlier close()
        self._log_thread.join(timeout=2)

    def _await_response(self, timeout: float) -> dict[str, Any] | None:
        """The worker's next frame, or None when it does not answer in time or has died."""
        readable, _, _ = select.select([self._response_read], [], [], timeout)
        if not readable:
            return None
        try:
            response: dict[str, Any] = wire.receive(self._response_read)
        except wire.ChannelClosedError:
            self._process.wait()
            return {
                "error": {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"the runtime exited with status {self._process.returncode}",
                }
            }
        return response

    def _failed(self, request_id: str, started: float, error_type: str, message: str) -> Invocation:
        return Invocation(None, {"errorType": error_type, "errorMessage": message}, _elapsed_ms(started), request_id)

    def _forward_output(self, log_sink: Callable[[str, str], None]) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            log_sink(self.spec.logical_id, raw.decode(errors="replace").rstrip("\n"))


def _elapsed_ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
