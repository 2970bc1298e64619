"""Command lines and file layout of the private servers, built without starting any of them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from osmem_server import OsmemError

from prism_local.config import LocalConfig, Ports
from prism_local.stack.binaries import find_binary
from prism_local.stack.errors import StackError
from prism_local.stack.mariadb import SOCKET_PATH_LIMIT, install_db_argv, mariadbd_argv, socket_path
from prism_local.stack.servers import MotoServer, OsmemServer, RedisServer, private_servers

PORTS = Ports(moto=14510, mariadb=13407, redis=16480, osmem=19210)


def config_in(state_dir: Path) -> LocalConfig:
    return LocalConfig(state_dir=state_dir, ports=PORTS)


def test_every_server_keeps_its_files_under_the_state_dir(tmp_path: Path) -> None:
    servers = private_servers(config_in(tmp_path))

    assert [s.name for s in servers] == ["moto", "mariadb", "redis", "osmem"]
    for server in servers:
        assert server.data_dir == tmp_path / server.name
        assert server.pid_file == tmp_path / f"{server.name}.pid"
        assert server.log_file == tmp_path / "logs" / f"{server.name}.log"
        assert server.port_variable == f"PRISM_{server.name.upper()}_PORT"


def test_moto_runs_from_this_interpreter_on_its_port(tmp_path: Path) -> None:
    plan = MotoServer(config_in(tmp_path)).plan()

    assert plan.argv == (sys.executable, "-m", "prism_local.stack.moto_entry", "-H", "127.0.0.1", "-p", "14510")
    assert plan.marker == "prism_local.stack.moto_entry"


def test_redis_runs_without_persistence_in_its_data_dir(tmp_path: Path) -> None:
    plan = RedisServer(config_in(tmp_path)).plan()

    assert Path(plan.argv[0]).name == "redis-server"
    assert plan.argv[1:] == (
        "--port", "16480", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(tmp_path / "redis"), "--daemonize", "no",
    )  # fmt: skip


def test_osmem_listens_on_its_port_and_ignores_its_closed_stdin(tmp_path: Path) -> None:
    plan = OsmemServer(config_in(tmp_path), binary_resolver=lambda: "/opt/osmem/bin/osmem-server").plan()

    assert plan.argv == ("/opt/osmem/bin/osmem-server", "-addr", "127.0.0.1:19210", "-no-stdin-watch")
    assert plan.marker == "osmem-server"


def test_osmem_without_a_binary_for_the_platform_says_to_use_a_real_opensearch(tmp_path: Path) -> None:
    def no_binary() -> str:
        raise OsmemError("osmem: no server binary bundled for linux/aarch64")

    with pytest.raises(StackError, match="real OpenSearch") as raised:
        OsmemServer(config_in(tmp_path), binary_resolver=no_binary).plan()

    assert "linux/aarch64" in str(raised.value)


def test_mariadbd_ignores_system_defaults_and_binds_loopback(tmp_path: Path) -> None:
    argv = mariadbd_argv(
        "/usr/sbin/mariadbd",
        datadir=tmp_path / "data",
        host="127.0.0.1",
        port=13407,
        socket=tmp_path / "m.sock",
        pid_file=tmp_path / "m.pid",
        run_as_root=False,
    )

    assert argv == (
        "/usr/sbin/mariadbd",
        "--no-defaults",  # must come first, and keeps /etc/mysql/my.cnf's port and socket out
        f"--datadir={tmp_path / 'data'}",
        "--port=13407",
        "--bind-address=127.0.0.1",
        f"--socket={tmp_path / 'm.sock'}",
        f"--pid-file={tmp_path / 'm.pid'}",
    )


def test_mariadbd_as_root_says_so_and_extra_options_come_last(tmp_path: Path) -> None:
    tls = ("--ssl-ca=ca.pem", "--ssl-cert=server.pem", "--ssl-key=server.key")

    argv = mariadbd_argv(
        "mariadbd",
        datadir=tmp_path,
        host="127.0.0.1",
        port=1,
        socket=tmp_path / "s",
        pid_file=tmp_path / "p",
        run_as_root=True,
        extra_options=tls,
    )

    assert argv[0:2] == ("mariadbd", "--no-defaults")
    assert argv[-4:] == ("--user=root", *tls)


def test_mariadb_plan_uses_the_stack_layout(tmp_path: Path) -> None:
    server = private_servers(config_in(tmp_path))[1]

    argv = server.plan().argv

    assert f"--datadir={tmp_path / 'mariadb' / 'data'}" in argv
    assert "--port=13407" in argv
    assert ("--user=root" in argv) == (os.geteuid() == 0)


def test_install_db_creates_root_with_a_password_login_and_no_test_db(tmp_path: Path) -> None:
    assert install_db_argv("mariadb-install-db", tmp_path) == (
        "mariadb-install-db",
        "--no-defaults",
        f"--datadir={tmp_path}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    )


def test_a_short_state_dir_keeps_the_socket_inside_it() -> None:
    state_dir = Path("/srv/prism/.local")

    assert socket_path(state_dir) == state_dir / "mariadb" / "mariadbd.sock"


def test_a_deep_state_dir_moves_the_socket_to_a_short_path_of_its_own() -> None:
    deep = Path("/tmp/pytest-of-someone") / ("d" * 90) / "test_stack_lifecycle0"
    other = deep.with_name("test_stack_lifecycle1")

    fallback = socket_path(deep)

    assert len(os.fsencode(deep / "mariadb" / "mariadbd.sock")) > SOCKET_PATH_LIMIT
    assert len(os.fsencode(fallback)) <= SOCKET_PATH_LIMIT
    assert fallback.parent == Path("/tmp")
    assert socket_path(deep) == fallback  # stable: up and down find the same socket
    assert socket_path(other) != fallback  # and each stack has its own


def test_a_missing_binary_names_its_debian_package(tmp_path: Path) -> None:
    with pytest.raises(StackError) as raised:
        find_binary("mariadbd", package="mariadb-server", search_path=str(tmp_path), system_dirs=())

    message = str(raised.value)
    assert "mariadbd" in message
    assert "mariadb-server" in message
    assert "make up" in message


def test_a_binary_outside_path_is_found_in_the_system_dirs(tmp_path: Path) -> None:
    sbin = tmp_path / "sbin"
    sbin.mkdir()
    binary = sbin / "redis-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)

    found = find_binary("redis-server", package="redis-server", search_path="", system_dirs=(str(sbin),))

    assert found == str(binary)
