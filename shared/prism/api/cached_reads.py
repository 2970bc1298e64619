"""GET by id through the cache. The cached value is the response body itself, serialized once when it was
loaded, so a hit costs one Redis GET and no JSON work; ``answer_from_cache`` serves hits before the resolver
even runs, which is what keeps a hit close to the cost of the raw GET."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.event_handler import Response

from prism.api.preconditions import etag
from prism.cache.entries import CacheHit
from prism.domain.errors import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    from prism.cache.port import EntityCache

JSON: Final = "application/json"
ENTITY_OF_COLLECTION: Final = {"customers": "customer", "products": "product", "orders": "order"}
_ITEM_PATH: Final = re.compile(r"^/(customers|products|orders)/([A-Za-z0-9_-]{1,64})$")


class CachedReads:
    def __init__(self, cache: EntityCache) -> None:
        self._cache = cache

    def get(self, entity: str, entity_id: str, load: Callable[[], BaseModel]) -> Response[Any]:
        """The entity's body from the cache, or from ``load`` (one load per key under concurrent misses)."""

        def loader() -> tuple[int, bytes] | None:
            try:
                model = load()
            except NotFoundError:
                return None
            return int(getattr(model, "version")), model.model_dump_json().encode()  # noqa: B009

        result = self._cache.read_through(entity, entity_id, loader)
        if result.body is None or result.version is None:
            raise NotFoundError(f"{entity} {entity_id} does not exist", details={"entity": entity, "id": entity_id})
        return Response(
            status_code=200,
            content_type=JSON,
            body=result.body.decode(),
            headers={"ETag": etag(result.version), "X-Cache": result.source.value},
        )

    def invalidate(self, entity: str, entity_id: str, version: int, *, deleted: bool = False) -> None:
        """After a successful write: drop the cached body and fence it at the written version."""
        self._cache.invalidate(entity, entity_id, version, deleted=deleted)

    def answer_from_cache(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The API Gateway response for a cached ``GET /{collection}/{id}``, or None to let the resolver answer
        (a miss, an absence, a bypass, or any other request)."""
        if event.get("httpMethod") != "GET" or event.get("queryStringParameters"):
            return None
        match = _ITEM_PATH.match(event.get("path") or "")
        if match is None:
            return None
        lookup = self._cache.get(ENTITY_OF_COLLECTION[match.group(1)], match.group(2))
        if not isinstance(lookup, CacheHit):
            return None
        return {
            "statusCode": 200,
            "headers": {"Content-Type": JSON, "ETag": etag(lookup.version), "X-Cache": "hit"},
            "body": lookup.body.decode(),
            "isBase64Encoded": False,
        }
