"""`prism run`: every event source of the template, polled against the local stack until Ctrl-C.

(The API route server of a later issue starts beside the pollers here.)
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING

from prism_local.runtime.esm.checkpoints import CheckpointStore
from prism_local.runtime.esm.runner import EventSourceRunner
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.lifecycle import LocalStack

if TYPE_CHECKING:
    from types import FrameType

    from prism_local.config import LocalConfig

STATUS_EVERY_S = 10.0


def serve_event_sources(config: LocalConfig) -> int:
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    moto_instance = LocalStack(config).moto_instance_id
    with LocalRuntime(config) as runtime:
        functions = runtime.functions()
        runner = EventSourceRunner(
            functions,
            runtime.pool,
            endpoint_url=config.moto_endpoint,
            region=config.region,
            checkpoints=CheckpointStore(config.checkpoint_file, moto_instance),
        )
        for spec in functions:
            for name, kind in spec.unemulated_events:
                print(f"  ! {spec.logical_id}.{name}: {kind} events are not emulated locally", file=sys.stderr)
        print("polling: " + ", ".join(runner.stats()) + "   (Ctrl-C stops)", file=sys.stderr, flush=True)
        print(f"function logs: {config.state_dir / 'logs' / 'functions'}", file=sys.stderr, flush=True)
        runner.start()
        try:
            while not stopping.wait(STATUS_EVERY_S):
                for name, stats in runner.stats().items():
                    print(
                        f"{name}: {stats.records_read} read, {stats.invocations} invocations, "
                        f"{stats.function_errors} errors, {stats.records_to_destination} to on-failure",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            print("stopping event sources", file=sys.stderr, flush=True)
            runner.stop(timeout=30)
    return 0
