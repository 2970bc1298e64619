"""The private MariaDB's TLS files, and each stack's database and user names, made without any server."""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
import stat
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, DEFAULT_STACK_NAME, REPO_ROOT, LocalConfig, Ports
from prism_local.stack.control import local_endpoint_parameters
from prism_local.stack.mariadb import MariaDbServer, tls_files
from prism_local.stack.relational_user import DatabaseCredentials, relational_target
from prism_local.stack.tls import (
    RENEW_BEFORE,
    SERVER_LIFETIME,
    TlsError,
    TlsFiles,
    ensure_server_tls,
    generate_ca,
    issue_server_certificate,
    load_ca,
    subject_alternative_names,
)
from prism_local.template.reader import Template

if TYPE_CHECKING:
    from pathlib import Path

PORTS = Ports(moto=14510, mariadb=13407, redis=16480, osmem=19210)
NAMES = ("localhost", "127.0.0.1")
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
TEMPLATE_DB_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")  # template.yaml's DbName and DbUser AllowedPatterns
TEMPLATE_DB_USER = re.compile(r"[A-Za-z0-9_]{1,32}")


def certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(files: TlsFiles) -> dict[str, bytes]:
    paths = (files.ca_certificate, files.ca_key, files.server_certificate, files.server_key)
    return {path.name: path.read_bytes() for path in paths}


