"""A function's pool of execution environments: the Invoker that pollers and the API server call."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from prism_local.runtime.environment import ExecutionEnvironment

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prism_local.runtime.invocation import Invocation
    from prism_local.template.model import FunctionSpec


class FunctionPool:
    """Runs invocations of one function, each in an idle environment or a new one (a cold start), at most
    ``max_environments`` at once; further callers wait, as Lambda would throttle past its concurrency."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        log_sink: Callable[[str, str], None],
        max_environments: int = 4,
    ) -> None:
        if max_environments < 1:
            raise ValueError("a pool needs at least one environment")
        self.spec = spec
        self._env = dict(env)
        self._log_sink = log_sink
        self._slots = threading.BoundedSemaphore(max_environments)
        self._lock = threading.Lock()
        self._idle: list[ExecutionEnvironment] = []
        self._all: list[ExecutionEnvironment] = []
        self.cold_starts = 0
        self._closed = False

    @property
    def function_name(self) -> str:
        return self.spec.function_name

    def invoke(self, event: dict[str, Any]) -> Invocation:
        with self._slots:
            environment = self._acquire()
            try:
                return environment.invoke(event)
            finally:
                self._release(environment)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            environments, self._all, self._idle = self._all, [], []
        for environment in environments:
            environment.close()

    def _acquire(self) -> ExecutionEnvironment:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.spec.logical_id}: the runtime is shutting down")
            while self._idle:
                environment = self._idle.pop()
                if environment.alive:
                    return environment
                self._all.remove(environment)
        environment = ExecutionEnvironment(self.spec, self._env, self._log_sink)
        with self._lock:
            self.cold_starts += 1
            self._all.append(environment)
        return environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._lock:
            if environment.alive and not self._closed:
                self._idle.append(environment)
            else:
                if environment in self._all:
                    self._all.remove(environment)
                environment.close()
