"""``prism stack up|down|status``: the private servers started, checked and stopped as one stack.

The servers run detached from the command that starts them, so ``up`` returns while they keep running;
their pid files let a later ``down`` (from any process) find and stop them.
"""

from __future__ import annotations

import fcntl
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prism_local.stack.errors import StackError
from prism_local.stack.logs import log_size, log_tail
from prism_local.stack.pidfile import (
    PidRecord,
    UnreadablePidFile,
    read_pid_file,
    remove_pid_file,
    write_pid_file,
)
from prism_local.stack.probes import port_problem
from prism_local.stack.processes import (
    StopTarget,
    process_exited,
    process_matches,
    spawn_detached,
    stop_processes,
)
from prism_local.stack.servers import MotoServer, private_servers

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from prism_local.config import LocalConfig
    from prism_local.stack.private_server import LaunchPlan, PrivateServer
    from prism_local.stack.probes import Probe

__all__ = ["LocalStack", "ServerStatus", "StackError", "StackStatus"]

#: How long a started server gets to answer its readiness probe.
READY_TIMEOUT = 30.0
#: How long ``down`` waits after SIGTERM before it sends SIGKILL.
STOP_GRACE = 10.0
#: How long a command waits for another ``prism stack`` command on the same state dir to finish.
LOCK_TIMEOUT = 120.0


@dataclass(frozen=True)
class ServerStatus:
    """One server as ``status`` found it: ``running`` means our process is alive, ``ready`` that it answers."""

    name: str
    pid: int | None
    port: int
    running: bool
    ready: bool
    log_file: Path


@dataclass(frozen=True)
class StackStatus:
    """Every server of the stack, in a fixed order: moto, mariadb, redis, osmem."""

    servers: tuple[ServerStatus, ...]

    @property
    def all_ready(self) -> bool:
        return bool(self.servers) and all(server.ready for server in self.servers)

    def server(self, name: str) -> ServerStatus:
        """The status of the server called ``name``; KeyError for a name the stack does not run."""
        for server in self.servers:
            if server.name == name:
                return server
        raise KeyError(name)


