"""The search API's logic: a validated query and a page position -> one page of items, its facets, and the
cursor of the next page.

The cursor is a CursorCodec cursor (HMAC-signed, like the listings'): its listing is the query's
fingerprint, so a cursor used with other parameters is an InvalidCursorError (a 400), and its position holds
the last hit's sort values (JSON text: they mix numbers and strings) that ``search_after`` resumes after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from prism.domain.errors import InvalidCursorError, InvalidSearchError
from prism.search.query import FACETS, MAX_LIMIT

#: The table's key attributes ride along in the stored item; they are storage, not part of the entity.
STORAGE_ATTRIBUTES: Final = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})

if TYPE_CHECKING:
    from prism.domain.cursor import CursorCodec
    from prism.search.port import SearchIndex
    from prism.search.query import SearchQuery


@dataclass(frozen=True)
class SearchPage:
    """One page: the items in order, the cursor of the next page (None on the last), and the facet counts
    of everything the query matches (not only this page)."""

    items: list[dict[str, Any]]
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
            next_cursor = self._cursors.encode(listing, {"after": json.dumps(hits[-1].sort, separators=(",", ":"))})
        facets = {name: dict(result.facets.get(name, {})) for name in FACETS}
        items = [{k: v for k, v in hit.item.items() if k not in STORAGE_ATTRIBUTES} for hit in hits]
        return SearchPage(items, next_cursor, facets)

    def _position(self, listing: str, cursor: str, length: int) -> list[Any]:
        position = self._cursors.decode(listing, cursor)
        # The signature proves this API wrote it; the shape is still checked, so a bug never reaches OpenSearch.
        try:
            after: Any = json.loads(position.get("after", "null"))
        except json.JSONDecodeError as exc:
            raise InvalidCursorError(
                "the cursor is not valid for this search; request the first page without one"
            ) from exc
        if not (
            isinstance(after, list)
            and len(after) == length
            and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in after)
        ):
            raise InvalidCursorError("the cursor is not valid for this search; request the first page without one")
        return after
