"""Migration files: discovery, version order, checksums and statement splitting. Pure; no database.

A migration is a file ``V<number>__<description>.sql`` in ``migrations/`` (``V0001__projection_tables.sql``).
Its version is the number as written (``0001``), ordered by value. Statements end with ``;`` at the end of
a line; whole-line ``--`` comments and blank lines are dropped. A ``;`` that ends a line inside a string
literal would split the statement there, so write no such literal.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from prism.errors import PrismError

#: The migrations that ship with the layer (SAM copies shared/ as is).
MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")

FILE_NAME: Final = re.compile(r"^V(?P<version>[0-9]{1,32})__(?P<description>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql$")


class MigrationError(PrismError):
    """The migrations cannot be applied as they are: a badly named or edited file, or a file that failed."""


@dataclass(frozen=True)
class Migration:
    version: str  # as written in the file name, e.g. "0001"
    description: str
    path: Path
    checksum: str  # sha256 of the file's bytes, hex
    statements: tuple[str, ...]

    @property
    def number(self) -> int:
        return int(self.version)


def split_statements(sql: str, *, source: str = "<sql>") -> tuple[str, ...]:
    """The statements of a migration file, without their ``;``, in file order.

    A file whose last statement lacks its ``;`` is refused: it is more often a truncated file (or a
    ``; -- comment`` that hides the terminator) than an intended one.
    """
    statements: list[str] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(sql.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        if not current:
            start = number
        current.append(line.rstrip())
        if stripped.endswith(";"):
            statement = "\n".join(current).rstrip()[:-1].rstrip()
            if not statement:
                raise MigrationError(f"{source}, line {number}: empty statement")
            statements.append(statement)
            current = []
    if current:
        raise MigrationError(f"{source}, line {start}: the statement starting here does not end with ';' at a line end")
    return tuple(statements)


def parse_name(path: Path) -> tuple[str, str]:
    """(version, description) from a file name, or a MigrationError that shows the expected form."""
    match = FILE_NAME.match(path.name)
    if match is None:
        raise MigrationError(
            f"{path.name}: a migration file is named V<number>__<description>.sql with a lowercase "
            "description of letters, digits and single underscores (e.g. V0003__order_indexes.sql)"
        )
    return match["version"], match["description"]


def load_migration(path: Path) -> Migration:
    """One migration file, read, checksummed and split into statements."""
    version, description = parse_name(path)
    content = path.read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationError(f"{path.name}: not UTF-8 text: {exc}") from exc
    statements = split_statements(text, source=path.name)
    if not statements:
        raise MigrationError(f"{path.name}: holds no statement")
    return Migration(
        version=version,
        description=description,
        path=path,
        checksum=hashlib.sha256(content).hexdigest(),
        statements=statements,
    )


def discover(directory: Path = MIGRATIONS_DIR) -> tuple[Migration, ...]:
    """Every ``*.sql`` file in ``directory``, in version order. Other files are ignored; two files with one
    version number (``V1__a.sql`` and ``V0001__b.sql``) are refused, as their order would be a guess."""
    if not directory.is_dir():
        raise MigrationError(f"{directory}: no such migrations directory")
    migrations = sorted((load_migration(path) for path in directory.glob("*.sql")), key=lambda m: m.number)
    for earlier, later in itertools.pairwise(migrations):
        if earlier.number == later.number:
            raise MigrationError(f"{earlier.path.name} and {later.path.name} have the same version number")
    return tuple(migrations)
