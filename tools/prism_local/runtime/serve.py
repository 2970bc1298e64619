"""`prism run` and `prism start-api`: the template's event sources polled, and/or its API served, until
Ctrl-C or SIGTERM; then everything stops in order (API server, pollers, execution environments)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prism_local.runtime.api_gateway import ApiGatewayServer
from prism_local.runtime.esm.checkpoints import CheckpointStore
from prism_local.runtime.esm.runner import EventSourceRunner
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.lifecycle import LocalStack

if TYPE_CHECKING:
    from pathlib import Path
    from types import FrameType

    from prism_local.config import LocalConfig
    from prism_local.template.model import FunctionSpec

STATUS_EVERY_S = 10.0


@dataclass(frozen=True)
class ApiOptions:
    """Where `prism start-api` listens, and the OpenAPI document it shows at /_docs."""

    host: str
    port: int
    openapi_file: Path | None = None


def serve_event_sources(config: LocalConfig) -> int:
    """`prism run`: every event source of the template, polled until stopped."""
    return serve(config)


def serve(config: LocalConfig, *, api: ApiOptions | None = None, pollers: bool = True) -> int:
    """Run the pollers (unless ``pollers`` is False) and the API server (if ``api`` is given) until a signal."""
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with LocalRuntime(config) as runtime, contextlib.ExitStack() as running:
        functions = runtime.functions()
        for spec in functions:
            for name, kind in spec.unemulated_events:
                _say(f"  ! {spec.logical_id}.{name}: {kind} events are not emulated locally")
        runner = _start_pollers(config, runtime, functions, running) if pollers else None
        if api is not None:
            _start_api(runtime, api, running)
        _say(f"function logs: {config.state_dir / 'logs' / 'functions'}   (Ctrl-C stops)")
        while not stopping.wait(STATUS_EVERY_S):
            if runner is not None:
                _print_poller_status(runner)
        _say("stopping")
    return 0


def _start_pollers(
    config: LocalConfig, runtime: LocalRuntime, functions: list[FunctionSpec], running: contextlib.ExitStack
) -> EventSourceRunner:
    runner = EventSourceRunner(
        functions,
        runtime.pool,
        endpoint_url=config.moto_endpoint,
        region=config.region,
        checkpoints=CheckpointStore(config.checkpoint_file, LocalStack(config).moto_instance_id),
    )
    runner.start()
    running.callback(runner.stop, timeout=30)
    _say("polling: " + (", ".join(runner.stats()) or "no event sources"))
    return runner


def _start_api(runtime: LocalRuntime, options: ApiOptions, running: contextlib.ExitStack) -> ApiGatewayServer:
    _show_api_log()
    server = ApiGatewayServer(runtime, host=options.host, port=options.port, openapi_file=options.openapi_file)
    for ignored, serving in server.routes.shadowed:
        _say(
            f"  ! {ignored.function_id}.{ignored.event_name}: {ignored.method} {ignored.path} is already served by "
            f"{serving.function_id}.{serving.event_name} (all APIs share one port locally)"
        )
    server.start()
    running.callback(server.stop)
    _say(f"API at {server.url}")
    for route in server.routes.routes:
        api = f"{route.api.logical_id}, stage {route.api.stage}"
        _say(f"  {route.method:<7} {route.resource:<40} -> {route.function_id}  ({api})")
    _say(f"docs:  {server.url}/_docs")
    if not _is_loopback(options.host):
        _say(f"  ! listening on {options.host}: anyone who reaches this machine can call the API (no auth locally)")
    return server


def _print_poller_status(runner: EventSourceRunner) -> None:
    for name, stats in runner.stats().items():
        _say(
            f"{name}: {stats.records_read} read, {stats.invocations} invocations, "
            f"{stats.function_errors} errors, {stats.records_to_destination} to on-failure"
        )


def _show_api_log() -> None:
    """Access lines and function errors of the API server go to stderr, as `sam local start-api` prints them."""
    api_log = logging.getLogger("prism_local.runtime.api_gateway")
    if not api_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        api_log.addHandler(handler)
        api_log.setLevel(logging.INFO)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
