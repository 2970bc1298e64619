"""The contract between event-source pollers (and the API server) and the functions they invoke."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Invocation:
    """The outcome of one synchronous invoke, as Lambda reports it to an event source mapping.

    ``error`` is set when the function failed: it raised (``errorType``/``errorMessage``/``stackTrace``, the
    shape Lambda returns) or it ran past its timeout (``errorType`` "Sandbox.Timedout"). ``payload`` is the
    handler's JSON-decoded return value otherwise.
    """

    payload: Any
    error: dict[str, Any] | None
    duration_ms: float
    request_id: str

    @property
    def failed(self) -> bool:
        return self.error is not None


class Invoker(Protocol):
    """Invokes one function. Safe to call from several threads; each call runs in its own execution
    environment, so at most as many calls run at once as the pool allows."""

    @property
    def function_name(self) -> str: ...

    def invoke(self, event: dict[str, Any]) -> Invocation: ...
