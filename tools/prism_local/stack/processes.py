"""Starting server processes detached from the CLI, recognising them later, and stopping them by pid."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prism_local.stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Sequence

_PROC = Path("/proc")


def spawn_detached(name: str, argv: Sequence[str], *, cwd: Path, log_file: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with its output appended to ``log_file``.

    The new session keeps the server alive after the CLI exits and out of reach of the terminal's Ctrl-C;
    ``stop_processes`` later signals its whole process group.
    """
    try:
        with log_file.open("ab") as log:
            log.write(f"--- prism {_now()}: starting {shlex.join(argv)}\n".encode())
            log.flush()
            return subprocess.Popen(
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        raise StackError(f"{name}: could not run {argv[0]}: {exc} (log: {log_file})") from exc


def process_matches(pid: int, marker: str, home: Path) -> bool:
    """True when ``pid`` is alive, its command line contains ``marker`` and it works inside ``home``.

    Every private server runs with its data directory (``home`` or a directory below it) as working
    directory, so a recycled pid that now belongs to another program, or to a system server with the same
    binary, does not match. On Linux a process whose /proc entry we may not read never matches; on
    platforms without /proc only the command line (from ``ps``) is compared.
    """
    if pid <= 0 or not _alive(pid):
        return False
    if not _PROC.is_dir():
        return marker in _command_line_from_ps(pid)
    try:
        command_line = (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        cwd = Path(os.readlink(_PROC / str(pid) / "cwd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if marker not in command_line:
        return False
    home = home.resolve()
    return cwd == home or home in cwd.parents


def process_exited(pid: int, handle: subprocess.Popen[bytes] | None = None) -> bool:
    """True once ``pid`` has exited. Reaps it when it is our child, so it does not linger as a zombie."""
    if handle is not None:
        return handle.poll() is not None
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: ask the kernel whether the pid still exists
    else:
        return waited == pid
    return not _alive(pid)


@dataclass(frozen=True)
class StopTarget:
    """A verified server process to stop; ``handle`` is set when this process started it."""

    name: str
    pid: int
    handle: subprocess.Popen[bytes] | None = None


def stop_processes(targets: Sequence[StopTarget], *, grace: float = 10.0, kill_wait: float = 5.0) -> list[str]:
    """SIGTERM every target, wait up to ``grace`` seconds, then SIGKILL the ones still alive.

    Returns the names that had to be killed. Raises StackError naming the servers that survived SIGKILL
    too, since a server left running would hold its port and data directory.
    """
    for target in targets:
        _signal_group(target.pid, signal.SIGTERM)
    remaining = _wait_for_exit(targets, grace)
    for target in remaining:
        _signal_group(target.pid, signal.SIGKILL)
    survivors = _wait_for_exit(remaining, kill_wait)
    if survivors:
        names = ", ".join(f"{t.name} (pid {t.pid})" for t in survivors)
        raise StackError(f"could not stop {names}, even with SIGKILL; stop it by hand before starting again")
    return [t.name for t in remaining]


def _wait_for_exit(targets: Sequence[StopTarget], timeout: float) -> list[StopTarget]:
    deadline = time.monotonic() + timeout
    alive = [t for t in targets if not process_exited(t.pid, t.handle)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [t for t in alive if not process_exited(t.pid, t.handle)]
    return alive


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the server's process group (it leads one, see spawn_detached), or the pid alone otherwise."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass  # it exited between the check and the signal: that is what we wanted


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and has not exited, without reaping it (its Popen may still want to)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists and belongs to another user
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    if not _PROC.is_dir():
        return False  # no cheap way to tell without /proc; a zombie then counts as alive until reaped
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True  # it vanished after the liveness check
    # The state follows the parenthesised command name, which may itself contain spaces or parentheses.
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def _command_line_from_ps(pid: int) -> str:
    result = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False, timeout=5
    )
    return result.stdout.strip()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
