"""Typed function settings, read from the environment once and validated before any work is done."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prism.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

SettingsT = TypeVar("SettingsT", bound="Settings")

_SNS_TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$"
_BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class Settings(BaseModel):
    """Base of every settings model: a field ``foo_bar`` comes from the variable ``FOO_BAR``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
        """Build the settings from ``environ`` (default ``os.environ``); any problem is one clear error."""
        source = os.environ if environ is None else environ
        values = {name: source[name.upper()] for name in cls.model_fields if name.upper() in source}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                if not error["loc"]:  # a check across fields; its message names the variables
                    problems.append(str(error["msg"]).removeprefix("Value error, "))
                    continue
                variable = str(error["loc"][0]).upper()
                reason = "is not set" if error["type"] == "missing" else f"is invalid: {error['msg']}"
                problems.append(f"{variable} {reason}")
            raise ConfigurationError(f"{cls.__name__}: " + "; ".join(problems)) from exc


class FanoutSettings(Settings):
    """Where the fanout publishes envelopes, and where oversized ones are parked (claim check)."""

    changes_topic_arn: str = Field(pattern=_SNS_TOPIC_ARN)
    claim_check_bucket: str = Field(pattern=_BUCKET_NAME)


class ChangeReaderSettings(Settings):
    """What a sink needs to read envelopes: the claim-check bucket oversized envelopes point into."""

    claim_check_bucket: str = Field(pattern=_BUCKET_NAME)


class ApiSettings(Settings):
    """The API's tables, its region, and the secret that signs its pagination cursors (read from Secrets
    Manager through Powertools parameters, never from the environment)."""

    table_name: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    aws_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    idempotency_table: str = Field(min_length=3)
    cursor_secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:")


class SearchReadSettings(Settings):
    """How the API reaches the search indices: the same SEARCH_URL, SEARCH_AUTH and SEARCH_INDEX_PREFIX as
    the search sink (see SearchSinkSettings). ``SEARCH_URL`` may be empty: the API then runs without search
    (``GET /search`` answers 503) rather than failing every route at start. The timeout is short: an
    API request has 10 s in all."""

    search_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    search_auth: Literal["none", "sigv4-es", "sigv4-aoss"] = "sigv4-es"
    search_index_prefix: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9_-]{0,40}-)?$")
    search_timeout_s: float = Field(default=3.0, gt=0, le=9)
    aws_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")

    @model_validator(mode="after")
    def _https_when_signed(self) -> SearchReadSettings:
        if self.search_url and self.search_auth != "none" and not self.search_url.startswith("https://"):
            raise ValueError(f"SEARCH_AUTH={self.search_auth} needs an https:// SEARCH_URL")
        return self


class SearchReindexSettings(SearchReadSettings):
    """The reindex function: the search sink's OpenSearch settings, with a timeout for bulk requests and
    page reads rather than for an API request, and a URL that must be set."""

    search_url: str = Field(pattern=r"^https?://\S+$")
    search_timeout_s: float = Field(default=60.0, gt=0, le=300)


class CacheSettings(Settings):
    """Where the read cache is and how it behaves. ``CACHE_URL`` is ``redis://`` locally and ``rediss://``
    (TLS) on ElastiCache; set but empty, it runs without a cache (every read is a counted bypass).

    The timeouts are tight on purpose: the cache is never required, so a slow Redis must cost a request
    little more than a miss would (DESIGN invariant 5).
    """

    cache_url: str = Field(pattern=r"^(rediss?://\S+)?$")
    cache_ttl_s: int = Field(default=300, ge=1)
    cache_negative_ttl_s: int = Field(default=30, ge=1)
    cache_connect_timeout_ms: int = Field(default=50, ge=1)
    cache_timeout_ms: int = Field(default=100, ge=1)
    cache_breaker_cooldown_ms: int = Field(default=1000, ge=0)


class CacheSinkSettings(CacheSettings):
    """The cache sink: the cache, and the claim-check bucket oversized envelopes point into."""

    claim_check_bucket: str = Field(pattern=_BUCKET_NAME)


