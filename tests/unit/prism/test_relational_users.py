from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prism.errors import ConfigurationError
from prism.relational.users import (
    APP_PRIVILEGES,
    AppUser,
    check_user_name,
    create_database,
    ensure_app_user,
    quoted_database,
)
from tests.unit.prism.fake_mysql import ScriptedConnection

PASSWORD = "s3cret'; DROP USER root; --"


def test_a_new_app_user_is_created_with_its_password_tls_and_exactly_the_projection_s_dml() -> None:
    connection = ScriptedConnection()

    revoked = ensure_app_user(connection, AppUser("prism_app", PASSWORD), "prism")

    assert revoked == []
    assert connection.statements == [
        ("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s REQUIRE SSL", ("prism_app", "%", PASSWORD)),
        ("ALTER USER %s@%s IDENTIFIED BY %s REQUIRE SSL", ("prism_app", "%", PASSWORD)),
        ("GRANT SELECT, INSERT, UPDATE, DELETE ON `prism`.* TO %s@%s", ("prism_app", "%")),
        (
            "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES"
            " WHERE GRANTEE = %s AND TABLE_SCHEMA = %s",
            ("'prism_app'@'%'", "prism"),
        ),
    ]


def test_the_password_is_only_ever_a_parameter_never_sql_text() -> None:
    connection = ScriptedConnection()

    ensure_app_user(connection, AppUser("prism_app", PASSWORD, host="127.0.0.1"), "prism")

    assert all(PASSWORD not in query for query in connection.sql)
    assert [args[2] for query, args in connection.statements if "IDENTIFIED BY" in query] == [PASSWORD, PASSWORD]


def test_privileges_beyond_the_dml_are_revoked_after_the_grant_and_the_grant_option_too() -> None:
    connection = ScriptedConnection(
        schema_privileges=[
            ("SELECT", "YES"),
            ("INSERT", "YES"),
            ("CREATE", "YES"),
            ("DROP", "YES"),
            ("CREATE VIEW", "YES"),
        ]
    )

    revoked = ensure_app_user(connection, AppUser("prism_app", "pw"), "prism_dev")

    assert revoked == ["CREATE", "CREATE VIEW", "DROP", "GRANT OPTION"]
    revokes = connection.sql[-4:]
    assert revokes == [f"REVOKE {p} ON `prism_dev`.* FROM %s@%s" for p in revoked]
    assert connection.sql.index("GRANT SELECT, INSERT, UPDATE, DELETE ON `prism_dev`.* TO %s@%s") < len(
        connection.sql
    ) - len(revokes), "the DML is granted before anything is revoked, so the sink never loses it"


def test_a_user_with_only_the_dml_has_nothing_revoked() -> None:
    connection = ScriptedConnection(schema_privileges=[(p, "NO") for p in APP_PRIVILEGES])

    assert ensure_app_user(connection, AppUser("prism_app", "pw"), "prism") == []
    assert not any(query.startswith("REVOKE") for query in connection.sql)


def test_a_privilege_name_that_is_not_plain_words_is_refused_rather_than_run() -> None:
    connection = ScriptedConnection(schema_privileges=[("DROP; GRANT ALL", "NO")])

    with pytest.raises(ConfigurationError, match="unexpected privilege names"):
        ensure_app_user(connection, AppUser("prism_app", "pw"), "prism")
    assert not any(query.startswith("REVOKE") for query in connection.sql)


def test_the_database_is_created_with_utf8mb4_only_when_missing() -> None:
    connection = ScriptedConnection()

    create_database(connection, "prism_dev")

    assert connection.sql == [
        "CREATE DATABASE IF NOT EXISTS `prism_dev` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ]


@pytest.mark.parametrize("name", ["", "a" * 33, "prism-app", "prism app", "x'@'%", "app`", "prìsm"])
def test_user_names_outside_the_pattern_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a database user name"):
        check_user_name(name)
    with pytest.raises(ConfigurationError):
        AppUser(name, "pw")


@pytest.mark.parametrize("name", ["", "d" * 65, "prism-dev", "a`b", "prism.x", "db; DROP"])
def test_database_names_outside_the_pattern_are_refused_before_any_statement(name: str) -> None:
    connection = ScriptedConnection()

    with pytest.raises(ConfigurationError, match="is not a database name"):
        ensure_app_user(connection, AppUser("prism_app", "pw"), name)
    with pytest.raises(ConfigurationError, match="is not a database name"):
        create_database(connection, name)
    assert connection.statements == []


@pytest.mark.parametrize("host", ["", "a'b", "h@st", "x y"])
def test_hosts_that_could_break_out_of_the_literal_are_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="is not an account host"):
        AppUser("prism_app", "pw", host=host)


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="password of database user prism_app is empty"):
        AppUser("prism_app", "")


def test_the_password_never_shows_in_the_user_s_repr() -> None:
    assert "hunter2" not in repr(AppUser("prism_app", "hunter2"))


@given(st.from_regex(r"[A-Za-z0-9_]{1,64}", fullmatch=True))
def test_every_valid_database_name_is_backquoted_as_is(name: str) -> None:
    assert quoted_database(name) == f"`{name}`"
