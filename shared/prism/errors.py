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
