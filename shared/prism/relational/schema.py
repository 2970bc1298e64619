"""Applies the migration files to a MySQL database, in version order, once each, recorded in a table.

The caller hands over a pymysql connection with the target database selected (the sink's connection module
on AWS, the local stack's root connection locally). Only plain statements are sent: no SET, no user
variables, no LOCK, so an RDS Proxy connection is never pinned.

**Failures.** MySQL and MariaDB commit DDL implicitly, so a file cannot be applied atomically. Each file runs
in its own transaction (which holds any DML it has up to its next DDL) and its version is recorded right
after its last statement. When a statement fails, the statements before it stay applied and the version
stays unrecorded; the next run starts the file again from its first statement. That is why migrations are
written to be idempotent (``CREATE TABLE IF NOT EXISTS``, ``CREATE OR REPLACE VIEW``), and why a file that
failed may be fixed before the rerun, while a recorded file may never change.

**Concurrent runners** (two deploys at once) are tolerated without a lock: both may run an idempotent file,
and the second one's record insert hits the primary key and is taken as "applied by someone else".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

import pymysql

from prism.relational.migrations import MIGRATIONS_DIR, Migration, MigrationError, discover

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from types import TracebackType

__all__ = ["MIGRATIONS_TABLE", "Connection", "MigrationError", "apply_migrations"]

MIGRATIONS_TABLE: Final = "schema_migrations"

_CREATE_MIGRATIONS_TABLE: Final = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    checksum CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    applied_at DATETIME(6) NOT NULL,
    PRIMARY KEY (version)
) ENGINE = InnoDB
"""

_DUPLICATE_ENTRY: Final = 1062


class Cursor(Protocol):
    def execute(self, query: str, args: Sequence[Any] | None = None) -> int: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...
    def fetchall(self) -> Sequence[tuple[Any, ...]]: ...
    def __enter__(self) -> Cursor: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Connection(Protocol):
    """What the runner needs of a pymysql connection (with the default tuple cursor)."""

    def cursor(self) -> Cursor: ...
    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


def apply_migrations(connection: Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending migrations of ``directory`` to the connection's database; return their versions.

    Idempotent: a second run applies nothing and returns ``[]``. Refuses (MigrationError, nothing applied)
    when a recorded file was edited since it was applied, or when a new file sorts before one already
    applied, since either would leave databases whose schema depends on when they were migrated.
    """
    migrations = discover(directory)
    with connection.cursor() as cursor:
        cursor.execute("SELECT DATABASE()")
        row = cursor.fetchone()
        if row is None or row[0] is None:
            raise MigrationError("the connection has no database selected; connect with database=...")
        # Created only when missing: a user with DML only (the app user of a database its operator migrates)
        # may then check that nothing is pending, where even CREATE TABLE IF NOT EXISTS would be refused.
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (MIGRATIONS_TABLE,),
        )
        found = cursor.fetchone()
        if found is None or not found[0]:
            cursor.execute(_CREATE_MIGRATIONS_TABLE)
    applied = _recorded(connection)
    pending = _pending(migrations, applied)
    done: list[str] = []
    for migration in pending:
        if _apply(connection, migration):
            done.append(migration.version)
    return done


def _recorded(connection: Connection) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, checksum FROM {MIGRATIONS_TABLE}")  # noqa: S608  (a constant)
        rows = cursor.fetchall()
    connection.commit()  # end the read's transaction, so the files' own transactions start clean
    return {str(version): str(checksum) for version, checksum in rows}


def _pending(migrations: Sequence[Migration], applied: dict[str, str]) -> list[Migration]:
    """The migrations not yet recorded, after checking that the recorded ones are unchanged.

    A recorded version without a file is tolerated: it is what an older release sees after a newer one
    migrated (a rollback), and the newer schema is meant to stay compatible with it.
    """
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"{migration.path.name} was changed after it was applied (recorded checksum {recorded}, "
                f"file checksum {migration.checksum}); restore it and put the change in a new migration"
            )
    pending = [m for m in migrations if m.version not in applied]
    newest = max((int(v) for v in applied if v.isdigit()), default=None)
    if pending and newest is not None and pending[0].number < newest:
        raise MigrationError(
            f"{pending[0].path.name} sorts before the already applied version {newest}; "
            "give it a number after the newest applied migration"
        )
    return pending


def _apply(connection: Connection, migration: Migration) -> bool:
    """Run one file's statements and record it; False when another runner recorded it meanwhile."""
    connection.begin()
    try:
        with connection.cursor() as cursor:
            for index, statement in enumerate(migration.statements, start=1):
                try:
                    cursor.execute(statement)
                except pymysql.MySQLError as exc:
                    raise MigrationError(
                        f"{migration.path.name}: statement {index} of {len(migration.statements)} failed: {exc}. "
                        "Statements before it stay applied (DDL commits implicitly) and the version is not "
                        "recorded, so the next run starts this file again from its first statement."
                    ) from exc
            try:
                cursor.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, checksum, applied_at) "  # noqa: S608  (a constant)
                    "VALUES (%s, %s, UTC_TIMESTAMP(6))",
                    (migration.version, migration.checksum),
                )
            except pymysql.IntegrityError as exc:
                if exc.args and exc.args[0] == _DUPLICATE_ENTRY:
                    connection.rollback()
                    _check_recorded_by_other(connection, migration)
                    return False
                raise
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return True


def _check_recorded_by_other(connection: Connection, migration: Migration) -> None:
    recorded = _recorded(connection).get(migration.version)
    if recorded != migration.checksum:
        raise MigrationError(
            f"{migration.path.name} was applied concurrently by another runner with a different checksum "
            f"({recorded}); check which release migrated this database"
        )
