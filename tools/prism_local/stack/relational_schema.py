"""Creates a stack's database in the private MariaDB and applies the relational projection's migrations to it
(local only; on AWS the MigrationFunction applies them)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import pymysql  # PyMySQL ships no type information

from prism.relational.schema import MigrationError, apply_migrations
from prism_local.stack.errors import StackError
from prism_local.stack.mariadb import DATABASE, root_connection

if TYPE_CHECKING:
    from pathlib import Path

    from prism_local.config import LocalConfig

#: The template's DbName AllowedPattern; a name that matches needs no quoting beyond backticks.
DATABASE_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")


def migrate_local_database(config: LocalConfig, database: str = DATABASE) -> list[str]:
    """Create ``database`` if it is missing and apply the pending migrations to it, as root over TCP, the way
    the stack's clients connect; return the versions applied (``[]`` when it was up to date).

    Errors become StackError, so `prism stack up` reports them like any other failed step.
    """
    if not DATABASE_NAME.fullmatch(database):
        raise StackError(f"relational schema: {database!r} is not a database name ([A-Za-z0-9_], at most 64)")
    where = f"{database} on {config.host}:{config.ports.mariadb}"
    try:
        connection = root_connection(config)
        with connection:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            connection.select_db(database)
            return apply_migrations(connection)
    except MigrationError as exc:
        raise StackError(f"relational schema: {exc} ({where})") from exc
    except (pymysql.MySQLError, OSError) as exc:
        raise StackError(f"relational schema: could not migrate {where}: {exc}") from exc


def projection_source_file(config: LocalConfig) -> Path:
    """Records which moto instance the stack's database was projected from."""
    return config.state_dir / "stacks" / f"{config.stack_name}.projection-source"


def reset_stale_projection(config: LocalConfig, database: str, moto_instance_id: str) -> bool:
    """Drop the stack's own database when it was projected from another moto instance; True if it was.

    MariaDB keeps its data across `prism stack down`, moto does not: after a moto restart DynamoDB is empty,
    and rows projected from the old one would never match it again. The projection follows its source of
    truth, so it starts empty too (``migrate_local_database`` then recreates it). Only the database the stack
    owns (``config.database_name``) is ever reset, never one a DbName override points at.
    """
    record = projection_source_file(config)
    recorded = record.read_text(encoding="utf-8").strip() if record.exists() else None
    if recorded == moto_instance_id or database != config.database_name:
        return False
    if not DATABASE_NAME.fullmatch(database):
        raise StackError(f"relational schema: {database!r} is not a database name ([A-Za-z0-9_], at most 64)")
    try:
        connection = root_connection(config)
        with connection, connection.cursor() as cursor:
            dropped = cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
    except (pymysql.MySQLError, OSError) as exc:
        raise StackError(f"relational schema: could not reset {database}: {exc}") from exc
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(moto_instance_id + "\n", encoding="utf-8")
    return recorded is not None and dropped > 0
