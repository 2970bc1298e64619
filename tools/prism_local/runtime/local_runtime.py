"""The template's functions, runnable against the provisioned local stack: the one object `invoke`, `run`,
the demo and the tests use to reach a function."""

from __future__ import annotations

import threading
from typing import IO, TYPE_CHECKING

from prism_local.runtime.environment import lambda_environment
from prism_local.runtime.metrics import MetricsCollector
from prism_local.runtime.pool import FunctionPool
from prism_local.stack.control import load_template
from prism_local.stack.provision import load_stack

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from prism_local.config import LocalConfig
    from prism_local.template.model import FunctionSpec


class LocalRuntime:
    """Builds each function's environment from template.yaml and the provisioned stack, and owns the pools.

    Every line a function prints goes to ``<state_dir>/logs/functions/<LogicalId>.log``; EMF metric lines are
    also summed in ``metrics``; ``echo`` (if given) sees every line too (``invoke`` prints them to stderr).
    """

    def __init__(
        self,
        config: LocalConfig,
        *,
        echo: Callable[[str, str], None] | None = None,
        max_environments: int = 4,
    ) -> None:
        self.config = config
        self.stack = load_stack(config.stack_file)
        self.template = load_template(config)
        self.metrics = MetricsCollector()
        self._echo = echo
        self._max_environments = max_environments
        self._log_dir = config.state_dir / "logs" / "functions"
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pools: dict[str, FunctionPool] = {}
        self._log_files: dict[str, IO[str]] = {}

    def functions(self) -> list[FunctionSpec]:
        return self.template.functions(self.stack)

    def function(self, logical_id: str) -> FunctionSpec:
        return self.template.function(logical_id, self.stack)

    def pool(self, spec: FunctionSpec) -> FunctionPool:
        """The (lazily created) pool of ``spec``'s execution environments."""
        with self._lock:
            pool = self._pools.get(spec.logical_id)
            if pool is None:
                env = lambda_environment(spec, self.config.aws_environment())
                pool = FunctionPool(spec, env, self._log_line, self._max_environments)
                self._pools[spec.logical_id] = pool
            return pool

    def cold_starts(self) -> dict[str, int]:
        with self._lock:
            return {logical_id: pool.cold_starts for logical_id, pool in self._pools.items()}

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        with self._lock:
            files, self._log_files = list(self._log_files.values()), {}
        for handle in files:
            handle.close()

    def __enter__(self) -> LocalRuntime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _log_line(self, function_id: str, line: str) -> None:
        self.metrics.observe(function_id, line)
        with self._lock:
            handle = self._log_files.get(function_id)
            if handle is None:
                handle = (self._log_dir / f"{function_id}.log").open("a", encoding="utf-8")
                self._log_files[function_id] = handle
            handle.write(line + "\n")
            handle.flush()
        if self._echo is not None:
            self._echo(function_id, line)
