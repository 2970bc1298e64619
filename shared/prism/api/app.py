"""The API's resolver, built from its services so tests and the OpenAPI generator can build their own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from prism.api.entity_routes import JSON, Cursor, EntityApi, Limit, add_entity_routes, documented
from prism.api.http_errors import register_error_handlers
from prism.api.search_routes import add_search_route
from prism.domain.models import (
    Customer,
    CustomerCreate,
    CustomerPatch,
    Order,
    OrderCreate,
    OrderPatch,
    Page,
    Product,
    ProductCreate,
    ProductPatch,
)

if TYPE_CHECKING:
    from prism.api.cached_reads import CachedReads
    from prism.api.idempotency import IdempotentCreates
    from prism.search.service import SearchService
    from prism.store.port import EntityStore

Category = Annotated[str | None, Query(min_length=1, max_length=64, description="only this category")]
TITLE = "Prism API"
VERSION = "1.0.0"


def create_app(
    store: EntityStore, reads: CachedReads, creates: IdempotentCreates, search: SearchService
) -> APIGatewayRestResolver:
    """The resolver with every route, the request guard and the error mapping installed."""
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)
    router = APIGatewayRouter()

    entity_apis: list[EntityApi[Any, Any, Any]] = [
        EntityApi("customer", "customers", CustomerCreate, CustomerPatch, Customer, store.create_customer,
                  store.get_customer, store.update_customer, store.delete_customer, store.list_customers),
        EntityApi("product", "products", ProductCreate, ProductPatch, Product, store.create_product,
                  store.get_product, store.update_product, store.delete_product, None),
        EntityApi("order", "orders", OrderCreate, OrderPatch, Order, store.create_order,
                  store.get_order, store.update_order, store.delete_order, store.list_orders),
    ]  # fmt: skip
    for entity_api in entity_apis:
        add_entity_routes(router, entity_api, reads, creates)

    @router.get(
        "/customers/<id>/orders",
        summary="Orders of a customer, newest first",
        tags=["customers"],
        responses=documented(200, Page[Order], 400, 404),
    )
    def customer_orders(id: str, limit: Limit = 20, cursor: Cursor = None) -> Response[Any]:
        page = store.list_customer_orders(id, limit, cursor)
        return Response(status_code=200, content_type=JSON, body=page.model_dump_json())

    @router.get(
        "/products",
        summary="List products, optionally of one category",
        tags=["products"],
        responses=documented(200, Page[Product], 400),
    )
    def list_products(category: Category = None, limit: Limit = 20, cursor: Cursor = None) -> Response[Any]:
        page = store.list_products(category, limit, cursor)
        return Response(status_code=200, content_type=JSON, body=page.model_dump_json())

    add_search_route(router, search)

    @router.get("/health", summary="Liveness", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router)
    return app
