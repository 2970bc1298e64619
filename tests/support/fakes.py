"""Fakes (not mocks) for the layer's ports and the few boto3 calls adapters make."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from prism.changes.claim_check import ClaimCheck


class InMemoryClaimCheckStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, name: str, body: bytes) -> ClaimCheck:
        key = f"changes/{name}.json"
        self.objects[key] = body
        return ClaimCheck("claims", key, hashlib.sha256(body).hexdigest(), len(body))

    def get(self, claim: ClaimCheck) -> bytes:
        return self.objects[claim.key]


class FakeSns:
    """Records PublishBatch requests; entries whose message contains a marker in ``fail_when`` fail."""

    def __init__(self, fail_when: str | None = None, raise_code: str | None = None) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.fail_when = fail_when
        self.raise_code = raise_code

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.raise_code:
            raise ClientError({"Error": {"Code": self.raise_code, "Message": "simulated"}}, "PublishBatch")
        self.requests.append(PublishBatchRequestEntries)
        successful, failed = [], []
        for entry in PublishBatchRequestEntries:
            if self.fail_when and self.fail_when in entry["Message"]:
                failed.append(
                    {"Id": entry["Id"], "Code": "InternalError", "Message": "simulated", "SenderFault": False}
                )
            else:
                successful.append({"Id": entry["Id"], "MessageId": f"m-{entry['Id']}"})
        return {"Successful": successful, "Failed": failed}

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [entry for request in self.requests for entry in request]
