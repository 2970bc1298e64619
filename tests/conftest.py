"""Fixtures shared by every tier. Unit tests must not touch the network; integration tests get real servers."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import boto3
import pytest
from hypothesis import settings

from prism_local.config import LocalConfig, Ports, local_session
from prism_local.stack.lifecycle import LocalStack
from tests.support.ports import free_port
from tests.support.stacks import provision_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"

# These machines are shared and noisy: an example that takes longer than hypothesis's 200 ms default is not a
# failure (timing belongs in bench/). Tests that need other settings still set their own.
settings.register_profile("prism", deadline=None)
settings.load_profile("prism")

# moto's in-process server logs every request; failures are easier to read without it.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (HTTP, in a thread of the test process) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    from prism_local.stack import moto_fidelity

    moto_fidelity.apply()

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws_session(moto_endpoint: str) -> boto3.Session:
    """A boto3 session with dummy credentials; create clients with ``endpoint_url=moto_endpoint``."""
    return local_session(REGION)


@pytest.fixture(scope="session")
def local_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalConfig]:
    """The private servers (moto, MariaDB, Redis, osmem) on free ports in a temporary state dir, for the
    whole session; a developer's own stack (.local/) is never touched."""
    config = LocalConfig(
        state_dir=tmp_path_factory.mktemp("local-stack"),
        ports=Ports(moto=free_port(), mariadb=free_port(), redis=free_port(), osmem=free_port()),
    )
    servers = LocalStack(config)
    servers.up()
    try:
        yield config
    finally:
        servers.down()


@pytest.fixture
def provisioned(local_servers: LocalConfig) -> LocalConfig:
    """template.yaml provisioned into the session's moto under a stack name of this test's own."""
    return provision_stack(local_servers)


def cli_environment(config: LocalConfig) -> dict[str, str]:
    """Variables that point the `prism` command at a test's stack."""
    return {
        **os.environ,
        "PRISM_STATE_DIR": str(config.state_dir),
        "PRISM_STACK_NAME": config.stack_name,
        "PRISM_MOTO_PORT": str(config.ports.moto),
        "PRISM_MARIADB_PORT": str(config.ports.mariadb),
        "PRISM_REDIS_PORT": str(config.ports.redis),
        "PRISM_OSMEM_PORT": str(config.ports.osmem),
    }
