"""What every private server of the local stack is: where its files live, how it starts, how it is probed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from prism_local.config import LocalConfig
    from prism_local.stack.probes import Probe


@dataclass(frozen=True)
class LaunchPlan:
    """How to start a server: its command line, and the marker that identifies the running process.

    ``marker`` is a substring of the process's command line while it runs (redis rewrites its own
    command line, so the marker cannot simply be the whole argv).
    """

    argv: tuple[str, ...]
    marker: str


class PrivateServer(ABC):
    """One server the stack runs for itself, on its own port, with its files under the state dir.

    Layout: data in ``state_dir/<name>/`` (also the process's working directory, which is how a running
    process is recognised as ours), pid file ``state_dir/<name>.pid``, log ``state_dir/logs/<name>.log``.
    """

    name: ClassVar[str]
    #: The environment variable that moves this server's port (see ``Ports.from_env``).
    port_variable: ClassVar[str]
    #: Identifies the process when a pid file carries no marker of its own.
    default_marker: ClassVar[str]

    def __init__(self, config: LocalConfig) -> None:
        self._config = config
        self._state_dir = config.state_dir.resolve()

    @property
    def host(self) -> str:
        return self._config.host

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def data_dir(self) -> Path:
        return self._state_dir / self.name

    @property
    def pid_file(self) -> Path:
        return self._state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self._state_dir / "logs" / f"{self.name}.log"

    @abstractmethod
    def plan(self) -> LaunchPlan:
        """Resolve the binaries and build the command line. Raises StackError when a binary is missing."""

    def prepare(self, plan: LaunchPlan, progress: Callable[[str], None]) -> None:  # noqa: B027 - optional hook
        """Do the one-time work a fresh data directory needs before the server can start (default: none)."""

    @abstractmethod
    def probe(self) -> Probe:
        """Whether the server answers clients on ``host:port`` as a ready server does."""

    def startup_probe(self) -> Probe:
        """What ``up`` waits for after starting the process; ``after_start`` runs once it is ready."""
        return self.probe()

    def after_start(self) -> None:  # noqa: B027 - optional hook
        """Bring a freshly started server into the state clients expect (default: nothing to do)."""
