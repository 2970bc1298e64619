"""ETag and If-Match: the ETag of an entity is its version, and writes to an existing entity must name the
version they were based on.

If-Match is required on PATCH and DELETE (428 when missing): a client that updates without it would silently
overwrite a change it never saw, which is exactly what versions exist to prevent. ``If-Match: *`` opts out
explicitly (any current version).
"""

from __future__ import annotations

from prism.domain.errors import PreconditionFailedError, PreconditionRequiredError


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names, or None for ``*``; 428 when absent, 412 when not ours."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequiredError("send If-Match with the ETag you read (or * to overwrite any version)")
    value = if_match.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailedError(f"If-Match {if_match!r} is not an ETag from this API")
    return int(value)
