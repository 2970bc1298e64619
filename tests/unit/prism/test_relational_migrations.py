"""Migration files without a database: naming, order, checksums and statement splitting."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from prism.relational.migrations import MIGRATIONS_DIR, MigrationError, discover, parse_name, split_statements

if TYPE_CHECKING:
    from pathlib import Path


def write(directory: Path, name: str, sql: str = "CREATE TABLE IF NOT EXISTS t (id INT);\n") -> Path:
    path = directory / name
    path.write_text(sql, encoding="utf-8")
    return path


def test_the_shipped_migrations_load_in_version_order() -> None:
    migrations = discover(MIGRATIONS_DIR)

    assert [m.version for m in migrations][:2] == ["0001", "0002"]
    assert [m.description for m in migrations][:2] == ["projection_tables", "analytics_views"]
    assert all(m.statements for m in migrations)


def test_files_are_ordered_by_version_number_not_by_name(tmp_path: Path) -> None:
    write(tmp_path, "V10__later.sql")
    write(tmp_path, "V9__earlier.sql")
    write(tmp_path, "V0002__second.sql")
    (tmp_path / "README.md").write_text("not a migration")

    assert [m.version for m in discover(tmp_path)] == ["0002", "9", "10"]


@pytest.mark.parametrize(
    "name",
    ["0001__no_prefix.sql", "V0001_single_underscore.sql", "V0001__Upper.sql", "Vx__word.sql", "V0001__.sql"],
)
def test_a_badly_named_file_is_refused_with_the_expected_form(tmp_path: Path, name: str) -> None:
    write(tmp_path, name)

    with pytest.raises(MigrationError, match=r"V<number>__<description>\.sql") as raised:
        discover(tmp_path)
    assert name in str(raised.value)


def test_two_files_with_one_version_number_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "V1__a.sql")
    write(tmp_path, "V0001__b.sql")

    with pytest.raises(MigrationError, match="same version number"):
        discover(tmp_path)


def test_the_checksum_is_the_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "V1__a.sql")
    before = discover(tmp_path)[0].checksum

    path.write_text(path.read_text() + "-- a comment changes the checksum too\n")

    assert before == hashlib.sha256(b"CREATE TABLE IF NOT EXISTS t (id INT);\n").hexdigest()
    assert discover(tmp_path)[0].checksum != before


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no such migrations directory"):
        discover(tmp_path / "absent")


def test_statements_split_at_semicolons_that_end_a_line() -> None:
    sql = """-- a heading comment
CREATE TABLE a (
    id INT, -- an inline comment stays
    note VARCHAR(10) DEFAULT 'x;y'
);

  -- an indented comment
CREATE OR REPLACE VIEW v AS SELECT id FROM a;
"""
    assert split_statements(sql) == (
        "CREATE TABLE a (\n    id INT, -- an inline comment stays\n    note VARCHAR(10) DEFAULT 'x;y'\n)",
        "CREATE OR REPLACE VIEW v AS SELECT id FROM a",
    )


def test_a_last_statement_without_its_semicolon_is_refused_with_its_line() -> None:
    with pytest.raises(MigrationError, match=r"f\.sql, line 3: .*does not end with ';'"):
        split_statements("SELECT 1;\n\nSELECT 2; -- hides the terminator\n", source="f.sql")


def test_an_empty_statement_is_refused() -> None:
    with pytest.raises(MigrationError, match="line 2: empty statement"):
        split_statements("SELECT 1;\n;\n")


def test_a_file_with_only_comments_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "V1__nothing.sql", "-- nothing yet\n")

    with pytest.raises(MigrationError, match="holds no statement"):
        discover(tmp_path)


def test_parse_name_keeps_the_version_as_written(tmp_path: Path) -> None:
    assert parse_name(tmp_path / "V0007__add_index.sql") == ("0007", "add_index")
