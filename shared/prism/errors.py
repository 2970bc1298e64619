"""Prism's domain errors. Adapters translate vendor errors into these (``raise ... from exc``), and each
entry point maps them to its own protocol in one place (HTTP statuses, batch item failures)."""

from __future__ import annotations


class PrismError(Exception):
    """Base of every error Prism raises on purpose."""


class ConfigurationError(PrismError):
    """A function's settings are missing or invalid; raised once, at the first invocation."""


class MalformedChangeError(PrismError):
    """A stream record or change envelope cannot be decoded. Retrying will not help; it must be dead-lettered."""


class PublishError(PrismError):
    """A change could not be published to the changes topic. Retrying may help."""


class ClaimCheckError(PrismError):
    """An oversized envelope could not be stored in, or read back from, the claim-check bucket."""


class SchemaViolationError(MalformedChangeError):
    """A well-formed change whose payload does not fit a sink's schema (a string where a number belongs, a
    value out of a column's range). Permanent: dead-lettered at once, with the reason."""


class RelationalUnavailableError(PrismError):
    """The relational database could not be reached or kept failing with transient errors (lost connection,
    deadlock, read-only writer after failover) until the time budget ran out. Retrying later may help."""


class RelationalTlsError(PrismError):
    """The TLS connection to the relational database could not be verified (unknown CA, wrong host name).
    A configuration problem: retrying will not help."""


class LakeWriteError(PrismError):
    """A lake object could not be written to S3 (throttled, unreachable, access or key problem). The changes
    it holds are retried by SQS; retrying may help."""


class SecretRotationError(PrismError):
    """A step of a database secret's rotation cannot be carried out: the secret is not set up for rotation,
    the request's version is not the one being rotated, the secret's value is not usable, no known password
    logs in, or Secrets Manager refused a call. Secrets Manager marks the rotation failed and AWSCURRENT keeps
    working; every step is idempotent, so the next rotation attempt resumes where this one stopped."""
