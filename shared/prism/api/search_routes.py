"""``GET /search``: full-text search over the search projection, with filters, sorting, facets and signed
``search_after`` cursors.

Parameters whose rules span several values (ranges, the sort, which entity has a field) are plain strings
and numbers here and are checked by ``search_query``, so a bad one is a 400 naming the parameter. No
``from __future__ import annotations``: Powertools reads these signatures at registration (see
entity_routes).
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from prism.api.entity_routes import JSON, Cursor, documented
from prism.domain.models import Customer, Order, Product
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


def _entity_and_discriminator(
    cls: type[BaseModel], _schema: CoreSchema, handler: GetJsonSchemaHandler
) -> JsonSchemaValue:
    """A hit's JSON schema: ``allOf`` its entity model's own schema, by reference, and ``entity``. Pydantic
    would copy the inherited fields into a schema of their own; the reference keeps one model per entity for
    clients (generators make the hit a subclass of Customer, Product or Order)."""
    entity_model = next(base for base in cls.__bases__ if issubclass(base, BaseModel))
    # handler(<a model's core schema>) inlines that model; a model met inside another schema becomes a $ref
    # to its component, so ask for an array of it and keep the items.
    reference = handler(core_schema.list_schema(entity_model.__pydantic_core_schema__))["items"]
    entity = cls.model_fields["entity"].default
    return {
        "allOf": [
            reference,
            {"type": "object", "properties": {"entity": {"const": entity, "type": "string"}}, "required": ["entity"]},
        ],
        "title": cls.__name__,
        "description": cls.__doc__,
    }


class CustomerHit(Customer):
    """A customer exactly as ``GET /customers/{id}`` answers it, with ``entity: "customer"``."""

    entity: Literal["customer"] = "customer"
    __get_pydantic_json_schema__ = classmethod(_entity_and_discriminator)


class ProductHit(Product):
    """A product exactly as ``GET /products/{id}`` answers it, with ``entity: "product"``."""

    entity: Literal["product"] = "product"
    __get_pydantic_json_schema__ = classmethod(_entity_and_discriminator)


class OrderHit(Order):
    """An order exactly as ``GET /orders/{id}`` answers it, with ``entity: "order"``."""

    entity: Literal["order"] = "order"
    __get_pydantic_json_schema__ = classmethod(_entity_and_discriminator)


SearchHit = Annotated[CustomerHit | ProductHit | OrderHit, Field(discriminator="entity")]
_HITS: Final[Mapping[type[BaseModel], type[CustomerHit | ProductHit | OrderHit]]] = MappingProxyType(
    {Customer: CustomerHit, Product: ProductHit, Order: OrderHit}
)


def search_hit(entity: Customer | Product | Order) -> CustomerHit | ProductHit | OrderHit:
    """``entity`` as a search hit: the same model (so the same fields and serialization, money as strings)
    with its ``entity`` discriminator."""
    return _HITS[type(entity)].model_validate(entity, from_attributes=True)


class SearchResults(BaseModel):
    """One page of search results. ``items`` are the entities exactly as ``GET /{collection}/{id}`` answers
    them, each with its ``entity`` (customers, products and orders are mixed when no ``entity`` is given);
    ``facets`` count everything the search matches, per category, status and entity."""

    model_config = ConfigDict(extra="forbid")

    items: list[SearchHit]
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
        results = SearchResults(
            items=[search_hit(entity) for entity in page.items], next_cursor=page.next_cursor, facets=page.facets
        )
        return Response(status_code=200, content_type=JSON, body=results.model_dump_json())
