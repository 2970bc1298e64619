"""What `up` and `down` decide before any server runs: port conflicts, stale pid files, recycled pids."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prism_local.config import LocalConfig, Ports
from prism_local.stack.lifecycle import LocalStack, StackError, StackStatus
from prism_local.stack.pidfile import PidRecord, write_pid_file
from prism_local.stack.probes import port_problem
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A foreign server: something that is not ours, listening on a loopback port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def free_ports() -> Ports:
    return Ports(moto=free_port(), mariadb=free_port(), redis=free_port(), osmem=free_port())


def test_a_listening_port_is_a_conflict(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    assert port_problem("127.0.0.1", port) == "is already in use by another process"


def test_a_free_port_is_no_conflict() -> None:
    assert port_problem("127.0.0.1", free_port()) is None


def test_up_refuses_a_taken_port_before_starting_anything(tmp_path: Path, listener: socket.socket) -> None:
    taken = listener.getsockname()[1]
    ports = Ports(moto=free_port(), mariadb=free_port(), redis=taken, osmem=free_port())
    stack = LocalStack(LocalConfig(state_dir=tmp_path, ports=ports))

    with pytest.raises(StackError) as raised:
        stack.up()

    message = str(raised.value)
    assert f"port {taken}" in message
    assert "PRISM_REDIS_PORT" in message
    assert not list(tmp_path.glob("*.pid"))
    assert not stack.status().servers[0].running


def test_up_refuses_two_servers_on_one_port(tmp_path: Path) -> None:
    port = free_port()
    ports = Ports(moto=port, mariadb=free_port(), redis=free_port(), osmem=port)

    with pytest.raises(StackError, match=f"osmem and moto are both set to port {port}"):
        LocalStack(LocalConfig(state_dir=tmp_path, ports=ports)).up()


def test_a_stale_pid_file_is_reported_as_not_running_and_removed_by_down(tmp_path: Path) -> None:
    stack = LocalStack(LocalConfig(state_dir=tmp_path, ports=free_ports()))
    gone = int(Path("/proc/sys/kernel/pid_max").read_text())
    write_pid_file(tmp_path / "moto.pid", PidRecord(pid=gone, marker="moto.server"))
    messages: list[str] = []

    status = stack.status()
    stack.down(messages.append)

    assert status.server("moto").running is False
    assert status.server("moto").pid is None
    assert not (tmp_path / "moto.pid").exists()
    assert any("moto: removed a stale pid file" in m for m in messages)


def test_an_unreadable_pid_file_is_removed_by_down(tmp_path: Path) -> None:
    (tmp_path / "redis.pid").write_text("not a pid\n")
    messages: list[str] = []

    LocalStack(LocalConfig(state_dir=tmp_path, ports=free_ports())).down(messages.append)

    assert not (tmp_path / "redis.pid").exists()
    assert any("redis: removed an unreadable pid file" in m for m in messages)


def test_down_never_signals_a_pid_that_now_belongs_to_someone_else(tmp_path: Path) -> None:
    # Given a redis pid file whose pid was recycled for an unrelated process running elsewhere
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stranger = subprocess.Popen(["sleep", "30"], cwd=elsewhere)
    try:
        write_pid_file(tmp_path / "redis.pid", PidRecord(pid=stranger.pid, marker="sleep"))

        # When the stack is stopped
        LocalStack(LocalConfig(state_dir=tmp_path, ports=free_ports())).down()

        # Then the stranger lives on, and only the stale pid file is gone
        assert stranger.poll() is None
        assert not (tmp_path / "redis.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_down_without_a_state_dir_has_nothing_to_do(tmp_path: Path) -> None:
    messages: list[str] = []

    LocalStack(LocalConfig(state_dir=tmp_path / "never-created", ports=free_ports())).down(messages.append)

    assert messages == [f"nothing to stop: {tmp_path / 'never-created'} does not exist"]


def test_a_stack_is_ready_only_when_every_server_is() -> None:
    assert StackStatus(servers=()).all_ready is False


def test_moto_instance_id_needs_a_started_moto(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="prism stack up"):
        _ = LocalStack(LocalConfig(state_dir=tmp_path, ports=free_ports())).moto_instance_id
