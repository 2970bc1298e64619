"""The relational functions' database user (the app user): created, kept in step with its secret, and given
exactly the projection's DML, by a user allowed to manage users (the cluster's admin on AWS, root locally).

The app user only reads and writes rows: ``SELECT, INSERT, UPDATE, DELETE`` on its database, nothing else.
Schema changes are the migrations' business, and they run as the admin (see ``custom_resource``), so a
leaked app credential can neither drop nor alter a table.

- **Password.** Always set to the secret's current one (``ALTER USER``, also right after ``CREATE USER IF NOT
  EXISTS``, which leaves an existing user's password alone), so a deploy after a manual change of the secret
  puts it back in step. The password is only ever a statement parameter, never part of the SQL text or a log.
- **TLS.** The user is ``REQUIRE SSL``: a client that forgets TLS is refused, locally as on AWS.
- **Extra privileges.** Privileges on the database beyond the four (say DDL, which this user had before the
  migrations moved to the admin) are revoked, one by one and only after the four are granted, so the sink
  never loses a privilege it uses. Global and table-level grants are left alone: nothing here gives them,
  so they are an operator's decision.

Every statement works on Aurora MySQL 8 and MariaDB 10.11. Identifiers are validated, and the database name
is backquoted; user and host names go as string literals (``'prism_app'@'%'``), which both servers accept.
Note that ``_`` in a database-level grant is a LIKE wildcard for MySQL (``prism_dev`` also matches
``prismXdev``); escaping it as ``\\_`` would change meaning with ``partial_revokes``, so the name stays as is:
at worst the four DML privileges reach a look-alike database name, never more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from prism.errors import ConfigurationError

if TYPE_CHECKING:
    from prism.relational.schema import Connection, Cursor

#: What the app user may do in its database, and all it may do.
APP_PRIVILEGES: Final = ("SELECT", "INSERT", "UPDATE", "DELETE")

USER_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,32}")  # the template's DbUser pattern (MySQL allows 32)
DATABASE_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")  # the template's DbName pattern
#: A host name, IP address or pattern (``%``, ``10.0.%``) of an account; no quote can get through.
ACCOUNT_HOST: Final = re.compile(r"[A-Za-z0-9_.%:-]{1,255}")
#: Any host: on AWS the app user logs in through RDS Proxy, whose addresses are not known in advance.
ANY_HOST: Final = "%"
_PRIVILEGE_NAME: Final = re.compile(r"[A-Z]+(?: [A-Z]+)*")  # as information_schema names them: "CREATE VIEW"


@dataclass(frozen=True)
class AppUser:
    """The app user's account and the password from its secret; the password never shows in a repr."""

    name: str
    password: str = field(repr=False)
    host: str = ANY_HOST

    def __post_init__(self) -> None:
        check_user_name(self.name)
        if not ACCOUNT_HOST.fullmatch(self.host):
            raise ConfigurationError(f"{self.host!r} is not an account host (letters, digits and _.%:-)")
        if not self.password:
            raise ConfigurationError(f"the password of database user {self.name} is empty")


def check_user_name(name: str) -> str:
    """``name`` when it is a user name Prism accepts (``[A-Za-z0-9_]``, at most 32), else ConfigurationError."""
    if not USER_NAME.fullmatch(name):
        raise ConfigurationError(f"{name!r} is not a database user name ([A-Za-z0-9_], at most 32 characters)")
    return name


def quoted_database(name: str) -> str:
    """``name`` backquoted for SQL, after checking it is a database name (``[A-Za-z0-9_]``, at most 64)."""
    if not DATABASE_NAME.fullmatch(name):
        raise ConfigurationError(f"{name!r} is not a database name ([A-Za-z0-9_], at most 64 characters)")
    return f"`{name}`"


def create_database(connection: Connection, database: str) -> None:
    """Create ``database`` (utf8mb4) unless it exists; an existing one is left exactly as it is."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE IF NOT EXISTS {quoted_database(database)}"
            " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )


def ensure_app_user(connection: Connection, user: AppUser, database: str) -> list[str]:
    """Make ``user`` exist with its password and ``REQUIRE SSL``, grant it ``APP_PRIVILEGES`` on ``database``,
    and revoke any other privilege it holds on that database; return what was revoked (``GRANT OPTION``
    included), ``[]`` when nothing was. Idempotent; the connection's user needs CREATE USER and GRANT OPTION."""
    target = quoted_database(database)
    account = (user.name, user.host)
    with connection.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s REQUIRE SSL", (*account, user.password))
        cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s REQUIRE SSL", (*account, user.password))
        cursor.execute(f"GRANT {', '.join(APP_PRIVILEGES)} ON {target}.* TO %s@%s", account)
        extra = _extra_privileges(cursor, user, database)
        for privilege in extra:
            cursor.execute(f"REVOKE {privilege} ON {target}.* FROM %s@%s", account)
    return extra


def _extra_privileges(cursor: Cursor, user: AppUser, database: str) -> list[str]:
    """The user's privileges on ``database`` (its database-level grant) beyond APP_PRIVILEGES, in a stable order."""
    cursor.execute(
        "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES"
        " WHERE GRANTEE = %s AND TABLE_SCHEMA = %s",
        (f"'{user.name}'@'{user.host}'", database),  # both validated: no quote inside
    )
    rows = cursor.fetchall()
    extra = sorted({str(kind) for kind, _ in rows} - set(APP_PRIVILEGES))
    unexpected = [kind for kind in extra if not _PRIVILEGE_NAME.fullmatch(kind)]
    if unexpected:  # information_schema names privileges in capitals and spaces; anything else is not SQL to run
        raise ConfigurationError(f"unexpected privilege names for {user.name} on {database}: {unexpected}")
    if any(str(grantable).upper() == "YES" for _, grantable in rows):
        extra.append("GRANT OPTION")
    return extra
