"""The lake's port (a place to write objects) and its S3 adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from prism.errors import LakeWriteError
from prism.lake.layout import CONTENT_ENCODING, CONTENT_TYPE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class LakeObjectStore(Protocol):
    """Writes one lake object; raises LakeWriteError when it cannot."""

    def put(self, key: str, body: bytes) -> None: ...


class S3LakeObjectStore:
    """Writes lake objects to the lake bucket, encrypted with the data key (SSE-KMS).

    The key is named on every put rather than left to the bucket default, so an object can never land
    encrypted with another key (or unencrypted) if the bucket's default encryption is changed.
    """

    def __init__(self, s3: S3Client, bucket: str, kms_key_arn: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._kms_key_arn = kms_key_arn

    def put(self, key: str, body: bytes) -> None:
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPE,
                ContentEncoding=CONTENT_ENCODING,
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self._kms_key_arn,
            )
        except (ClientError, BotoCoreError) as exc:
            raise LakeWriteError(f"could not write lake object s3://{self._bucket}/{key}: {exc}") from exc
