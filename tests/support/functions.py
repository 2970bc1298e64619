"""A template function's code, run in-process with the environment the local runtime would give it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol, TypeVar

import pytest
from aws_lambda_powertools.utilities.parameters import clear_caches

from prism_local.runtime.environment import lambda_environment
from prism_local.runtime.esm.mapping_settings import queue_mapping_settings
from prism_local.runtime.local_runtime import LocalRuntime

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig
    from prism_local.runtime.esm.mapping_settings import QueueMappingSettings

T_co = TypeVar("T_co", covariant=True)


class CachedFactory(Protocol[T_co]):
    """A wiring factory: ``functools.lru_cache`` around a function of no arguments."""

    def __call__(self) -> T_co: ...
    def cache_clear(self) -> None: ...


def function_environment(config: LocalConfig, logical_id: str) -> dict[str, str]:
    """The variables the local runtime gives ``logical_id`` on ``config``'s provisioned stack."""
    with LocalRuntime(config) as runtime:
        return lambda_environment(runtime.function(logical_id), config.aws_environment())


@contextmanager
def built_in_process(config: LocalConfig, logical_id: str, factory: CachedFactory[T_co]) -> Iterator[T_co]:
    """What ``factory`` builds (a sink's processor) with ``logical_id``'s environment, in this process.

    The factory's cache and Powertools' parameter caches are cleared on the way in and out: Powertools keeps
    its secret cache (and the boto3 client behind it, bound to the moto endpoint it first saw) process-wide,
    and each stack's function must read its own stack's secrets.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in function_environment(config, logical_id).items():
            patch.setenv(name, value)
        factory.cache_clear()
        clear_caches()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        try:
            yield factory()
        finally:
            factory.cache_clear()
            clear_caches()  # type: ignore[no-untyped-call]


def queue_event_source(config: LocalConfig, logical_id: str) -> QueueMappingSettings:
    """``logical_id``'s SQS event source as template.yaml declares it (BatchSize, batching window, ...)."""
    with LocalRuntime(config) as runtime:
        function = runtime.function(logical_id)
    [source] = [event for event in function.events if event.type == "SQS"]
    return queue_mapping_settings(f"{logical_id}.{source.name}", source)
