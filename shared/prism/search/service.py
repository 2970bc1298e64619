"""The search API's logic: a validated query and a page position -> one page of items, its facets, and the
cursor of the next page.

The cursor is a CursorCodec cursor (HMAC-signed, like the listings'): its listing is the query's
fingerprint, so a cursor used with other parameters is an InvalidCursorError (a 400), and its position holds
the last hit's sort values (JSON text: they mix numbers and strings) that ``search_after`` resumes after.

Each hit's stored item becomes the API model ``GET /{collection}/{id}`` answers with, through the store's own
mapping (``prism.store.mapping``), so a search hit and an entity read can never disagree on the shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from boto3.dynamodb.types import TypeSerializer

from prism.changes import exact_json
from prism.domain.errors import InvalidCursorError, InvalidSearchError, SearchItemUnreadableError
from prism.observability import logger
from prism.search.query import FACETS, MAX_LIMIT
from prism.store.items import CustomerItem, OrderItem, ProductItem
from prism.store.mapping import customer_from_item, order_from_item, product_from_item

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from prism.domain.cursor import CursorCodec
    from prism.domain.models import Customer, Order, Product
    from prism.search.port import SearchIndex
    from prism.search.query import SearchQuery
    from prism.store.items import EntityItem

    Entity = Customer | Product | Order

#: entity -> its storage model and the store's mapping to the API model (what the entity routes answer with).
_MAPPINGS: Final[Mapping[str, tuple[type[EntityItem], Callable[[Any], Entity]]]] = MappingProxyType(
    {
        "customer": (CustomerItem, customer_from_item),
        "product": (ProductItem, product_from_item),
        "order": (OrderItem, order_from_item),
    }
)
_SERIALIZER: Final = TypeSerializer()


def entity_from_stored(item: Mapping[str, Any]) -> Entity:
    """The API model of a stored item (``item`` of a search document, read with exact numbers by the client's
    ``ExactJSONSerializer``: a float here would be refused), built the
    way the entity routes build theirs: the storage model reads the item, then ``prism.store.mapping`` maps
    it. Raises SearchItemUnreadableError, with the cause, when the item does not map."""
    entity = item.get("entity")
    try:
        storage, to_api = _MAPPINGS[str(entity)]
        attributes = {name: _SERIALIZER.serialize(value) for name, value in item.items()}
        return to_api(storage.from_raw_data(attributes))
    except (KeyError, TypeError, ValueError) as exc:  # pynamodb's errors are TypeErrors, pydantic's ValueErrors
        logger.error(
            "A search hit does not map to its API model",
            extra={"entity": entity, "id": item.get("id"), "reason": f"{type(exc).__name__}: {exc}"},
        )
        raise SearchItemUnreadableError(
            f"the stored {entity} {item.get('id')!r} does not map to its API model"
        ) from exc


@dataclass(frozen=True)
class SearchPage:
    """One page: the entities in order (the API models of ``GET /{collection}/{id}``), the cursor of the next
    page (None on the last), and the facet counts of everything the query matches (not only this page)."""

    items: list[Entity]
    next_cursor: str | None
    facets: dict[str, dict[str, int]]


class SearchService:
    """Runs searches on a SearchIndex, paging with signed cursors."""

    def __init__(self, index: SearchIndex, cursors: CursorCodec) -> None:
        self._index = index
        self._cursors = cursors

    def search(self, query: SearchQuery, limit: int, cursor: str | None = None) -> SearchPage:
        """The page of ``query`` after ``cursor`` (the first page without one).

        Asks for one hit more than ``limit``: a next cursor is given only when there is a next item, so the
        last page never leads to an empty one.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidSearchError(f"limit must be 1 to {MAX_LIMIT}, not {limit}", details={"parameter": "limit"})
        listing = query.fingerprint()
        after = None if cursor is None else self._position(listing, cursor, len(query.sort_clauses()))
        result = self._index.search(query.entities, query.body(limit + 1, after))
        hits = result.hits[:limit]
        next_cursor = None
        if len(result.hits) > limit:
            next_cursor = self._cursors.encode(listing, {"after": exact_json.dumps(hits[-1].sort)})
        facets = {name: dict(result.facets.get(name, {})) for name in FACETS}
        items = [entity_from_stored(hit.item) for hit in hits]
        return SearchPage(items, next_cursor, facets)

    def _position(self, listing: str, cursor: str, length: int) -> list[Any]:
        position = self._cursors.decode(listing, cursor)
        # The signature proves this API wrote it; the shape is still checked, so a bug never reaches OpenSearch.
        try:
            after: Any = exact_json.loads(position.get("after", "null"))
        except json.JSONDecodeError as exc:
            raise InvalidCursorError(
                "the cursor is not valid for this search; request the first page without one"
            ) from exc
        if not (
            isinstance(after, list)
            and len(after) == length
            and all(isinstance(v, str | int | Decimal) and not isinstance(v, bool) for v in after)
        ):
            raise InvalidCursorError("the cursor is not valid for this search; request the first page without one")
        return after
