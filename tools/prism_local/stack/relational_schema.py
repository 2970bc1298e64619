"""Applies the relational projection's migrations to the private MariaDB's ``prism`` database (local only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pymysql  # PyMySQL ships no type information

from prism.relational.schema import MigrationError, apply_migrations
from prism_local.stack.errors import StackError
from prism_local.stack.mariadb import DATABASE

if TYPE_CHECKING:
    from prism_local.config import LocalConfig


def migrate_local_database(config: LocalConfig, database: str = DATABASE) -> list[str]:
    """Apply the pending migrations as root over TCP, the way the stack's clients connect; return them.

    Errors become StackError, so `prism stack up` reports them like any other failed step.
    """
    where = f"{database} on {config.host}:{config.ports.mariadb}"
    try:
        connection = pymysql.connect(
            host=config.host, port=config.ports.mariadb, user="root", password="", database=database, connect_timeout=5
        )
        with connection:
            return apply_migrations(connection)
    except MigrationError as exc:
        raise StackError(f"relational schema: {exc} ({where})") from exc
    except (pymysql.MySQLError, OSError) as exc:
        raise StackError(f"relational schema: could not migrate {where}: {exc}") from exc
