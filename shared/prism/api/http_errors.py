"""Every error the API answers, mapped to HTTP in this one place, always as
``{"error": {"code": ..., "message": ..., "details": ...}}`` and never with a stack trace."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from prism.domain import errors as domain
from prism.errors import PrismError
from prism.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver


class RequestError(PrismError):
    """A request the API cannot even read; raised before any domain logic runs."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


#: Domain error -> HTTP status. Subclasses are looked up through their MRO, so InvalidTransitionError
#: (a ConflictError) is a 409 too.
DOMAIN_STATUS: Final[dict[type[domain.PrismDomainError], int]] = {
    domain.NotFoundError: 404,
    domain.ConflictError: 409,
    domain.PreconditionFailedError: 412,
    domain.PreconditionRequiredError: 428,
    domain.ValidationError: 422,
    domain.InvalidCursorError: 400,
    domain.StoreUnavailableError: 503,
    domain.InvalidSearchError: 400,
    domain.SearchIndexUnavailableError: 503,
    domain.SearchItemUnreadableError: 500,
}


def error_body(code: str, message: str, details: Any = None) -> str:
    return json.dumps(
        {"error": {"code": code, "message": message, "details": details if details is not None else {}}}, default=str
    )


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=error_body(code, message, details))


def domain_status(error: domain.PrismDomainError) -> int:
    for cls in type(error).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Install the mapping on ``app``."""

    @app.exception_handler(domain.PrismDomainError)
    def _domain(error: domain.PrismDomainError) -> Response[Any]:
        return error_response(domain_status(error), error.code, str(error), error.details)

    @app.exception_handler(RequestError)
    def _request(error: RequestError) -> Response[Any]:
        return error_response(error.status, error.code, str(error), error.details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(_error: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(415, "unsupported_media_type", "send the body as application/json")

    @app.exception_handler(RequestValidationError)
    def _validation(error: RequestValidationError) -> Response[Any]:
        if any(e.get("type") == "json_invalid" for e in error.errors()):
            return error_response(400, "malformed_body", "the body is not valid JSON")
        problems = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in error.errors()
        ]
        return error_response(422, "invalid_request", "the request does not match the API's schema", problems)

    @app.exception_handler(IdempotencyValidationError)
    def _idempotency_reuse(error: IdempotencyValidationError) -> Response[Any]:
        return error_response(
            422, "idempotency_key_reused", "this Idempotency-Key was already used with a different request body"
        )

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def _idempotency_in_progress(error: IdempotencyAlreadyInProgressError) -> Response[Any]:
        return error_response(
            409, "request_in_progress", "a request with this Idempotency-Key is still being processed; retry later"
        )

    @app.not_found
    def _no_route(_error: Exception) -> Response[Any]:
        return error_response(
            404, "route_not_found", f"no route for {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        return internal_error(error)

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable(error: UnicodeDecodeError) -> Response[Any]:
        # API Gateway sends a body that is not UTF-8 base64-encoded, and Powertools decodes it to text without
        # catching the error: such a body is the client's malformed JSON, not our failure.
        if not body_is_text(app.current_event.body, is_base64=bool(app.current_event.is_base64_encoded)):
            return error_response(400, "malformed_body", "the body is not valid JSON (it is not UTF-8 text)")
        return internal_error(error)


def internal_error(error: Exception) -> Response[Any]:
    """The one place an unexpected error becomes a response: logged with its traceback, answered without it."""
    logger.exception("Unhandled error in the API", extra={"error_type": type(error).__name__})
    return error_response(500, "internal_error", "the server failed to process this request")


def body_is_text(body: str | None, *, is_base64: bool) -> bool:
    """Whether an API Gateway event's body is UTF-8 text once decoded (bodies that are not base64 always are)."""
    if not is_base64 or not body:
        return True
    try:
        base64.b64decode(body, validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return False
    return True
