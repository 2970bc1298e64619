"""Opaque pagination cursors: where a listing stopped, signed so that clients cannot forge or alter one.

A cursor is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))`` (no padding), where ``payload``
is compact JSON holding the listing it belongs to (``"products:category=books"``) and a position (DynamoDB
key attributes, all strings). Decoding checks the signature before parsing anything, then the listing, so
a tampered, truncated or foreign cursor is an InvalidCursorError (a 400), never a 500 or a silent restart.

Cursors do not expire; rotating the key invalidates every cursor issued under the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import TYPE_CHECKING, Any, Final

from prism.domain.errors import InvalidCursorError

if TYPE_CHECKING:
    from collections.abc import Mapping

MIN_KEY_BYTES: Final = 16
MAX_CURSOR_CHARS: Final = 2_048

_BASE64URL: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_MAC_BYTES: Final = hashlib.sha256().digest_size


class CursorCodec:
    """Encodes and decodes the cursors of every listing under one secret key."""

    def __init__(self, key: bytes | str) -> None:
        secret = key.encode() if isinstance(key, str) else key
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"a cursor key needs at least {MIN_KEY_BYTES} bytes, got {len(secret)}")
        self._key = secret

    def encode(self, listing: str, position: Mapping[str, str]) -> str:
        """A cursor that resumes ``listing`` after ``position``."""
        payload = json.dumps({"l": listing, "p": dict(position)}, separators=(",", ":"), sort_keys=True).encode()
        cursor = f"{_b64encode(payload)}.{_b64encode(self._sign(payload))}"
        if len(cursor) > MAX_CURSOR_CHARS:
            # Positions are DynamoDB keys built from short ASCII ids; one this long is a bug, not a client error.
            raise ValueError(f"a cursor for {listing!r} would be {len(cursor)} characters (limit {MAX_CURSOR_CHARS})")
        return cursor

    def decode(self, listing: str, cursor: str) -> dict[str, str]:
        """The position stored in ``cursor``; raises InvalidCursorError unless this codec issued it for ``listing``."""
        payload = self._verified_payload(cursor)
        try:
            document: Any = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:  # only a bug or a leaked key gets here
            raise _invalid("its content is not readable") from exc
        if not _is_document(document):
            raise _invalid("its content is not a cursor")
        if document["l"] != listing:
            raise InvalidCursorError(
                "this cursor belongs to another listing; request the first page of this one without a cursor",
                details={"listing": listing},
            )
        return dict(document["p"])

    def _verified_payload(self, cursor: str) -> bytes:
        if not cursor or len(cursor) > MAX_CURSOR_CHARS:
            raise _invalid(f"it must be 1 to {MAX_CURSOR_CHARS} characters long")
        parts = cursor.split(".")
        if len(parts) != 2 or not all(_BASE64URL.fullmatch(part) for part in parts):
            raise _invalid("it is not in the cursor format")
        payload, signature = _b64decode(parts[0]), _b64decode(parts[1])
        if len(signature) != _MAC_BYTES or not hmac.compare_digest(signature, self._sign(payload)):
            raise _invalid("it was changed, truncated, or not issued by this API")
        return payload

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _is_document(document: Any) -> bool:
    if not isinstance(document, dict) or set(document) != {"l", "p"}:
        return False
    position = document["p"]
    return (
        isinstance(document["l"], str)
        and isinstance(position, dict)
        and all(isinstance(name, str) and isinstance(value, str) for name, value in position.items())
    )


def _invalid(reason: str) -> InvalidCursorError:
    return InvalidCursorError(f"the cursor is not valid: {reason}; use the next_cursor of a previous page, unchanged")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # a length no base64 text can have (4n + 1)
        raise _invalid("it is not in the cursor format") from exc
    # Base64 ignores the unused low bits of the last character; insist on the one canonical spelling, so
    # that every changed character is detected.
    if _b64encode(data) != text:
        raise _invalid("it is not in the cursor format")
    return data
