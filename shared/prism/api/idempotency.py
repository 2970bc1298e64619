"""Idempotency-Key on POST, with Powertools' idempotency utility persisted in its own DynamoDB table.

A retried create (same key, same route, same body) returns the first response and creates nothing twice;
the same key with another body is a 422, and a retry while the first request still runs is a 409.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from prism.api.http_errors import RequestError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

_KEY: Final = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
RETENTION_S: Final = 24 * 60 * 60


@dataclass(frozen=True)
class StoredResponse:
    """What a create answered; kept so a retry answers the same."""

    status: int
    body: str
    headers: dict[str, str]

    def to_document(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "headers": self.headers}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> StoredResponse:
        return cls(int(document["status"]), str(document["body"]), dict(document["headers"]))


class IdempotentCreates:
    """Runs creates at most once per (route, Idempotency-Key)."""

    def __init__(self, persistence: BasePersistenceLayer) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="[route, key]",
            payload_validation_jmespath="body",
            expires_after_seconds=RETENTION_S,
        )
        self._creators: dict[str, Callable[[dict[str, Any]], StoredResponse]] = {}
        self._run = idempotent_function(
            self._create, data_keyword_argument="request", persistence_store=persistence, config=self.config
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Lets an in-progress record expire when the invocation would time out (Powertools' advice)."""
        self.config.register_lambda_context(context)

    def register(self, route: str, create: Callable[[dict[str, Any]], StoredResponse]) -> None:
        """Declare the create behind ``route``; done once, when the routes are built."""
        self._creators[route] = create

    def run(self, route: str, key: str | None, body: dict[str, Any]) -> StoredResponse:
        """The response to a create: computed now, or the stored one when ``key`` was seen with this body."""
        if key is None:
            return self._creators[route](body)
        if not _KEY.match(key):
            raise RequestError("Idempotency-Key must be 8 to 128 characters of A-Z a-z 0-9 _ . : -")
        document: dict[str, Any] = self._run(request={"route": route, "key": key, "body": body})
        return StoredResponse.from_document(document)

    def _create(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._creators[request["route"]](request["body"]).to_document()
