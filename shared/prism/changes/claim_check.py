"""Claim checks: an envelope too large for SNS is stored in S3 and the message carries a pointer to it.

Object keys derive from the change's event id, so a retried publish rewrites the same object instead of
leaving a second copy. The pointer carries a SHA-256 that readers check (``verify``), whatever the store,
so a sink never applies a truncated or replaced body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from prism.errors import ClaimCheckError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ClaimCheck:
    """Where an oversized envelope lives, and how to recognise it."""

    bucket: str
    key: str
    sha256: str
    size: int

    def to_document(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_document(cls, document: Any) -> ClaimCheck:
        try:
            return cls(
                bucket=str(document["bucket"]),
                key=str(document["key"]),
                sha256=str(document["sha256"]),
                size=int(document["size"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ClaimCheckError(f"invalid claim-check pointer: {document!r:.200}") from exc


class ClaimCheckStore(Protocol):
    """Port: park a body under a name and get it back, verified."""

    def put(self, name: str, body: bytes) -> ClaimCheck: ...

    def get(self, claim: ClaimCheck) -> bytes: ...


def verify(claim: ClaimCheck, body: bytes) -> bytes:
    """``body`` if it is exactly what the pointer describes, else ClaimCheckError (truncated or replaced)."""
    if len(body) != claim.size or hashlib.sha256(body).hexdigest() != claim.sha256:
        raise ClaimCheckError(f"claim check s3://{claim.bucket}/{claim.key} does not match its pointer")
    return body


class S3ClaimCheckStore:
    """Claim checks in an S3 bucket (encrypted by the bucket's default key), under ``prefix``."""

    def __init__(self, s3: S3Client, bucket: str, prefix: str = "changes/") -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def put(self, name: str, body: bytes) -> ClaimCheck:
        key = f"{self._prefix}{name}.json"
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError) as exc:
            raise ClaimCheckError(f"could not store claim check s3://{self._bucket}/{key}: {exc}") from exc
        return ClaimCheck(self._bucket, key, hashlib.sha256(body).hexdigest(), len(body))

    def get(self, claim: ClaimCheck) -> bytes:
        try:
            body = self._s3.get_object(Bucket=claim.bucket, Key=claim.key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise ClaimCheckError(f"could not read claim check s3://{claim.bucket}/{claim.key}: {exc}") from exc
        return body
