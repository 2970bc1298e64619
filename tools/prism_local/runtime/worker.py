"""The inside of an execution environment: imports one handler, then serves invocations until told to stop.

Run by ``ExecutionEnvironment`` as ``python -m prism_local.runtime.worker REQUEST_FD RESPONSE_FD`` with the
function's environment variables already set, like Lambda's Python runtime does: ``sys.path`` starts with the
function's code, then its layers; import errors are reported on the first invocation.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from typing import Any

from prism_local.runtime import wire


class LocalLambdaContext:
    """The context object a handler receives, with the attributes Lambda's Python runtime provides."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = os.environ["PRISM_LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": error_type,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[1:],
    }


def _load_handler(paths: list[str], handler: str) -> Any:
    for path in reversed(paths):
        sys.path.insert(0, path)
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def main() -> None:
    request_fd, response_fd = int(sys.argv[1]), int(sys.argv[2])
    paths = os.environ["PRISM_LOCAL_SYS_PATH"].split(os.pathsep)
    init_error: dict[str, Any] | None = None
    handler: Any = None
    try:
        handler = _load_handler(paths, os.environ["_HANDLER"])
    except (ImportError, SyntaxError) as exc:
        init_error = _error("Runtime.ImportModuleError", exc)
    except AttributeError as exc:
        init_error = _error("Runtime.HandlerNotFound", exc)
    wire.send(response_fd, {"ready": init_error is None})

    while True:
        try:
            request = wire.receive(request_fd)
        except wire.ChannelClosedError:
            return
        if request.get("stop"):
            return
        if init_error is not None:
            wire.send(response_fd, {"error": init_error})
            continue
        context = LocalLambdaContext(request["request_id"], request["deadline_ms"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # noqa: BLE001 - any handler failure is the invocation's error, as in Lambda
            traceback.print_exc()
            _flush()
            wire.send(response_fd, {"error": _error(type(exc).__name__, exc)})
            continue
        _flush()
        try:
            wire.send(response_fd, {"result": result})
        except TypeError as exc:  # the result is not JSON: Lambda reports it the same way
            wire.send(response_fd, {"error": _error("Runtime.MarshalError", exc)})


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
