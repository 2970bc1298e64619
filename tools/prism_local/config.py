"""Where the local stack lives and how to reach it: one typed object, read from the environment once."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import boto3

REPO_ROOT = Path(__file__).resolve().parents[2]

#: The local account and region every emulated ARN is built from (moto's defaults).
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

#: The stack `prism stack up` provisions unless PRISM_STACK_NAME names another one.
DEFAULT_STACK_NAME = "prism-local"
#: The default stack's relational database and app user: the template's DbName and DbUser defaults.
DEFAULT_DATABASE = "prism"
DEFAULT_DATABASE_USER = "prism_app"
#: MariaDB's (and MySQL's) limit on database names.
DATABASE_NAME_LIMIT = 64

#: moto accepts any credentials; these never reach AWS (the endpoint is always the local moto).
LOCAL_CREDENTIALS: Final = {
    "aws_access_key_id": "prism-local",
    "aws_secret_access_key": "prism-local",
    "aws_session_token": "prism-local",
}


def local_session(region: str) -> boto3.Session:
    """A boto3 session for the local moto (pass its endpoint when creating clients)."""
    return boto3.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        aws_session_token=LOCAL_CREDENTIALS["aws_session_token"],
        region_name=region,
    )


class ConfigError(ValueError):
    """A PRISM_* setting is present but unusable."""


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a port number") from exc
    if not 0 < port < 65536:
        raise ConfigError(f"{name}={port} is outside 1..65535")
    return port


@dataclass(frozen=True)
class Ports:
    """TCP ports of the private servers; each can be moved with its PRISM_*_PORT variable."""

    moto: int = 4510
    mariadb: int = 3407
    redis: int = 6480
    osmem: int = 9210

    @classmethod
    def from_env(cls) -> Ports:
        return cls(
            moto=_port("PRISM_MOTO_PORT", cls.moto),
            mariadb=_port("PRISM_MARIADB_PORT", cls.mariadb),
            redis=_port("PRISM_REDIS_PORT", cls.redis),
            osmem=_port("PRISM_OSMEM_PORT", cls.osmem),
        )


@dataclass(frozen=True)
class LocalConfig:
    """Everything the local stack, the runtime and the demo need to find each other.

    ``state_dir`` holds pid files, logs, server data and ``stacks/<name>.json`` (what was provisioned).
    Tests build their own config with a temporary ``state_dir`` and free ports, so they never touch a
    developer's running stack.
    """

    state_dir: Path = field(default_factory=lambda: REPO_ROOT / ".local")
    template: Path = field(default_factory=lambda: REPO_ROOT / "template.yaml")
    stack_name: str = DEFAULT_STACK_NAME
    region: str = DEFAULT_REGION
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    parameter_overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> LocalConfig:
        state = os.environ.get("PRISM_STATE_DIR")
        template = os.environ.get("PRISM_TEMPLATE")
        return cls(
            state_dir=Path(state).resolve() if state else REPO_ROOT / ".local",
            template=Path(template).resolve() if template else REPO_ROOT / "template.yaml",
            stack_name=os.environ.get("PRISM_STACK_NAME", DEFAULT_STACK_NAME),
            region=os.environ.get("PRISM_REGION", DEFAULT_REGION),
            ports=Ports.from_env(),
        )

    def with_overrides(self, **changes: object) -> LocalConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def moto_endpoint(self) -> str:
        return f"http://{self.host}:{self.ports.moto}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.ports.redis}/0"

    @property
    def opensearch_url(self) -> str:
        return f"http://{self.host}:{self.ports.osmem}"

    @property
    def database_name(self) -> str:
        """This stack's database in the shared MariaDB: ``prism`` for the default stack, else ``prism_<stack>``.

        Several stacks share one MariaDB (the demo's beside a developer's, one per test), and each projects
        into a database of its own. Characters outside [A-Za-z0-9_] become ``_``; a name over MariaDB's 64
        characters is cut and ends in a hash of the whole stack name, so it stays unique.
        """
        if self.stack_name == DEFAULT_STACK_NAME:
            return DEFAULT_DATABASE
        name = "prism_" + re.sub(r"[^A-Za-z0-9_]", "_", self.stack_name)
        if len(name) <= DATABASE_NAME_LIMIT:
            return name
        digest = hashlib.sha256(self.stack_name.encode()).hexdigest()[:8]
        return f"{name[: DATABASE_NAME_LIMIT - len(digest) - 1]}_{digest}"

    @property
    def database_user(self) -> str:
        """The user this stack's functions log in as: ``prism_app`` for the default stack, else ``app_`` and
        12 hex characters of the stack name's SHA-256 (16 characters, within MariaDB's 32)."""
        if self.stack_name == DEFAULT_STACK_NAME:
            return DEFAULT_DATABASE_USER
        return "app_" + hashlib.sha256(self.stack_name.encode()).hexdigest()[:12]

    @property
    def stack_file(self) -> Path:
        """JSON record of the provisioned resources (logical id -> physical ids and attributes)."""
        return self.state_dir / "stacks" / f"{self.stack_name}.json"

    @property
    def checkpoint_file(self) -> Path:
        """Where stream pollers keep their position, per stack (names include the stack name)."""
        return self.state_dir / "checkpoints.json"

    def aws_environment(self) -> dict[str, str]:
        """Variables that point boto3 (and everything built on it) at moto instead of AWS."""
        return {
            "AWS_ENDPOINT_URL": self.moto_endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": LOCAL_CREDENTIALS["aws_session_token"],
        }

    def session(self) -> boto3.Session:
        """A boto3 session for this stack's moto; create clients with ``endpoint_url=self.moto_endpoint``."""
        return local_session(self.region)
