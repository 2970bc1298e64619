"""The private server stack for real: moto, MariaDB, Redis and osmem started, adopted and stopped."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pymysql
import pytest

from prism_local.config import LocalConfig, Ports
from prism_local.stack.lifecycle import LocalStack, StackError
from prism_local.stack.probes import port_problem
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def pid_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def config(tmp_path: Path) -> LocalConfig:
    ports = Ports(moto=free_port(), mariadb=free_port(), redis=free_port(), osmem=free_port())
    return LocalConfig(state_dir=tmp_path, ports=ports)


@pytest.fixture
def stack(config: LocalConfig) -> Iterator[LocalStack]:
    """A stack that is stopped after the test whatever happened in it."""
    stack = LocalStack(config)
    yield stack
    stack.down()


def assert_nothing_left(config: LocalConfig, pids: list[int]) -> None:
    assert [pid for pid in pids if not pid_is_gone(pid)] == []
    ports = config.ports
    for port in (ports.moto, ports.mariadb, ports.redis, ports.osmem):
        assert port_problem(config.host, port) is None, f"port {port} is still taken"
    assert sorted(config.state_dir.glob("*.pid")) == []


def test_up_is_idempotent_and_down_leaves_nothing_running(config: LocalConfig, stack: LocalStack) -> None:
    messages: list[str] = []

    cold = stack.up(messages.append)
    first_moto = stack.moto_instance_id
    warm = stack.up(messages.append)

    assert cold.all_ready, cold
    assert [s.name for s in cold.servers] == ["moto", "mariadb", "redis", "osmem"]
    assert [s.pid for s in warm.servers] == [s.pid for s in cold.servers]
    assert stack.moto_instance_id == first_moto  # the same moto, so the same in-memory state
    assert LocalStack(config).status() == warm  # another process sees what this one started
    assert sum("already running" in m for m in messages) == 4

    # root logs in over TCP and the prism database exists
    connection = pymysql.connect(host="127.0.0.1", port=config.ports.mariadb, user="root", password="")
    with connection, connection.cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE 'prism'")
        assert cursor.fetchall() == (("prism",),)

    pids = [s.pid for s in warm.servers if s.pid is not None]
    LocalStack(config).down()  # from pid files alone, as `prism stack down` in a new process does

    assert_nothing_left(config, pids)
    after = stack.status()
    assert not any(s.running or s.ready for s in after.servers)

    again = stack.up()
    assert again.all_ready
    assert stack.moto_instance_id != first_moto  # a restarted moto is a new, empty moto
    pids = [s.pid for s in again.servers if s.pid is not None]
    stack.down()
    assert_nothing_left(config, pids)


def test_a_foreign_socket_on_a_port_stops_up_before_anything_starts(config: LocalConfig, stack: LocalStack) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as foreign:
        foreign.bind(("127.0.0.1", config.ports.mariadb))
        foreign.listen()

        with pytest.raises(StackError) as raised:
            stack.up()

    message = str(raised.value)
    assert f"port {config.ports.mariadb}" in message
    assert "PRISM_MARIADB_PORT" in message
    assert not any(s.running for s in stack.status().servers)
    assert_nothing_left(config, [])


def test_a_server_that_fails_to_start_takes_the_others_down_with_it(
    config: LocalConfig, stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken-osmem"
    broken.write_text("#!/bin/sh\necho 'osmem stand-in failing on purpose' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("OSMEM_SERVER_BIN", str(broken))  # osmem_server.resolve_binary honours it
    messages: list[str] = []

    with pytest.raises(StackError) as raised:
        stack.up(messages.append)

    message = str(raised.value)
    assert "osmem" in message
    assert "exited with status 3" in message
    assert "failing on purpose" in message  # the tail of its log
    started = [int(m.split("pid ")[1].split()[0]) for m in messages if ": started pid " in m]
    assert started  # the others started too, or were cancelled before they did
    assert_nothing_left(config, started)
