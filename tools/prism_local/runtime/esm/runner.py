"""Runs every event source mapping of the template's functions: one poller per DynamoDB or SQS event.

moto is never asked to create event source mappings (it would need Docker to run Lambda); Prism polls the
streams and queues itself and calls each function through its :class:`Invoker`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from prism_local.runtime.esm.aws_clients import EventSourceClients
from prism_local.runtime.esm.mapping_settings import (
    PollerTiming,
    QueueMappingSettings,
    StreamMappingSettings,
    queue_mapping_settings,
    stream_mapping_settings,
)
from prism_local.runtime.esm.sqs_poller import QueuePoller
from prism_local.runtime.esm.stream_poller import StreamPoller

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from prism_local.runtime.esm.checkpoints import CheckpointStore
    from prism_local.runtime.esm.poller_stats import PollerStats
    from prism_local.runtime.invocation import Invoker
    from prism_local.template.model import FunctionSpec

_log = logging.getLogger(__name__)


class Poller(Protocol):
    """What the runner needs of a stream or queue poller."""

    mapping: str

    def start(self) -> None: ...

    def request_stop(self) -> None: ...

    def join(self, timeout: float) -> bool: ...

    def stats(self) -> PollerStats: ...

    def idle_since(self, moment: float) -> bool: ...


class EventSourceRunner:
    """Builds a poller for every enabled DynamoDB and SQS event of ``functions`` and runs them on threads.

    Every event source is checked when the runner is built (EventSourceConfigError names the bad one), so a
    template Prism cannot emulate fails before anything starts. ``invoker_for`` is called once per function
    that has an enabled event source. Mappings are named ``<LogicalId>.<EventName>``.
    """

    def __init__(
        self,
        functions: Sequence[FunctionSpec],
        invoker_for: Callable[[FunctionSpec], Invoker],
        *,
        endpoint_url: str,
        region: str,
        checkpoints: CheckpointStore,
        retry_backoff_s: float = 1.0,
        default_sqs_concurrency: int = 2,
        timing: PollerTiming | None = None,
    ) -> None:
        """``retry_backoff_s``: first delay before a failed stream batch is retried (doubling per retry; it
        overrides ``timing.retry_backoff_s``). ``default_sqs_concurrency``: pollers per queue without
        ``ScalingConfig.MaximumConcurrency``. ``timing``: poll intervals, for tests and demos."""
        if default_sqs_concurrency < 1:
            raise ValueError(f"default_sqs_concurrency must be at least 1, not {default_sqs_concurrency}")
        timing = replace(timing or PollerTiming(), retry_backoff_s=retry_backoff_s)
        plans = _mapping_plans(functions)
        connections = 4 + sum(
            (plan.settings.maximum_concurrency or default_sqs_concurrency)
            if isinstance(plan.settings, QueueMappingSettings)
            else 1
            for plan in plans
        )
        self._clients = EventSourceClients(endpoint_url=endpoint_url, region=region, max_connections=connections)
        invokers: dict[str, Invoker] = {}
        self._pollers: list[Poller] = []
        for plan in plans:
            function = plan.function
            if function.logical_id not in invokers:
                invokers[function.logical_id] = invoker_for(function)
            poller: Poller
            if isinstance(plan.settings, QueueMappingSettings):
                poller = QueuePoller(
                    mapping=plan.mapping,
                    function=function,
                    settings=plan.settings,
                    concurrency=plan.settings.maximum_concurrency or default_sqs_concurrency,
                    invoker=invokers[function.logical_id],
                    clients=self._clients,
                    timing=timing,
                )
            else:
                poller = StreamPoller(
                    mapping=plan.mapping,
                    function=function,
                    event_name=plan.event_name,
                    settings=plan.settings,
                    invoker=invokers[function.logical_id],
                    clients=self._clients,
                    checkpoints=checkpoints,
                    timing=timing,
                )
            self._pollers.append(poller)
        self._started = False

    @property
    def mappings(self) -> list[str]:
        return [poller.mapping for poller in self._pollers]

    def start(self) -> None:
        """Start every poller's threads (once)."""
        if self._started:
            return
        self._started = True
        for poller in self._pollers:
            poller.start()
        _log.info("Event source mappings running", extra={"mappings": self.mappings})

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask every poller to stop, let in-flight invocations finish, and wait up to ``timeout`` in all.

        Returns False (and logs the laggards) when some thread is still running at the deadline.
        """
        for poller in self._pollers:
            poller.request_stop()
        deadline = time.monotonic() + timeout
        laggards = [p.mapping for p in self._pollers if not p.join(max(deadline - time.monotonic(), 0.0))]
        if laggards:
            _log.warning("Event source pollers still running after stop", extra={"mappings": laggards})
        return not laggards

    def stats(self) -> dict[str, PollerStats]:
        """A snapshot of every mapping's counters, by mapping name."""
        return {poller.mapping: poller.stats() for poller in self._pollers}

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until every poller has, since this call, found nothing left to read and nothing in flight.

        Returns False at ``timeout``. A queue message waiting out its visibility timeout counts as work left.
        """
        since = time.monotonic()
        deadline = since + timeout
        while True:
            if all(poller.idle_since(since) for poller in self._pollers):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def __enter__(self) -> EventSourceRunner:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class _MappingPlan:
    function: FunctionSpec
    event_name: str
    settings: StreamMappingSettings | QueueMappingSettings

    @property
    def mapping(self) -> str:
        return f"{self.function.logical_id}.{self.event_name}"


def _mapping_plans(functions: Sequence[FunctionSpec]) -> list[_MappingPlan]:
    """Check every DynamoDB and SQS event (raising EventSourceConfigError) and keep the enabled ones."""
    plans = []
    for function in functions:
        for event in function.events:
            mapping = f"{function.logical_id}.{event.name}"
            settings: StreamMappingSettings | QueueMappingSettings
            if event.type == "DynamoDB":
                settings = stream_mapping_settings(mapping, event)
            elif event.type == "SQS":
                settings = queue_mapping_settings(mapping, event)
            else:
                continue  # Api events are served by the API emulation
            if settings.enabled:
                plans.append(_MappingPlan(function, event.name, settings))
            else:
                _log.info("Event source disabled in the template", extra={"mapping": mapping})
    return plans
