"""Builds the lake sink from its settings, once per execution environment."""

from __future__ import annotations

from functools import lru_cache

import boto3

from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.reader import ChangeReader
from prism.lake.objects import S3LakeObjectStore
from prism.lake.sink import LakeSinkProcessor
from prism.settings import LakeSinkSettings


@lru_cache(maxsize=1)
def lake_sink_processor() -> LakeSinkProcessor:
    """The lake sink's processor with its S3 clients; built at the first invocation (settings validated then)."""
    settings = LakeSinkSettings.from_env()
    s3 = boto3.client("s3")
    reader = ChangeReader(S3ClaimCheckStore(s3, settings.claim_check_bucket))
    return LakeSinkProcessor(reader, S3LakeObjectStore(s3, settings.lake_bucket, settings.lake_kms_key_arn))
