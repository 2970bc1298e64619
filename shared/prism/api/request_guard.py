"""Refuses a body over the API's limit (413) before the resolver reads it, so an oversized request gets 413
whatever else is wrong with it. (A write without a JSON content type, 415, and a body that is not JSON, 400,
are refused by Powertools' request validation; ``http_errors`` maps them.)"""

from __future__ import annotations

from typing import Any, Final

from prism.api.http_errors import error_body

MAX_BODY_BYTES: Final = 64 * 1024


def reject_oversized(event: dict[str, Any]) -> dict[str, Any] | None:
    """The 413 response for an API Gateway event whose body is over the limit, else None."""
    size = len((event.get("body") or "").encode())
    if size <= MAX_BODY_BYTES:
        return None
    return {
        "statusCode": 413,
        "headers": {"Content-Type": "application/json"},
        "body": error_body("payload_too_large", f"the body is {size} bytes; the limit is {MAX_BODY_BYTES}"),
        "isBase64Encoded": False,
    }
