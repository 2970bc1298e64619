"""The boto3 clients the pollers use, all pointed at one endpoint (moto locally)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from botocore.config import Config

from prism_local.config import local_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient


class EventSourceClients:
    """DynamoDB Streams, SQS and SNS clients, created once and shared by every poller thread.

    boto3 clients are thread-safe; sessions are not, so the session lives only in the constructor. The read
    timeout outlasts the longest SQS long poll the pollers ask for.
    """

    def __init__(self, *, endpoint_url: str, region: str, max_connections: int = 10) -> None:
        session = local_session(region)
        config = Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=max_connections,
        )
        self.region = region
        self.streams: DynamoDBStreamsClient = session.client(
            "dynamodbstreams", endpoint_url=endpoint_url, config=config
        )
        self.sqs: SQSClient = session.client("sqs", endpoint_url=endpoint_url, config=config)
        self.sns: SNSClient = session.client("sns", endpoint_url=endpoint_url, config=config)
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def queue_url(self, queue_arn: str) -> str:
        """The URL of the queue ``arn:aws:sqs:<region>:<account>:<name>`` (looked up once, then cached)."""
        with self._lock:
            known = self._queue_urls.get(queue_arn)
        if known is not None:
            return known
        *_, account, name = queue_arn.split(":")
        url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        with self._lock:
            self._queue_urls[queue_arn] = url
        return url
