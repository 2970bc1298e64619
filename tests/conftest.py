"""Fixtures shared by every tier. Unit tests must not touch the network; integration tests get real servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest

from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (HTTP, in a thread of the test process) on a free loopback port."""
    from moto.server import ThreadedMotoServer

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
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,  # noqa: S106
    )
