"""Pid files of the private servers: which process a server is, recorded so a later command can stop it.

A pid file holds two lines: the pid, and a marker (a substring of the process's command line, such as
``mariadbd``) written when the process was started. The marker lets ``down`` tell our server from an
unrelated process that was given a recycled pid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    """What a pid file says: the process id and the marker its command line carried at start."""

    pid: int
    marker: str


class UnreadablePidFile(ValueError):
    """The pid file exists but does not hold a pid; it can only be removed."""


def write_pid_file(path: Path, record: PidRecord) -> None:
    """Write ``record`` atomically, so a concurrent reader never sees half a pid."""
    if record.pid <= 0 or not record.marker or "\n" in record.marker:
        raise ValueError(f"not a valid pid record: {record!r}")
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(f"{record.pid}\n{record.marker}\n", encoding="utf-8")
    partial.replace(path)


def read_pid_file(path: Path, default_marker: str) -> PidRecord | None:
    """The record in ``path``, or None when there is no pid file.

    A pid file with only a pid (written by hand, or by an older Prism) gets ``default_marker``.
    Raises UnreadablePidFile when the first line is not a positive integer.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if not first.isdigit() or int(first) <= 0:
        raise UnreadablePidFile(f"{path} does not start with a pid: {text[:40]!r}")
    marker = lines[1].strip() if len(lines) > 1 and lines[1].strip() else default_marker
    return PidRecord(pid=int(first), marker=marker)


def remove_pid_file(path: Path) -> None:
    """Remove ``path`` if it is there; a missing pid file is already the desired state."""
    path.unlink(missing_ok=True)
