"""Recognising our own server processes by pid, and stopping them; uses `sleep` as a stand-in server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from prism_local.stack.logs import log_size, log_tail
from prism_local.stack.processes import (
    StopTarget,
    process_exited,
    process_matches,
    spawn_detached,
    stop_processes,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


def unused_pid() -> int:
    """A pid no process can have: the kernel hands out pids below pid_max."""
    return int(Path("/proc/sys/kernel/pid_max").read_text())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    directory = tmp_path / "redis"
    directory.mkdir()
    return directory


@pytest.fixture
def sleeper(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = spawn_detached("sleeper", ["sleep", "30"], cwd=home, log_file=home.parent / "sleeper.log")
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_our_process_is_recognised_by_marker_and_working_directory(
    sleeper: subprocess.Popen[bytes], home: Path
) -> None:
    assert process_matches(sleeper.pid, "sleep", home)


def test_a_subdirectory_of_home_counts_as_home(tmp_path: Path) -> None:
    data = tmp_path / "mariadb" / "data"
    data.mkdir(parents=True)
    process = spawn_detached("sleeper", ["sleep", "30"], cwd=data, log_file=tmp_path / "s.log")
    try:
        assert process_matches(process.pid, "sleep", tmp_path / "mariadb")
    finally:
        process.kill()
        process.wait()


def test_a_recycled_pid_running_another_program_is_not_ours(sleeper: subprocess.Popen[bytes], home: Path) -> None:
    assert not process_matches(sleeper.pid, "mariadbd", home)


def test_the_same_program_in_another_directory_is_not_ours(sleeper: subprocess.Popen[bytes], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    assert not process_matches(sleeper.pid, "sleep", elsewhere)


def test_a_pid_that_does_not_exist_is_not_ours(home: Path) -> None:
    assert not process_matches(unused_pid(), "sleep", home)
    assert process_exited(unused_pid())


def test_an_exited_child_is_not_ours_even_before_it_is_reaped(home: Path) -> None:
    process = spawn_detached("quick", ["true"], cwd=home, log_file=home / "quick.log")
    # Wait for the zombie state itself (exited, not yet reaped): right after the fork, /proc may not show
    # `true` yet, so waiting for "no longer matches" could stop before the child even ran.
    stat = Path(f"/proc/{process.pid}/stat")
    deadline = time.monotonic() + 5
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)

    assert not process_matches(process.pid, "true", home)  # a zombie counts as gone
    assert process_exited(process.pid, process)
    assert process.returncode == 0


def test_stopping_sends_sigterm_first(sleeper: subprocess.Popen[bytes]) -> None:
    killed = stop_processes([StopTarget("sleeper", sleeper.pid, sleeper)], grace=5)

    assert killed == []
    assert sleeper.returncode == -15


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(home: Path) -> None:
    stubborn = spawn_detached(
        "stubborn", ["sh", "-c", "trap '' TERM; echo ready; sleep 30"], cwd=home, log_file=home / "stubborn.log"
    )
    while "ready" not in (home / "stubborn.log").read_text().splitlines():  # the line, not the log header
        time.sleep(0.01)

    killed = stop_processes([StopTarget("stubborn", stubborn.pid, stubborn)], grace=0.3)

    assert killed == ["stubborn"]
    assert stubborn.returncode == -9


def test_stopping_a_process_started_elsewhere_works_from_its_pid_alone(sleeper: subprocess.Popen[bytes]) -> None:
    stop_processes([StopTarget("sleeper", sleeper.pid)], grace=5)

    assert process_exited(sleeper.pid)


def test_the_log_records_each_start_and_its_tail_shows_only_the_latest(home: Path) -> None:
    log = home / "echo.log"
    first = spawn_detached("echo", ["echo", "first run"], cwd=home, log_file=log)
    first.wait()
    offset = log_size(log)
    second = spawn_detached("echo", ["echo", "second run"], cwd=home, log_file=log)
    second.wait()

    tail = log_tail(log, since=offset)

    assert "second run" in tail
    assert "first run" not in tail
    assert "starting echo 'second run'" in tail


def test_a_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "many.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))

    assert log_tail(log, lines=3).splitlines() == ["    line 97", "    line 98", "    line 99"]
    assert log_tail(tmp_path / "absent.log") == "    (no log file)"
