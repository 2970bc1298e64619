"""Binary media types: when API Gateway base64-encodes a request body or decodes a response body.

"Support binary payloads in API Gateway" (developer guide): a request whose ``Content-Type`` matches the API's
``binaryMediaTypes`` reaches a Lambda proxy integration base64-encoded (``isBase64Encoded: true``); a response
with ``isBase64Encoded: true`` is decoded to bytes only when the request's first ``Accept`` media type matches
("Return binary media from a Lambda proxy integration": "API Gateway uses the first Accept header from clients
to determine if a response should return binary media"), else the client gets the base64 text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


def first_media_type(header_value: str | None) -> str:
    """``text/html; q=0.9, */*`` -> ``text/html``: the first entry, parameters dropped, lower case."""
    if not header_value:
        return ""
    return header_value.split(",", 1)[0].split(";", 1)[0].strip().lower()


def matches_any(media_type: str, patterns: Iterable[str]) -> bool:
    """Whether ``media_type`` is one of ``patterns``, which may use ``*/*`` or ``type/*`` wildcards."""
    if not media_type:
        return False
    kind = media_type.split("/", 1)[0]
    for pattern in patterns:
        wanted = pattern.strip().lower()
        if wanted in ("*/*", media_type, f"{kind}/*"):
            return True
    return False