class RelationalSettings(Settings):
    """How a function reaches the relational database (RDS Proxy on AWS, the private MariaDB locally).

    ``DB_AUTH=iam`` signs a 15-minute token with the function's role (``generate_db_auth_token``);
    ``DB_AUTH=secret`` reads ``{"username", "password"}`` from the Secrets Manager secret ``DB_SECRET_ARN``
    (the local stack, or a database without IAM auth). TLS is always on and verified: ``DB_CA_BUNDLE`` is a
    PEM file of trusted CAs, empty for the RDS and Amazon root CAs shipped in the layer.
    """

    db_host: str = Field(min_length=1, max_length=255)
    db_port: int = Field(default=3306, ge=1, le=65535)
    db_name: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    db_user: str = Field(pattern=r"^[A-Za-z0-9_]{1,32}$")
    db_auth: Literal["iam", "secret"] = "iam"
    db_secret_arn: str = Field(default="", pattern=r"^(arn:aws[a-z-]*:secretsmanager:\S+)?$")
    db_ca_bundle: str = ""
    db_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    db_read_timeout_s: float = Field(default=20.0, gt=0, le=900)
    aws_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")

    @model_validator(mode="after")
    def _secret_when_secret_auth(self) -> RelationalSettings:
        if self.db_auth == "secret" and not self.db_secret_arn:
            raise ValueError("DB_AUTH=secret needs DB_SECRET_ARN")
        return self


class RelationalSinkSettings(RelationalSettings):
    """The relational sink: its database, the claim-check bucket, and its DLQ, where changes that can never
    apply (a payload the schema refuses) go at once, with the reason."""

    claim_check_bucket: str = Field(pattern=_BUCKET_NAME)
    dead_letter_queue_url: str = Field(pattern=r"^https?://\S+$")


class RelationalMigrationSettings(RelationalSettings):
    """The MigrationFunction: its database login, and optionally the app user it bootstraps.

    With ``DB_APP_USER_SECRET_ARN`` (the secret ``{"username", "password"}`` the relational functions log in
    with), the function logs in as an admin (on AWS the cluster's ``prism_admin``, straight to the writer),
    creates the database if missing, creates or re-syncs the app user with exactly the projection's DML,
    then applies the migrations. Empty (an operator-managed database, the local stack): it only applies the
    migrations, as DB_USER.
    """

    db_app_user_secret_arn: str = Field(default="", pattern=r"^(arn:aws[a-z-]*:secretsmanager:\S+)?$")


class LakeSinkSettings(Settings):
    """The lake sink: the lake bucket, the KMS key every lake object is encrypted with, and the claim-check
    bucket oversized envelopes point into."""

    lake_bucket: str = Field(pattern=_BUCKET_NAME)
    lake_kms_key_arn: str = Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/\S+$")
    claim_check_bucket: str = Field(pattern=_BUCKET_NAME)


class SearchSinkSettings(Settings):
    """The search sink: where OpenSearch is and how requests are authenticated, and the claim-check bucket.

    ``SEARCH_AUTH=none`` talks plain HTTP(S) without signing (osmem locally); ``sigv4-es`` signs for an
    OpenSearch Service domain and ``sigv4-aoss`` for OpenSearch Serverless, both over HTTPS with the
    function's role. ``SEARCH_INDEX_PREFIX`` (empty on AWS) gives a stack indices of its own in a shared
    OpenSearch (``t1-products``). A failed item is tried ``SEARCH_MAX_ATTEMPTS`` times in all, with exponential backoff.
    """

    search_url: str = Field(pattern=r"^https?://\S+$")
    search_auth: Literal["none", "sigv4-es", "sigv4-aoss"] = "sigv4-es"
    search_index_prefix: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9_-]{0,40}-)?$")
    search_timeout_s: float = Field(default=10.0, gt=0, le=120)
    search_max_attempts: int = Field(default=4, ge=1, le=10)
    search_backoff_s: float = Field(default=0.1, ge=0, le=5)
    aws_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    claim_check_bucket: str = Field(pattern=_BUCKET_NAME)

    @model_validator(mode="after")
    def _https_when_signed(self) -> SearchSinkSettings:
        if self.search_auth != "none" and not self.search_url.startswith("https://"):
            raise ValueError(f"SEARCH_AUTH={self.search_auth} needs an https:// SEARCH_URL")
        return self


class SecretRotationSettings(Settings):
    """The rotation function of RelationalDbSecret: where it changes the app user's password.

    ``DB_HOST`` is the Aurora cluster's writer endpoint, not RDS Proxy: the proxy admits clients with IAM
    auth only, and a password change must reach the writer. TLS is always on and verified, as for every
    relational connection: ``DB_CA_BUNDLE`` is a PEM file of trusted CAs, empty for the RDS and Amazon root
    CAs shipped in the layer.
    """

    db_host: str = Field(min_length=1, max_length=255)
    db_port: int = Field(default=3306, ge=1, le=65535)
    db_ca_bundle: str = ""
    db_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    db_read_timeout_s: float = Field(default=20.0, gt=0, le=900)
    aws_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
