"""The API maps every domain and request error to its HTTP status and the one error shape, in one place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from prism.api.app import create_app
from prism.api.cached_reads import CachedReads
from prism.api.preconditions import expected_version
from prism.domain import errors as domain
from prism_local.openapi import offline_creates
from tests.support.api_events import rest_event


class RaisingStore:
    """A store whose every operation raises the error it was given."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def operation(*_args: Any, **_kwargs: Any) -> Any:
            raise self.error

        return operation


class NoCache:
    """read_through goes straight to the loader, like a cache that is not configured."""

    def read_through(self, entity: str, entity_id: str, loader: Any) -> Any:
        from prism.cache.entries import CacheResult, Source

        loaded = loader()
        return (
            CacheResult(None, None, Source.BYPASS)
            if loaded is None
            else CacheResult(loaded[1], loaded[0], Source.BYPASS)
        )

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        return True


def answer(
    error: Exception, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    app = create_app(RaisingStore(error), CachedReads(NoCache()), offline_creates(), RaisingStore(error))  # type: ignore[arg-type]
    response = app.resolve(rest_event(method, path, body, headers), None)  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (domain.NotFoundError("customer c_1 does not exist"), 404, "not_found"),
        (domain.ConflictError("email taken", code="email_taken"), 409, "email_taken"),
        (domain.InvalidTransitionError("SHIPPED -> PAID"), 409, "invalid_transition"),
        (domain.PreconditionFailedError("stale"), 412, "precondition_failed"),
        (domain.ValidationError("unknown sku", details={"sku": "x"}), 422, "validation_failed"),
        (domain.InvalidCursorError("tampered"), 400, "invalid_cursor"),
        (domain.StoreUnavailableError("throttled"), 503, "store_unavailable"),
        (RuntimeError("a bug"), 500, "internal_error"),
    ],
)
def test_each_error_has_its_status_and_the_one_error_shape(error: Exception, status: int, code: str) -> None:
    got_status, body = answer(error, "GET", "/customers/c_1")

    assert got_status == status
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert "Traceback" not in json.dumps(body)


def test_a_500_never_leaks_the_exception_text() -> None:
    _, body = answer(RuntimeError("password=hunter2"), "GET", "/customers/c_1")

    assert "hunter2" not in json.dumps(body)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        ("POST", "/customers", "not json", {"Content-Type": "application/json"}, 400, "malformed_body"),
        (
            "POST",
            "/customers",
            {"email": "a@example.com"},
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/customers",
            {"email": "not-an-email", "name": "A"},
            {"Content-Type": "application/json"},
            422,
            "invalid_request",
        ),
        ("PATCH", "/customers/c_1", {"name": "B"}, {"Content-Type": "application/json"}, 428, "precondition_required"),
        ("GET", "/customers?limit=500", None, {}, 422, "invalid_request"),
        ("GET", "/no/such/route", None, {}, 404, "route_not_found"),
    ],
)
def test_requests_the_api_cannot_accept(
    method: str, path: str, body: Any, headers: dict[str, str], status: int, code: str
) -> None:
    got_status, answer_body = answer(domain.NotFoundError("unused"), method, path, body, headers)

    assert (got_status, answer_body["error"]["code"]) == (status, code)


@pytest.mark.parametrize(("header", "version"), [('"42"', 42), ('W/"42"', 42), ("42", 42), ("*", None)])
def test_if_match_names_a_version_or_any(header: str, version: int | None) -> None:
    assert expected_version(header) == version


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, domain.PreconditionRequiredError),
        ("", domain.PreconditionRequiredError),
        ('"abc"', domain.PreconditionFailedError),
    ],
)
def test_if_match_missing_or_foreign(header: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        expected_version(header)
