"""The API as `prism start-api` runs it: template.yaml provisioned under a stack of the module's own, the real
runtime, the API Gateway server on a free port and the event-source pollers (fanout, cache sink) beside it."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from prism_local.config import REPO_ROOT
from prism_local.runtime.api_gateway import ApiGatewayServer
from prism_local.stack.control import stack_up
from tests.support.http import ApiClient
from tests.support.pipeline import running_pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prism_local.config import LocalConfig
    from prism_local.runtime.esm import EventSourceRunner
    from prism_local.runtime.local_runtime import LocalRuntime
    from prism_local.template.model import ProvisionedStack

OPENAPI = REPO_ROOT / "docs" / "openapi.json"


@dataclass(frozen=True)
class RunningApi:
    """A served API and what stands behind it, for tests that also look past the HTTP interface."""

    url: str
    client: ApiClient
    config: LocalConfig
    runtime: LocalRuntime
    runner: EventSourceRunner

    @property
    def stack(self) -> ProvisionedStack:
        return self.runtime.stack


@contextlib.contextmanager
def serving_api(config: LocalConfig) -> Iterator[RunningApi]:
    """Provision ``config``'s stack, then serve its API with the pollers running; everything stops on exit
    (the server first, so no request is in flight when the pollers and execution environments go)."""
    stack_up(config)
    with running_pipeline(config) as (runtime, runner):
        server = ApiGatewayServer(runtime, port=0, openapi_file=OPENAPI)
        server.start()
        try:
            yield RunningApi(server.url, ApiClient(server.url), config, runtime, runner)
        finally:
            server.stop()


def stack_config(local_servers: LocalConfig, **overrides: object) -> LocalConfig:
    """The session's servers, under a stack name nobody else uses."""
    return local_servers.with_overrides(stack_name=f"e2e{uuid.uuid4().hex[:8]}", **overrides)


@pytest.fixture(scope="module")
def api(local_servers: LocalConfig) -> Iterator[RunningApi]:
    """One running API per test module (provisioning and cold starts are the slow part)."""
    with serving_api(stack_config(local_servers)) as running:
        yield running
