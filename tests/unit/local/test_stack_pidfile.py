"""Pid files: what ``down`` trusts when it decides which process to signal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from prism_local.stack.pidfile import (
    PidRecord,
    UnreadablePidFile,
    read_pid_file,
    remove_pid_file,
    write_pid_file,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_a_written_record_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "redis.pid"

    write_pid_file(path, PidRecord(pid=4242, marker="redis-server"))

    assert read_pid_file(path, default_marker="ignored") == PidRecord(pid=4242, marker="redis-server")
    assert path.read_text().splitlines()[0] == "4242"  # `kill $(head -1 redis.pid)` still works
    assert [p.name for p in tmp_path.iterdir()] == ["redis.pid"]  # no partial file left behind


def test_a_missing_pid_file_means_no_record(tmp_path: Path) -> None:
    assert read_pid_file(tmp_path / "moto.pid", default_marker="moto.server") is None


def test_a_pid_only_file_gets_the_default_marker(tmp_path: Path) -> None:
    path = tmp_path / "mariadb.pid"
    path.write_text("17\n")

    assert read_pid_file(path, default_marker="mariadbd") == PidRecord(pid=17, marker="mariadbd")


@pytest.mark.parametrize("content", ["", "\n", "moto\n", "-5\n", "0\n", "12abc\n"])
def test_a_pid_file_without_a_pid_is_unreadable(tmp_path: Path, content: str) -> None:
    path = tmp_path / "moto.pid"
    path.write_text(content)

    with pytest.raises(UnreadablePidFile, match=r"moto\.pid"):
        read_pid_file(path, default_marker="moto.server")


@pytest.mark.parametrize("record", [PidRecord(0, "x"), PidRecord(5, ""), PidRecord(5, "two\nlines")])
def test_an_invalid_record_is_never_written(tmp_path: Path, record: PidRecord) -> None:
    with pytest.raises(ValueError, match="not a valid pid record"):
        write_pid_file(tmp_path / "osmem.pid", record)


def test_removing_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "osmem.pid"
    write_pid_file(path, PidRecord(pid=99, marker="osmem-server"))

    remove_pid_file(path)
    remove_pid_file(path)

    assert not path.exists()