def handshake(files: TlsFiles, server_hostname: str, *, ca: Path | None = None) -> None:
    """A TLS handshake in memory (no socket): the server presents ``files``' certificate, the client
    verifies it the way Python 3.13's default context does (strict X.509, host name checked)."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(files.server_certificate, files.server_key)
    client_context = ssl.create_default_context(cafile=ca or files.ca_certificate)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(client_in, to_server, server_hostname=server_hostname)
    server = server_context.wrap_bio(to_client, server_out, server_side=True)
    for _ in range(10):
        finished = True
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                finished = False
        to_client.write(to_server.read())
        client_in.write(server_out.read())
        if finished:
            return
    raise AssertionError("the in-memory handshake did not finish")


# ---------------------------------------------------------------------------------------------- certificates


def test_a_fresh_directory_gets_a_ca_and_a_server_certificate_it_signed(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")

    setup = ensure_server_tls(files, (*NAMES, "db.internal.example"), now=NOW)

    assert (setup.new_ca, setup.new_server_certificate) == (True, True)
    ca, server = certificate(files.ca_certificate), certificate(files.server_certificate)
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert sorted(subject_alternative_names(server)) == ["127.0.0.1", "db.internal.example", "localhost"]
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert server.not_valid_after_utc > NOW + RENEW_BEFORE


def test_key_files_are_private_and_certificates_readable(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")

    ensure_server_tls(files, NAMES, now=NOW)

    assert mode(files.ca_key) == 0o600
    assert mode(files.server_key) == 0o600
    assert mode(files.ca_certificate) == 0o644
    assert mode(files.server_certificate) == 0o644
    assert sorted(p.name for p in files.directory.iterdir()) == [
        "ca-key.pem",
        "ca.pem",
        "server-cert.pem",
        "server-key.pem",
    ]


def test_the_chain_passes_strict_verification_for_each_name(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    ca, server = certificate(files.ca_certificate), certificate(files.server_certificate)
    policy = PolicyBuilder().store(Store([ca])).time(NOW)

    for name in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        chain = policy.build_server_verifier(name).verify(server, [])
        assert chain[-1] == ca
    with pytest.raises(VerificationError):
        policy.build_server_verifier(x509.DNSName("db.elsewhere.example")).verify(server, [])


def test_pythons_default_client_context_accepts_the_server_by_name_and_by_ip(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES)  # real clock: the handshake checks validity against now

    handshake(files, "localhost")
    handshake(files, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(files, "db.elsewhere.example")


def test_a_ca_that_did_not_sign_the_certificate_is_refused(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES)
    stranger = TlsFiles(tmp_path / "other")
    generate_ca("Some other CA").save(stranger.ca_certificate, stranger.ca_key)

    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        handshake(files, "localhost", ca=stranger.ca_certificate)


def test_valid_files_are_reused_unchanged(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    before = snapshot(files)

    again = ensure_server_tls(files, ["127.0.0.1", "LOCALHOST."], now=NOW + datetime.timedelta(days=30))

    assert (again.new_ca, again.new_server_certificate) == (False, False)
    assert snapshot(files) == before


def test_a_server_certificate_with_a_day_left_is_reissued_from_the_same_ca(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    before = snapshot(files)
    almost_expired = NOW + SERVER_LIFETIME - RENEW_BEFORE

    again = ensure_server_tls(files, NAMES, now=almost_expired)

    assert (again.new_ca, again.new_server_certificate) == (False, True)
    assert files.ca_certificate.read_bytes() == before["ca.pem"]
    assert files.server_certificate.read_bytes() != before["server-cert.pem"]
    renewed = certificate(files.server_certificate)
    renewed.verify_directly_issued_by(certificate(files.ca_certificate))
    assert renewed.not_valid_after_utc > almost_expired + RENEW_BEFORE


def test_an_expiring_ca_is_replaced_with_its_server_certificate(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    before = snapshot(files)
    ca_end = certificate(files.ca_certificate).not_valid_after_utc

    again = ensure_server_tls(files, NAMES, now=ca_end - datetime.timedelta(hours=12))

    assert (again.new_ca, again.new_server_certificate) == (True, True)
    assert all(files.directory.joinpath(name).read_bytes() != content for name, content in before.items())
    certificate(files.server_certificate).verify_directly_issued_by(certificate(files.ca_certificate))


def test_a_new_host_name_reissues_only_the_server_certificate(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    ca_before = files.ca_certificate.read_bytes()

    again = ensure_server_tls(files, (*NAMES, "192.0.2.10"), now=NOW)

    assert (again.new_ca, again.new_server_certificate) == (False, True)
    assert files.ca_certificate.read_bytes() == ca_before
    assert "192.0.2.10" in subject_alternative_names(certificate(files.server_certificate))


@pytest.mark.parametrize("damage", ["garbage key", "foreign key", "foreign signer", "missing"])
def test_a_broken_server_certificate_or_key_is_reissued(tmp_path: Path, damage: str) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    other = issue_server_certificate(generate_ca("Other CA", now=NOW), NAMES, now=NOW)
    if damage == "garbage key":
        files.server_key.write_text("not a key\n")
    elif damage == "foreign key":
        other.save(tmp_path / "unused.pem", files.server_key)
    elif damage == "foreign signer":
        other.save(files.server_certificate, files.server_key)
    else:
        files.server_certificate.unlink()

    again = ensure_server_tls(files, NAMES, now=NOW)

    assert (again.new_ca, again.new_server_certificate) == (False, True)
    certificate(files.server_certificate).verify_directly_issued_by(certificate(files.ca_certificate))


def test_an_unreadable_ca_key_replaces_the_ca(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    files.ca_key.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")

    again = ensure_server_tls(files, NAMES, now=NOW)

    assert (again.new_ca, again.new_server_certificate) == (True, True)
    assert load_ca(files.ca_certificate, files.ca_key).certificate == certificate(files.ca_certificate)


def test_reuse_makes_loosened_key_files_private_again(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    ensure_server_tls(files, NAMES, now=NOW)
    files.server_key.chmod(0o644)
    files.ca_key.chmod(0o640)

    ensure_server_tls(files, NAMES, now=NOW)

    assert (mode(files.server_key), mode(files.ca_key)) == (0o600, 0o600)


def test_a_certificate_for_other_names_only(tmp_path: Path) -> None:
    ca = generate_ca(now=NOW)

    issued = issue_server_certificate(ca, ["db.wrong.example"], now=NOW)

    assert subject_alternative_names(issued.certificate) == ["db.wrong.example"]
    issued.certificate.verify_directly_issued_by(ca.certificate)
    policy = PolicyBuilder().store(Store([ca.certificate])).time(NOW)
    policy.build_server_verifier(x509.DNSName("db.wrong.example")).verify(issued.certificate, [])
    with pytest.raises(VerificationError):
        policy.build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1"))).verify(issued.certificate, [])


def test_a_server_certificate_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="at least one host name"):
        ensure_server_tls(TlsFiles(tmp_path / "tls"), ["", ""], now=NOW)


def test_a_server_certificate_never_outlives_its_ca() -> None:
    ca = generate_ca(now=NOW, lifetime=datetime.timedelta(days=10))

    issued = issue_server_certificate(ca, NAMES, now=NOW)

    assert issued.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc


# ---------------------------------------------------------------------------------------------- the server


def test_mariadb_is_started_with_the_stacks_tls_files(tmp_path: Path) -> None:
    config = LocalConfig(state_dir=tmp_path, ports=PORTS)
    server = MariaDbServer(config)
    tls = tmp_path / "mariadb" / "tls"

    options = server.server_options()

    assert options == (
        f"--ssl-ca={tls / 'ca.pem'}",
        f"--ssl-cert={tls / 'server-cert.pem'}",
        f"--ssl-key={tls / 'server-key.pem'}",
    )
    assert server.plan().argv[-3:] == options
    assert not any("require_secure_transport" in option for option in server.plan().argv)


def test_mariadb_prepares_its_certificates_once_and_says_so(tmp_path: Path) -> None:
    config = LocalConfig(state_dir=tmp_path, ports=PORTS, host="192.0.2.10")
    server = MariaDbServer(config)
    messages: list[str] = []

    server.prepare_tls(messages.append)
    server.prepare_tls(messages.append)

    assert messages == [f"mariadb: generated a local CA and a server certificate in {tmp_path / 'mariadb' / 'tls'}"]
    names = subject_alternative_names(certificate(server.tls.server_certificate))
    assert sorted(names) == ["127.0.0.1", "192.0.2.10", "localhost"]


def test_local_parameters_point_the_relational_functions_at_the_private_mariadb(tmp_path: Path) -> None:
    config = LocalConfig(state_dir=tmp_path, ports=PORTS, stack_name="prism-demo-1a2b3c")

    parameters = local_endpoint_parameters(config)

    assert {key: value for key, value in parameters.items() if key.startswith("Db")} == {
        "DbHost": "127.0.0.1",
        "DbPort": "13407",
        "DbName": "prism_prism_demo_1a2b3c",
        "DbUser": config.database_user,
        "DbAuth": "secret",
        "DbCaBundle": str(tls_files(tmp_path).ca_certificate),
    }
    assert parameters["DbCaBundle"] == str(tmp_path.resolve() / "mariadb" / "tls" / "ca.pem")


def test_the_templates_db_name_and_user_win_over_the_derived_ones(tmp_path: Path) -> None:
    config = LocalConfig(state_dir=tmp_path, ports=PORTS, stack_name="t1")

    def target(overrides: dict[str, str]) -> tuple[str, str]:
        template = Template.load(
            REPO_ROOT / "template.yaml", overrides, stack_name="t1", region=DEFAULT_REGION, account_id=ACCOUNT_ID
        )
        found = relational_target(template, config)
        return found.database, found.user

    assert target({"DbName": config.database_name, "DbUser": config.database_user}) == (
        "prism_t1",
        config.database_user,
    )
    assert target({"DbName": "reporting", "DbUser": "reader"}) == ("reporting", "reader")


def test_credentials_never_show_their_password() -> None:
    shown = repr(DatabaseCredentials("app_0123456789ab", "s3cret-Pa55"))

    assert "s3cret" not in shown
    assert "app_0123456789ab" in shown


# ---------------------------------------------------------------------------------------------- names


def test_the_default_stack_keeps_the_template_defaults() -> None:
    config = LocalConfig()

    assert config.stack_name == DEFAULT_STACK_NAME
    assert (config.database_name, config.database_user) == ("prism", "prism_app")


@pytest.mark.parametrize(
    ("stack_name", "database"),
    [
        ("prism-demo-a1b2c3", "prism_prism_demo_a1b2c3"),
        ("t1234abcd", "prism_t1234abcd"),
        ("Mixed.Case stack", "prism_Mixed_Case_stack"),
        ("prism", "prism_prism"),
    ],
)
def test_other_stacks_get_a_database_named_after_them(stack_name: str, database: str) -> None:
    config = LocalConfig(stack_name=stack_name)

    assert config.database_name == database
    assert TEMPLATE_DB_NAME.fullmatch(config.database_name)


def test_a_long_stack_name_is_cut_and_stays_unique() -> None:
    first = LocalConfig(stack_name="a" * 100 + "-one").database_name
    second = LocalConfig(stack_name="a" * 100 + "-two").database_name

    assert len(first) == len(second) == 64
    assert first != second
    assert first.startswith("prism_aaaa")
    assert TEMPLATE_DB_NAME.fullmatch(first)
    assert TEMPLATE_DB_NAME.fullmatch(second)
    assert LocalConfig(stack_name="b" * 58).database_name == "prism_" + "b" * 58  # exactly 64: kept whole


def test_each_stack_gets_its_own_short_user() -> None:
    names = [LocalConfig(stack_name=name).database_user for name in ("prism-demo-a1b2c3", "t1", "T1", "x" * 128)]

    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"app_[0-9a-f]{12}", name)
        assert TEMPLATE_DB_USER.fullmatch(name)
    # stable: derived from the stack name alone
    assert LocalConfig(stack_name="t1").database_user == names[1]