class LocalStack:
    """The private servers (moto, MariaDB, Redis, osmem) of one state dir.

    ``up`` and ``down`` are idempotent and serialised across processes by a lock file in the state dir.
    """

    def __init__(
        self, config: LocalConfig, *, ready_timeout: float = READY_TIMEOUT, stop_grace: float = STOP_GRACE
    ) -> None:
        self._config = config
        self._state_dir = config.state_dir.resolve()
        self._servers = private_servers(config)
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        # Processes this object started, so stopping them also reaps them (no zombies in a long-lived caller).
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._children_lock = threading.Lock()

    @property
    def moto_instance_id(self) -> str:
        """A uuid written whenever moto is (re)started: when it changes, moto's in-memory state is new."""
        try:
            return self._moto_instance_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise StackError(f"moto is not running for {self._state_dir}; start it with `prism stack up`") from exc

    def up(self, progress: Callable[[str], None] | None = None) -> StackStatus:
        """Start every server that is not running, concurrently, and wait until all are ready.

        Servers already running and ready are left alone. Before anything starts, missing binaries and
        ports held by other processes are reported together. If a server fails, what this call started is
        stopped again and the StackError names the server and shows the end of its log.
        """
        report = _serialised(progress)
        self._drop_exited_children()
        for directory in (self._state_dir / "logs", *(server.data_dir for server in self._servers)):
            directory.mkdir(parents=True, exist_ok=True)
        with self._exclusive():
            running = {server.name: self._running_record(server, report, clean=True) for server in self._servers}
            plans = self._preflight([server for server in self._servers if running[server.name] is None])
            started: list[tuple[PrivateServer, subprocess.Popen[bytes]]] = []
            try:
                failures = self._bring_up_all(running, plans, started, report)
            except BaseException:
                self._roll_back(started, report)
                raise
            if failures:
                self._roll_back(started, report)
                raise StackError("\n".join(failures))
        return self.status()

    def down(self, progress: Callable[[str], None] | None = None) -> None:
        """Stop every server recorded in a pid file: SIGTERM, then SIGKILL after the grace period.

        A pid is signalled only if it is still our server (command line and working directory match);
        stale pid files are removed. Safe to call when nothing runs.
        """
        report = _serialised(progress)
        if not self._state_dir.is_dir():
            report(f"nothing to stop: {self._state_dir} does not exist")
            return
        self._drop_exited_children()
        with self._exclusive():
            targets: list[tuple[PrivateServer, StopTarget]] = []
            for server in self._servers:
                record = self._running_record(server, report, clean=True)
                if record is None:
                    report(f"{server.name}: not running")
                    continue
                report(f"{server.name}: stopping pid {record.pid}")
                targets.append((server, StopTarget(server.name, record.pid, self._child(server, record.pid))))
            try:
                killed = stop_processes([target for _, target in targets], grace=self._stop_grace)
                for name in killed:
                    report(f"{name}: still running {self._stop_grace:.0f} s after SIGTERM; killed it")
            finally:
                self._forget_stopped(targets, report)
            self._moto_instance_file.unlink(missing_ok=True)

    def status(self) -> StackStatus:
        """What runs now: each server's pid (if ours and alive) and whether it answers its probe."""
        found: list[ServerStatus] = []
        for server in self._servers:
            record = self._running_record(server, _ignore, clean=False)
            found.append(
                ServerStatus(
                    name=server.name,
                    pid=record.pid if record else None,
                    port=server.port,
                    running=record is not None,
                    ready=record is not None and server.probe().ready,
                    log_file=server.log_file,
                )
            )
        return StackStatus(servers=tuple(found))

    @property
    def _moto_instance_file(self) -> Path:
        return self._state_dir / "moto.instance"

    def _running_record(self, server: PrivateServer, report: Callable[[str], None], *, clean: bool) -> PidRecord | None:
        """The pid record of ``server`` if that process is alive and ours; with ``clean``, drop stale files."""
        try:
            record = read_pid_file(server.pid_file, server.default_marker)
        except UnreadablePidFile as exc:
            if clean:
                remove_pid_file(server.pid_file)
                report(f"{server.name}: removed an unreadable pid file ({exc})")
            return None
        if record is None:
            return None
        if process_matches(record.pid, record.marker, server.data_dir):
            return record
        if clean:
            remove_pid_file(server.pid_file)
            report(f"{server.name}: removed a stale pid file (pid {record.pid} is no {record.marker} of this stack)")
        return None

    def _preflight(self, to_start: list[PrivateServer]) -> dict[str, LaunchPlan]:
        """Launch plans for ``to_start``; raises StackError listing every missing binary and taken port."""
        problems: list[str] = []
        plans: dict[str, LaunchPlan] = {}
        ports: dict[int, str] = {}
        for server in self._servers:
            if server.port in ports:
                problems.append(
                    f"{server.name} and {ports[server.port]} are both set to port {server.port}; "
                    f"move one of them, e.g. with {server.port_variable}=<port>"
                )
            ports[server.port] = server.name
        for server in to_start:
            try:
                plans[server.name] = server.plan()
            except StackError as exc:
                problems.append(str(exc))
            held = port_problem(server.host, server.port)
            if held is not None:
                problems.append(
                    f"{server.name}: port {server.port} on {server.host} {held}. Stop whatever holds it, "
                    f"or move {server.name} to a free port with {server.port_variable}=<port>."
                )
        if problems:
            raise StackError("cannot start the local stack:\n" + "\n".join(f"  - {p}" for p in problems))
        return plans

    def _bring_up_all(
        self,
        running: dict[str, PidRecord | None],
        plans: dict[str, LaunchPlan],
        started: list[tuple[PrivateServer, subprocess.Popen[bytes]]],
        report: Callable[[str], None],
    ) -> list[str]:
        """Start or adopt every server in its own thread; returns the messages of the servers that failed.

        The first failure cancels the others' waits, so a server that dies at once does not make ``up``
        sit out another server's 30 s deadline before rolling back. An unexpected exception in a thread is
        re-raised here (after the others finish), not flattened into a message.
        """
        cancel = threading.Event()

        def bring_up(server: PrivateServer) -> None:
            try:
                record = running[server.name]
                if record is None:
                    self._start(server, plans[server.name], started, cancel, report)
                else:
                    self._adopt(server, record, cancel, report)
            except BaseException:
                cancel.set()
                raise

        with ThreadPoolExecutor(max_workers=len(self._servers), thread_name_prefix="prism-stack") as pool:
            futures = [pool.submit(bring_up, server) for server in self._servers]
            try:
                wait(futures)
            except BaseException:
                cancel.set()  # e.g. Ctrl-C: stop waiting for readiness so the rollback can run
                raise
        errors = [error for future in futures if (error := future.exception()) is not None]
        for error in errors:
            if not isinstance(error, StackError):
                raise error
        return [str(error) for error in errors if not isinstance(error, _Cancelled)]

    def _start(
        self,
        server: PrivateServer,
        plan: LaunchPlan,
        started: list[tuple[PrivateServer, subprocess.Popen[bytes]]],
        cancel: threading.Event,
        report: Callable[[str], None],
    ) -> None:
        log_offset = log_size(server.log_file)
        server.prepare(plan, report)
        if cancel.is_set():
            raise _Cancelled(server.name)
        began = time.monotonic()
        process = spawn_detached(server.name, plan.argv, cwd=server.data_dir, log_file=server.log_file)
        with self._children_lock:
            started.append((server, process))  # recorded first, so a rollback stops it whatever happens next
            self._children[server.name] = process
        write_pid_file(server.pid_file, PidRecord(pid=process.pid, marker=plan.marker))
        report(f"{server.name}: started pid {process.pid} on {server.host}:{server.port}")
        self._wait_until_ready(
            server, process.pid, process, probe=server.startup_probe, cancel=cancel, log_offset=log_offset
        )
        server.after_start()
        if isinstance(server, MotoServer):
            self._write_moto_instance()
        report(f"{server.name}: ready in {time.monotonic() - began:.1f} s")

    def _adopt(
        self, server: PrivateServer, record: PidRecord, cancel: threading.Event, report: Callable[[str], None]
    ) -> None:
        """Keep a server that is already running; wait for it if it is still starting up."""
        if server.probe().ready:
            report(f"{server.name}: already running (pid {record.pid}) on {server.host}:{server.port}")
        else:
            report(f"{server.name}: running (pid {record.pid}) but not answering yet; waiting")
            child = self._child(server, record.pid)
            self._wait_until_ready(
                server, record.pid, child, probe=server.probe, cancel=cancel, log_offset=0, adopted=True
            )
        if isinstance(server, MotoServer) and not self._moto_instance_file.exists():
            self._write_moto_instance()  # unknown history: callers must treat moto's state as new

    def _wait_until_ready(
        self,
        server: PrivateServer,
        pid: int,
        handle: subprocess.Popen[bytes] | None,
        *,
        probe: Callable[[], Probe],
        cancel: threading.Event,
        log_offset: int,
        adopted: bool = False,
    ) -> None:
        deadline = time.monotonic() + self._ready_timeout
        # A server this call started is stopped by the rollback; one it found running is left to the user.
        hint = " `prism stack down` stops it, and `prism stack up` then starts it afresh." if adopted else ""
        while True:
            answer = probe()
            if answer.ready:
                return
            if process_exited(pid, handle):
                status = f" with status {handle.returncode}" if handle is not None else ""
                raise StackError(
                    f"{server.name} (pid {pid}) exited{status} before it was ready. "
                    f"Last lines of {server.log_file}:\n{log_tail(server.log_file, since=log_offset)}"
                )
            if time.monotonic() >= deadline:
                raise StackError(
                    f"{server.name} (pid {pid}) did not become ready on {server.host}:{server.port} within "
                    f"{self._ready_timeout:.0f} s ({answer.detail}).{hint} "
                    f"Last lines of {server.log_file}:\n{log_tail(server.log_file, since=log_offset)}"
                )
            if cancel.wait(0.1):
                raise _Cancelled(server.name)

    def _roll_back(
        self, started: list[tuple[PrivateServer, subprocess.Popen[bytes]]], report: Callable[[str], None]
    ) -> None:
        """Stop what a failed ``up`` started, so nothing it began outlives it."""
        if not started:
            return
        report("stopping the servers this attempt started: " + ", ".join(server.name for server, _ in started))
        targets = [(server, StopTarget(server.name, process.pid, process)) for server, process in started]
        try:
            stop_processes([target for _, target in targets], grace=self._stop_grace)
        finally:
            self._forget_stopped(targets, report)
            if any(isinstance(server, MotoServer) for server, _ in started):
                self._moto_instance_file.unlink(missing_ok=True)

    def _forget_stopped(self, targets: list[tuple[PrivateServer, StopTarget]], report: Callable[[str], None]) -> None:
        """Remove the pid files of the targets that have exited; a survivor keeps its file for the next ``down``."""
        for server, target in targets:
            if not process_exited(target.pid, target.handle):
                continue
            remove_pid_file(server.pid_file)
            with self._children_lock:
                self._children.pop(server.name, None)
            report(f"{server.name}: stopped")

    def _drop_exited_children(self) -> None:
        """Forget (and reap) the processes this object started that have exited since, e.g. because a
        ``down`` in another process stopped them; a later ``up`` then starts fresh handles."""
        with self._children_lock:
            for name, child in list(self._children.items()):
                if child.poll() is not None:
                    del self._children[name]

    def _child(self, server: PrivateServer, pid: int) -> subprocess.Popen[bytes] | None:
        with self._children_lock:
            child = self._children.get(server.name)
        return child if child is not None and child.pid == pid else None

    def _write_moto_instance(self) -> None:
        partial = self._moto_instance_file.with_suffix(".partial")
        partial.write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
        partial.replace(self._moto_instance_file)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold ``state_dir/stack.lock`` so two ``prism stack`` commands never start the same server twice."""
        lock_path = self._state_dir / "stack.lock"
        deadline = time.monotonic() + LOCK_TIMEOUT
        with lock_path.open("a") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StackError(
                            f"another prism stack command has held {lock_path} for {LOCK_TIMEOUT:.0f} s; "
                            "wait for it to finish, or stop it"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class _Cancelled(StackError):
    """A server's start was abandoned because another server failed (or the user interrupted ``up``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: start cancelled")


def _serialised(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    """``progress`` made safe to call from the start threads (one message at a time); a no-op when None."""
    if progress is None:
        return _ignore
    lock = threading.Lock()

    def report(message: str) -> None:
        with lock:
            progress(message)

    return report


def _ignore(message: str) -> None:
    """Progress sink for callers that asked for none."""
