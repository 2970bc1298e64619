"""Builds the relational sink from its settings, once per execution environment.

The connection manager lives as long as the environment: its one connection (and IAM token) is reused
across invocations, as RDS Proxy wants it (DESIGN, "Aurora MySQL through RDS Proxy").
"""

from __future__ import annotations

from functools import lru_cache

import boto3

from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.reader import ChangeReader
from prism.relational.connection import ConnectionManager, credentials_for
from prism.relational.dead_letters import SqsDeadLetters
from prism.relational.sink import RelationalSinkProcessor
from prism.relational.writer import ProjectionWriter
from prism.settings import RelationalSinkSettings


@lru_cache(maxsize=1)
def relational_sink_processor() -> RelationalSinkProcessor:
    """The sink's processor with its database connection, S3 and SQS clients; built at the first invocation."""
    settings = RelationalSinkSettings.from_env()
    manager = ConnectionManager(settings, credentials_for(settings))
    reader = ChangeReader(S3ClaimCheckStore(boto3.client("s3"), settings.claim_check_bucket))
    dead_letters = SqsDeadLetters(boto3.client("sqs"), settings.dead_letter_queue_url)
    return RelationalSinkProcessor(reader, ProjectionWriter(manager), dead_letters)
