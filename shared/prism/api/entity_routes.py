"""The CRUD routes every entity shares (create, get, list, patch, delete), built from an EntityApi spec.

No ``from __future__ import annotations`` here on purpose: Powertools reads these route signatures at
registration to validate requests and build the OpenAPI document, and the model classes are local values.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from prism.api.cached_reads import CachedReads
from prism.api.idempotency import IdempotentCreates, StoredResponse
from prism.api.preconditions import etag, expected_version
from prism.domain.models import Page

CreateT = TypeVar("CreateT", bound=BaseModel)
PatchT = TypeVar("PatchT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)

JSON = "application/json"
Limit = Annotated[int, Query(ge=1, le=100, description="page size (1-100)")]
Cursor = Annotated[str | None, Query(description="opaque cursor from the previous page's next_cursor")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{8,128}$",
        description="retry-safe create: same key + body, same response",
    ),
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag you read, or *")]


@dataclass(frozen=True)
class EntityApi(Generic[CreateT, PatchT, OutT]):
    """What the routes of one entity need: its names, its models and the store's operations on it."""

    entity: str  # "customer"
    collection: str  # "customers"
    create_model: type[CreateT]
    patch_model: type[PatchT]
    out_model: type[OutT]
    create: Any  # (CreateT) -> OutT
    get: Any  # (id) -> OutT
    update: Any  # (id, PatchT, expected_version) -> OutT
    delete: Any  # (id, expected_version) -> the tombstone's version
    list: Any  # (limit, cursor) -> Page[OutT]; None when the entity lists with filters of its own


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error the API answers: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


def documented(success: int, model: Any, *errors: int) -> dict[int, Any]:
    """OpenAPI responses of a route: its success body and the errors it can answer.

    Routes return bodies serialized once (the cache stores exactly those bytes), so the schemas are declared
    here rather than through the return annotation, which would make Powertools validate them again.
    """
    responses: dict[int, Any] = {success: {"description": "OK"}}
    if model is not None:
        responses[success]["content"] = {JSON: {"model": model}}
    elif success == 204:
        # No content at all: without this Powertools documents the return annotation as a JSON body, which
        # a 204 cannot have (and API Gateway still labels it application/json, so clients would try to parse it).
        responses[success] = {"description": "No Content", "content": {}}
    for status in (*errors, 422):
        responses[status] = {"description": ERROR_MEANINGS[status], "content": {JSON: {"model": ErrorBody}}}
    return responses


ERROR_MEANINGS = {
    400: "Malformed request (unreadable body, invalid cursor, Idempotency-Key or search parameter)",
    404: "No such entity",
    409: "Conflict (taken email or sku, invalid state transition, concurrent write)",
    412: "If-Match does not match the current version",
    413: "Body too large",
    415: "Body is not application/json",
    422: "Invalid request (schema or domain validation)",
    428: "If-Match is required",
    503: "The search index is unavailable; retry later",
}


def entity_response(entity: BaseModel, status: int = 200, **headers: str) -> Response[Any]:
    version = int(getattr(entity, "version"))  # noqa: B009 - every entity model has a version
    return Response(
        status_code=status,
        content_type=JSON,
        body=entity.model_dump_json(),
        headers={"ETag": etag(version), **headers},
    )


def add_entity_routes(
    router: APIGatewayRouter, api: EntityApi[Any, Any, Any], reads: CachedReads, creates: IdempotentCreates
) -> None:
    base = f"/{api.collection}"
    item = f"{base}/<id>"
    create_route = f"POST {base}"

    def create_and_answer(body: dict[str, Any]) -> StoredResponse:
        entity = api.create(api.create_model.model_validate(body))
        reads.invalidate(api.entity, entity.id, entity.version)
        return StoredResponse(
            201, entity.model_dump_json(), {"ETag": etag(entity.version), "Location": f"{base}/{entity.id}"}
        )

    creates.register(create_route, create_and_answer)
    create_model, patch_model, out_model = api.create_model, api.patch_model, api.out_model

    @router.post(
        base,
        status_code=201,
        summary=f"Create a {api.entity}",
        tags=[api.collection],
        responses=documented(201, out_model, 400, 409, 413, 415),
    )
    def create(
        request: Annotated[create_model, Body()],  # type: ignore[valid-type]
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        stored = creates.run(create_route, idempotency_key, cast("BaseModel", request).model_dump(mode="json"))
        return Response(status_code=stored.status, content_type=JSON, body=stored.body, headers=stored.headers)

    if api.list is not None:

        @router.get(
            base,
            summary=f"List {api.collection}",
            tags=[api.collection],
            responses=documented(200, Page[out_model], 400),  # type: ignore[valid-type]
        )
        def list_all(limit: Limit = 20, cursor: Cursor = None) -> Response[Any]:
            page = api.list(limit, cursor)
            return Response(status_code=200, content_type=JSON, body=page.model_dump_json())

    @router.get(
        item,
        summary=f"Get a {api.entity} (read through the cache)",
        tags=[api.collection],
        responses=documented(200, out_model, 404),
    )
    def get(id: str) -> Response[Any]:
        return reads.get(api.entity, id, lambda: api.get(id))

    @router.patch(
        item,
        summary=f"Update a {api.entity}",
        tags=[api.collection],
        responses=documented(200, out_model, 400, 404, 409, 412, 413, 415, 428),
    )
    def patch(
        id: str,
        changes: Annotated[patch_model, Body()],  # type: ignore[valid-type]
        if_match: IfMatch = None,
    ) -> Response[Any]:
        entity = api.update(id, changes, expected_version(if_match))
        reads.invalidate(api.entity, id, entity.version)
        return entity_response(entity)

    @router.delete(
        item,
        status_code=204,
        summary=f"Delete a {api.entity}",
        tags=[api.collection],
        responses=documented(204, None, 404, 409, 412, 428),
    )
    def delete(id: str, if_match: IfMatch = None) -> Response[Any]:
        version = api.delete(id, expected_version(if_match))
        reads.invalidate(api.entity, id, version, deleted=True)
        # The tombstone's version: what the change pipeline publishes for this delete.
        return Response(status_code=204, headers={"ETag": etag(version)})
