"""``GET /search``: full-text search over the search projection, with filters, sorting, facets and signed
``search_after`` cursors.

Parameters whose rules span several values (ranges, the sort, which entity has a field) are plain strings
and numbers here and are checked by ``search_query``, so a bad one is a 400 naming the parameter. No
``from __future__ import annotations``: Powertools reads these signatures at registration (see
entity_routes).
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from prism.api.entity_routes import JSON, Cursor, documented
from prism.search.query import ENTITIES, MAX_LIMIT, SORTS, search_query
from prism.search.service import SearchService

Text = Annotated[str | None, Query(min_length=1, max_length=64)]
Price = Annotated[float | None, Query(description="product price bound, inclusive (price_min <= price_max)")]
Instant = Annotated[
    str | None,
    Query(
        max_length=64,
        description="ISO 8601 date (its whole UTC day) or date-time (UTC without an offset), inclusive",
    ),
]


class SearchResults(BaseModel):
    """One page of search results. ``items`` are the entities as stored (customers, products and orders
    mixed when no ``entity`` is given; each has ``id`` and ``entity``); ``facets`` count everything the
    search matches, per category, status and entity."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]]
    next_cursor: str | None = None
    facets: dict[str, dict[str, int]] = Field(
        description="facet (category, status, entity) -> value -> number of matching items"
    )


def add_search_route(router: APIGatewayRouter, service: SearchService) -> None:
    @router.get(
        "/search",
        summary="Search customers, products and orders",
        tags=["search"],
        responses=documented(200, SearchResults, 400, 503),
    )
    def search(
        *,
        q: Annotated[
            str | None,
            Query(max_length=200, description="words to find in name, email, category, status or tier, or an exact id"),
        ] = None,
        entity: Annotated[str | None, Query(description=f"only this entity: {', '.join(ENTITIES)}")] = None,
        category: Text = None,
        status: Text = None,
        tier: Text = None,
        price_min: Price = None,
        price_max: Price = None,
        created_from: Instant = None,
        created_to: Instant = None,
        sort: Annotated[str, Query(description=f"one of {', '.join(SORTS)}")] = "relevance",
        limit: Annotated[int, Query(description=f"page size (1-{MAX_LIMIT})")] = 20,
        cursor: Cursor = None,
    ) -> Response[Any]:
        query = search_query(
            q=q,
            entity=entity,
            category=category,
            status=status,
            tier=tier,
            price_min=price_min,
            price_max=price_max,
            created_from=created_from,
            created_to=created_to,
            sort=sort,
        )
        page = service.search(query, limit, cursor)
        results = SearchResults(items=page.items, next_cursor=page.next_cursor, facets=page.facets)
        return Response(status_code=200, content_type=JSON, body=results.model_dump_json())
