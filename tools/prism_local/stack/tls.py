"""TLS for the private MariaDB: a local CA, and a server certificate it signs, generated once and kept.

On AWS the relational functions verify RDS Proxy's certificate against the RDS CAs; locally they verify the
private MariaDB's certificate against the CA made here (``DbCaBundle``), so the same verifying code path
runs in both places. The files live in ``state_dir/mariadb/tls/`` and are reused while they are valid for
more than a day; a server certificate that no longer fits (expiring, another host, another CA) is reissued
from the kept CA, so a CA path handed to clients stays good.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: Files are reused only while they stay valid for longer than this.
RENEW_BEFORE: Final = datetime.timedelta(days=1)
CA_LIFETIME: Final = datetime.timedelta(days=3650)
SERVER_LIFETIME: Final = datetime.timedelta(days=825)
#: Certificates start a little in the past, so a client whose clock lags slightly still accepts them.
BACKDATE: Final = datetime.timedelta(minutes=5)

CA_COMMON_NAME: Final = "Prism local MariaDB CA"
ORGANIZATION: Final = "Prism local stack"

_PRIVATE_FILE_MODE: Final = 0o600
_PUBLIC_FILE_MODE: Final = 0o644


class TlsError(RuntimeError):
    """A certificate or key file could not be read, checked or written."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA and the server certificate live: ``ca.pem``, ``ca-key.pem``, ``server-cert.pem``,
    ``server-key.pem`` in ``directory``."""

    directory: Path

    @property
    def ca_certificate(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_certificate(self) -> Path:
        return self.directory / "server-cert.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def save(self, certificate_path: Path, key_path: Path) -> None:
        """Write the certificate (0644) and the key (0600) as PEM, creating their directory if need be."""
        _write_key(key_path, self.key)
        _write_certificate(certificate_path, self.certificate)


class CertificateAuthority(CertifiedKey):
    """A CA certificate with its private key, able to sign server certificates."""


class ServerCertificate(CertifiedKey):
    """A server certificate with its private key."""


@dataclass(frozen=True)
class TlsSetup:
    """What ``ensure_server_tls`` found or made: the files, and which of them it (re)generated."""

    files: TlsFiles
    new_ca: bool
    new_server_certificate: bool


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def generate_ca(
    common_name: str = CA_COMMON_NAME,
    *,
    now: datetime.datetime | None = None,
    lifetime: datetime.timedelta = CA_LIFETIME,
) -> CertificateAuthority:
    """A new self-signed CA (ECDSA P-256) that may sign server certificates only (path length 0).

    The extensions are the ones OpenSSL's strict verification (Python 3.13's default) insists on: critical
    basic constraints and key usage, subject and authority key identifiers.
    """
    now = now or utc_now()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(key_id, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate, key)


def issue_server_certificate(
    ca: CertificateAuthority,
    names: Iterable[str],
    *,
    now: datetime.datetime | None = None,
    lifetime: datetime.timedelta = SERVER_LIFETIME,
) -> ServerCertificate:
    """A server certificate signed by ``ca`` for ``names``: IP addresses become IP SANs, the rest DNS SANs.

    Clients verify the host they connect to against these SANs only (the common name is informational).
    """
    wanted = _unique(names)
    if not wanted:
        raise TlsError("a server certificate needs at least one host name or IP address")
    now = now or utc_now()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, wanted[0]),
        ]
    )
    ca_key_id = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + lifetime, ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in wanted]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return ServerCertificate(certificate, key)


def load_ca(certificate_path: Path, key_path: Path) -> CertificateAuthority:
    """Read a CA written by ``CertificateAuthority.save``; TlsError when a file is missing or unreadable."""
    certificate, key = _load_pair(certificate_path, key_path)
    return CertificateAuthority(certificate, key)


def ensure_server_tls(files: TlsFiles, names: Iterable[str], *, now: datetime.datetime | None = None) -> TlsSetup:
    """Make sure ``files`` hold a usable CA and a server certificate it signed for every one of ``names``.

    Valid files are kept (a running server and its clients keep agreeing); a CA that is missing, unreadable
    or valid for a day or less is replaced together with the server certificate; a server certificate that
    is missing, expiring, not signed by the CA or lacks one of ``names`` is reissued from the kept CA. Key
    files are (re)set to mode 0600.
    """
    now = now or utc_now()
    wanted = _unique(names)
    if not wanted:
        raise TlsError("a server certificate needs at least one host name or IP address")
    try:
        files.directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TlsError(f"cannot create {files.directory}: {exc}") from exc
    ca = _usable_ca(files, now)
    new_ca = ca is None
    if ca is None:
        ca = generate_ca(now=now)
        ca.save(files.ca_certificate, files.ca_key)
    new_server = new_ca or not _usable_server_certificate(files, ca, wanted, now)
    if new_server:
        issue_server_certificate(ca, wanted, now=now).save(files.server_certificate, files.server_key)
    for key_path in (files.ca_key, files.server_key):
        try:
            key_path.chmod(_PRIVATE_FILE_MODE)
        except OSError as exc:
            raise TlsError(f"cannot make {key_path} private (mode 0600): {exc}") from exc
    return TlsSetup(files, new_ca=new_ca, new_server_certificate=new_server)


def subject_alternative_names(certificate: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate is valid for, as text."""
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*sans.get_values_for_type(x509.DNSName), *(str(ip) for ip in sans.get_values_for_type(x509.IPAddress))]


# ---------------------------------------------------------------------------------------------- checks


def _usable_ca(files: TlsFiles, now: datetime.datetime) -> CertificateAuthority | None:
    try:
        ca = load_ca(files.ca_certificate, files.ca_key)
    except TlsError:
        return None
    try:
        constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    if not constraints.ca or not _valid_long_enough(ca.certificate, now):
        return None
    return ca


def _usable_server_certificate(
    files: TlsFiles, ca: CertificateAuthority, names: list[str], now: datetime.datetime
) -> bool:
    try:
        certificate, _key = _load_pair(files.server_certificate, files.server_key)
        certificate.verify_directly_issued_by(ca.certificate)
    except (TlsError, ValueError, TypeError, InvalidSignature):
        return False
    covered = {_canonical(name) for name in subject_alternative_names(certificate)}
    return _valid_long_enough(certificate, now) and all(_canonical(name) in covered for name in names)


def _valid_long_enough(certificate: x509.Certificate, now: datetime.datetime) -> bool:
    return certificate.not_valid_before_utc <= now and certificate.not_valid_after_utc > now + RENEW_BEFORE


def _load_pair(certificate_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate and its key; TlsError unless both parse and the key belongs to the certificate."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise TlsError(
            f"cannot read {certificate_path.name} and {key_path.name} in {certificate_path.parent}: {exc}"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        raise TlsError(f"{key_path} is not the key of {certificate_path}")
    return certificate, key


# ---------------------------------------------------------------------------------------------- files


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_atomically(path, pem, _PRIVATE_FILE_MODE)


def _write_certificate(path: Path, certificate: x509.Certificate) -> None:
    _write_atomically(path, certificate.public_bytes(serialization.Encoding.PEM), _PUBLIC_FILE_MODE)


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    """Write to a sibling created with ``mode`` (a key is never readable by others, not even briefly), then
    rename it over ``path``, so a reader never sees half a file. Creates the directory if need be."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
        partial.chmod(mode)  # os.open's mode is filtered by the umask
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise TlsError(f"cannot write {path}: {exc}") from exc


# ---------------------------------------------------------------------------------------------- names


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        if name:
            seen.setdefault(_canonical(name), name)
    return list(seen.values())


def _canonical(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.lower().rstrip(".")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
