"""MariaDB, the local stand-in for Aurora MySQL: a private instance on its own port, socket and data dir."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymysql  # PyMySQL ships no type information
import pymysql.cursors

from prism_local.config import DEFAULT_DATABASE
from prism_local.stack.binaries import find_binary
from prism_local.stack.errors import StackError
from prism_local.stack.logs import log_size, log_tail
from prism_local.stack.private_server import LaunchPlan, PrivateServer
from prism_local.stack.probes import READY, Probe
from prism_local.stack.tls import TlsError, TlsFiles, ensure_server_tls

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from prism_local.config import LocalConfig

#: The default stack's database (other stacks get their own, see LocalConfig.database_name); created when
#: the server starts.
DATABASE = DEFAULT_DATABASE

#: A unix socket path must fit sun_path: 108 bytes including the terminating NUL.
SOCKET_PATH_LIMIT = 107

#: Written once mariadb-install-db has finished, so an interrupted install is redone rather than used.
INSTALLED_MARKER = ".prism-installed"


def root_connection(
    config: LocalConfig, database: str | None = None, *, dict_rows: bool = False, connect_timeout: float = 5
) -> Any:
    """root over TCP on the stack's MariaDB (no password, no TLS: the local stack's own access, never a
    function's), in autocommit, so every read sees what has been committed by then."""
    return pymysql.connect(
        host=config.host,
        port=config.ports.mariadb,
        user="root",
        password="",
        database=database,
        connect_timeout=connect_timeout,
        autocommit=True,
        cursorclass=pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor,
    )


def socket_path(state_dir: Path) -> Path:
    """Where mariadbd's unix socket goes: under the state dir, or under /tmp when that path is too long.

    Deep state dirs (pytest's temporary directories, for one) exceed the socket path limit; the fallback
    name is derived from the state dir, so each stack keeps its own socket.
    """
    preferred = state_dir / "mariadb" / "mariadbd.sock"
    if len(os.fsencode(preferred)) <= SOCKET_PATH_LIMIT:
        return preferred
    digest = hashlib.sha256(os.fsencode(state_dir)).hexdigest()[:16]
    # Not TMPDIR: it can be as deep as the state dir. /tmp keeps the path short on every platform.
    return Path("/tmp") / f"prism-mariadb-{digest}.sock"  # noqa: S108


def tls_files(state_dir: Path) -> TlsFiles:
    """The CA and server certificate of the stack's MariaDB, in ``state_dir/mariadb/tls/``.

    ``ca_certificate`` is what clients verify the server with (the template's ``DbCaBundle`` locally).
    """
    return TlsFiles(state_dir.resolve() / "mariadb" / "tls")


def install_db_argv(binary: str, datadir: Path) -> tuple[str, ...]:
    """mariadb-install-db for a private data dir: root logs in with a (empty) password, no test db."""
    return (
        binary,
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    )


def mariadbd_argv(
    binary: str,
    *,
    datadir: Path,
    host: str,
    port: int,
    socket: Path,
    pid_file: Path,
    run_as_root: bool,
    extra_options: Sequence[str] = (),
) -> tuple[str, ...]:
    """mariadbd's command line. ``--no-defaults`` keeps the system's my.cnf (and its port) out of it.

    mariadbd refuses to run as root unless told to with ``--user=root``. ``extra_options`` come last, so
    later options (TLS certificates, tuning) can be added without touching the base ones.
    """
    argv = [
        binary,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--port={port}",
        f"--bind-address={host}",
        f"--socket={socket}",
        f"--pid-file={pid_file}",
    ]
    if run_as_root:
        argv.append("--user=root")
    argv.extend(extra_options)
    return tuple(argv)


