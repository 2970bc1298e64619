"""The port the search API reads through: one query over some entities' indices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


@dataclass(frozen=True)
class SearchHit:
    """One matching document: the whole item, and its sort values (what ``search_after`` resumes after)."""

    item: dict[str, Any]
    sort: list[Any]


@dataclass(frozen=True)
class SearchResult:
    """The hits of one request, in order, and the facet counts (facet -> value -> documents)."""

    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


class SearchIndex(Protocol):
    """Runs a search request body (built by ``SearchQuery.body``) over the indices of ``entities``.

    Raises SearchIndexUnavailableError when the index cannot answer (unreachable, throttling, not configured).
    """

    def search(self, entities: Sequence[str], body: Mapping[str, Any]) -> SearchResult: ...
