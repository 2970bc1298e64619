"""A scripted stand-in for a pymysql connection: records every statement with its parameters, and answers the
few queries the migrator and ``prism.relational.users`` read from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScriptedConnection:
    """``current_user`` answers CURRENT_USER(); ``schema_privileges`` are the (PRIVILEGE_TYPE, IS_GRANTABLE)
    rows information_schema holds for the grantee asked about; ``recorded`` the schema_migrations rows."""

    current_user: str = "prism_admin@%"
    schema_privileges: list[tuple[str, str]] = field(default_factory=list)
    recorded: list[tuple[str, str]] = field(default_factory=list)
    database: str | None = None
    statements: list[tuple[str, Any]] = field(default_factory=list)
    _answer: Any = None

    def cursor(self) -> ScriptedConnection:
        return self

    def __enter__(self) -> ScriptedConnection:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def execute(self, query: str, args: Any = None) -> int:
        self.statements.append((" ".join(query.split()), args))
        if query == "SELECT CURRENT_USER()":
            self._answer = [(self.current_user,)]
        elif query == "SELECT DATABASE()":
            self._answer = [(self.database,)]
        elif "information_schema.SCHEMA_PRIVILEGES" in query:
            self._answer = list(self.schema_privileges)
        elif "information_schema.TABLES" in query:
            self._answer = [(0,)]
        elif query.startswith("SELECT version, checksum"):
            self._answer = list(self.recorded)
        else:
            self._answer = []
        return len(self._answer)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._answer[0] if self._answer else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._answer)

    def select_db(self, db: str) -> None:
        self.statements.append((f"<select_db {db}>", None))
        self.database = db

    def begin(self) -> None:
        return None

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    @property
    def sql(self) -> list[str]:
        return [query for query, _ in self.statements]
