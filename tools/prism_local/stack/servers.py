"""The four private servers of the local stack: moto, MariaDB, Redis and osmem."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from osmem_server import OsmemError, resolve_binary

from prism_local.stack.binaries import find_binary
from prism_local.stack.errors import StackError
from prism_local.stack.mariadb import MariaDbServer
from prism_local.stack.private_server import LaunchPlan, PrivateServer
from prism_local.stack.probes import http_probe, redis_ping_probe

if TYPE_CHECKING:
    from collections.abc import Callable

    from prism_local.config import LocalConfig
    from prism_local.stack.probes import Probe


class MotoServer(PrivateServer):
    """moto in server mode: DynamoDB (with streams), SQS, SNS, S3, Secrets Manager and SSM, in memory."""

    name = "moto"
    port_variable = "PRISM_MOTO_PORT"
    default_marker = "prism_local.stack.moto_entry"

    @property
    def port(self) -> int:
        return self._config.ports.moto

    def plan(self) -> LaunchPlan:
        for module in ("moto.server", "flask"):
            if importlib.util.find_spec(module) is None:
                raise StackError(
                    f"moto: {module} is not importable from {sys.executable}; "
                    "install moto[server] into this environment (`make venv`)."
                )
        # moto's own server, with the fidelity fixes of prism_local.stack.moto_fidelity applied first.
        argv = (sys.executable, "-m", "prism_local.stack.moto_entry", "-H", self.host, "-p", str(self.port))
        return LaunchPlan(argv=argv, marker=self.default_marker)

    def probe(self) -> Probe:
        return http_probe(f"http://{self.host}:{self.port}/moto-api/")


class RedisServer(PrivateServer):
    """redis-server with persistence off: the local ElastiCache is a cache that starts empty."""

    name = "redis"
    port_variable = "PRISM_REDIS_PORT"
    default_marker = "redis-server"

    @property
    def port(self) -> int:
        return self._config.ports.redis

    def plan(self) -> LaunchPlan:
        binary = find_binary("redis-server", package="redis-server")
        argv = (
            binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.data_dir),
            "--daemonize", "no",
        )  # fmt: skip
        return LaunchPlan(argv=argv, marker=self.default_marker)

    def probe(self) -> Probe:
        return redis_ping_probe(self.host, self.port)


class OsmemServer(PrivateServer):
    """osmem-server, the in-memory OpenSearch stand-in whose Go binary ships in the osmem-server wheel."""

    name = "osmem"
    port_variable = "PRISM_OSMEM_PORT"
    default_marker = "osmem-server"

    def __init__(self, config: LocalConfig, *, binary_resolver: Callable[[], str] = resolve_binary) -> None:
        """``binary_resolver`` finds the osmem-server binary (the wheel's, or OSMEM_SERVER_BIN); it raises
        OsmemError on a platform without one."""
        super().__init__(config)
        self._resolve_binary = binary_resolver

    @property
    def port(self) -> int:
        return self._config.ports.osmem

    def plan(self) -> LaunchPlan:
        try:
            binary = str(self._resolve_binary())
        except OsmemError as exc:
            raise StackError(
                f"osmem: {exc}. There is no osmem-server build for this platform, so the local stack cannot "
                "run its OpenSearch stand-in here; Prism has to be pointed at a real OpenSearch instead "
                "(Prism has no setting for that yet)."
            ) from exc
        # -no-stdin-watch: the server runs detached with stdin closed, which would otherwise stop it.
        argv = (binary, "-addr", f"{self.host}:{self.port}", "-no-stdin-watch")
        return LaunchPlan(argv=argv, marker=Path(binary).name)

    def probe(self) -> Probe:
        return http_probe(f"http://{self.host}:{self.port}/")


def private_servers(config: LocalConfig) -> tuple[PrivateServer, ...]:
    """Every server of the local stack, in the order status lists them."""
    return (MotoServer(config), MariaDbServer(config), RedisServer(config), OsmemServer(config))
