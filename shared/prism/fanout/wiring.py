"""Builds the fanout's processor from its settings, once per execution environment."""

from __future__ import annotations

from functools import lru_cache

import boto3

from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.publisher import SnsChangePublisher
from prism.fanout.processor import FanoutProcessor
from prism.settings import FanoutSettings


@lru_cache(maxsize=1)
def fanout_processor() -> FanoutProcessor:
    """The processor with its SNS and S3 clients; created at the first invocation and reused after.

    Settings are validated here, so a missing variable fails the first invocation with a clear message.
    """
    settings = FanoutSettings.from_env()
    claim_checks = S3ClaimCheckStore(boto3.client("s3"), settings.claim_check_bucket)
    publisher = SnsChangePublisher(boto3.client("sns"), settings.changes_topic_arn, claim_checks)
    return FanoutProcessor(publisher)