class MariaDbServer(PrivateServer):
    """mariadbd with its data in ``state_dir/mariadb/data``; root logs in without a password over TCP.

    TLS is on, with a certificate from the stack's own CA (``tls_files``), but not required globally: root
    and the probes connect as before, while the per-stack app users are created ``REQUIRE SSL``.
    """

    name = "mariadb"
    port_variable = "PRISM_MARIADB_PORT"
    default_marker = "mariadbd"

    @property
    def port(self) -> int:
        return self._config.ports.mariadb

    @property
    def datadir(self) -> Path:
        return self.data_dir / "data"

    @property
    def socket(self) -> Path:
        return socket_path(self._state_dir)

    @property
    def tls(self) -> TlsFiles:
        return tls_files(self._state_dir)

    def tls_names(self) -> tuple[str, ...]:
        """The names clients may verify the server as: localhost, 127.0.0.1 and the configured host."""
        return tuple(dict.fromkeys(("localhost", "127.0.0.1", self.host)))

    def server_options(self) -> tuple[str, ...]:
        """Options appended to mariadbd's base command line: the TLS CA, certificate and key."""
        tls = self.tls
        return (f"--ssl-ca={tls.ca_certificate}", f"--ssl-cert={tls.server_certificate}", f"--ssl-key={tls.server_key}")

    def plan(self) -> LaunchPlan:
        find_binary("mariadb-install-db", package="mariadb-server")  # needed by prepare on a fresh data dir
        argv = mariadbd_argv(
            find_binary("mariadbd", package="mariadb-server"),
            datadir=self.datadir,
            host=self.host,
            port=self.port,
            socket=self.socket,
            pid_file=self.data_dir / "mariadbd.pid",
            run_as_root=os.geteuid() == 0,
            extra_options=self.server_options(),
        )
        return LaunchPlan(argv=argv, marker=self.default_marker)

    def prepare(self, plan: LaunchPlan, progress: Callable[[str], None]) -> None:
        """Make sure the TLS files are there and valid, then create the system tables with mariadb-install-db
        (about 0.7 s) unless a finished install is there."""
        self.prepare_tls(progress)
        if (self.data_dir / INSTALLED_MARKER).exists():
            return
        progress(f"{self.name}: creating the data directory {self.datadir}")
        if self.datadir.exists():
            shutil.rmtree(self.datadir)  # left by an interrupted install; it cannot be trusted
        self.datadir.mkdir(parents=True)
        argv = install_db_argv(find_binary("mariadb-install-db", package="mariadb-server"), self.datadir)
        offset = log_size(self.log_file)
        with self.log_file.open("ab") as log:
            log.write(f"--- prism: {' '.join(argv)}\n".encode())
            log.flush()
            try:
                result = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise StackError(f"{self.name}: mariadb-install-db failed: {exc} (log: {self.log_file})") from exc
        if result.returncode != 0:
            raise StackError(
                f"{self.name}: mariadb-install-db exited with status {result.returncode}; "
                f"last lines of {self.log_file}:\n{log_tail(self.log_file, since=offset)}"
            )
        (self.data_dir / INSTALLED_MARKER).write_text("mariadb-install-db finished\n", encoding="utf-8")

    def prepare_tls(self, progress: Callable[[str], None]) -> None:
        """Generate the CA and server certificate that ``server_options`` names, or keep valid ones."""
        try:
            setup = ensure_server_tls(self.tls, self.tls_names())
        except TlsError as exc:
            raise StackError(f"{self.name}: TLS certificates: {exc}") from exc
        if setup.new_ca:
            progress(f"{self.name}: generated a local CA and a server certificate in {self.tls.directory}")
        elif setup.new_server_certificate:
            progress(f"{self.name}: issued a new server certificate from the CA in {self.tls.directory}")

    def probe(self) -> Probe:
        """Ready when root can log in over TCP, the way every client of the local stack connects."""
        try:
            connection = pymysql.connect(host=self.host, port=self.port, user="root", password="", connect_timeout=1)
        except (pymysql.MySQLError, OSError) as exc:
            return Probe(ready=False, detail=f"root login to {self.host}:{self.port} failed: {exc}")
        connection.close()
        return READY

    def startup_probe(self) -> Probe:
        """A fresh server is ready for ``after_start`` once its unix socket accepts root."""
        if not self.socket.exists():
            # mariadbd creates the socket when it starts listening. Waiting for it also spares PyMySQL
            # 1.2, which leaks its socket object when a unix-socket connect fails.
            return Probe(ready=False, detail=f"{self.socket} does not exist yet")
        try:
            connection = pymysql.connect(unix_socket=str(self.socket), user="root", password="", connect_timeout=1)
        except (pymysql.MySQLError, OSError) as exc:
            return Probe(ready=False, detail=f"root login on {self.socket} failed: {exc}")
        connection.close()
        return READY

    def after_start(self) -> None:
        """Let root log in over TCP from ``host`` and create the ``prism`` database; both are idempotent.

        mariadb-install-db 10.11 already creates ``root@127.0.0.1``; the grant is repeated here (over the
        socket, which needs no TCP account) so a build that does not still works.
        """
        try:
            connection = pymysql.connect(
                unix_socket=str(self.socket), user="root", password="", connect_timeout=5, autocommit=True
            )
            with connection, connection.cursor() as cursor:
                cursor.execute("CREATE USER IF NOT EXISTS 'root'@%s", (self.host,))
                cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@%s WITH GRANT OPTION", (self.host,))
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
        except (pymysql.MySQLError, OSError) as exc:
            raise StackError(
                f"{self.name}: could not set up root@{self.host} and the {DATABASE} database "
                f"through {self.socket}: {exc} (log: {self.log_file})"
            ) from exc
        over_tcp = self.probe()
        if not over_tcp.ready:
            raise StackError(f"{self.name}: {over_tcp.detail} (log: {self.log_file})")
