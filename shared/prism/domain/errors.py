"""The domain's errors. Each carries a machine ``code`` and ``details`` a client can act on; the API maps the
classes to HTTP statuses in one place, so nothing here knows about HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from prism.errors import PrismError

if TYPE_CHECKING:
    from collections.abc import Mapping


class PrismDomainError(PrismError):
    """Base of the errors a request can end in; ``code`` defaults to the class's own."""

    default_code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, details={self.details!r})"


class NotFoundError(PrismDomainError):
    """The entity does not exist, or was deleted."""

    default_code = "not_found"


class ConflictError(PrismDomainError):
    """The request clashes with the current state: a taken email or sku, or a concurrent write that won."""

    default_code = "conflict"


class InvalidTransitionError(ConflictError):
    """An order cannot move from its current status to the requested one."""

    default_code = "invalid_transition"


class PreconditionFailedError(PrismDomainError):
    """The caller's expected version (If-Match) is not the entity's current version."""

    default_code = "precondition_failed"


class PreconditionRequiredError(PrismDomainError):
    """The caller must say which version it expects (If-Match) and did not."""

    default_code = "precondition_required"


class ValidationError(PrismDomainError):
    """Well-formed input that cannot be applied, such as an order line for an unknown sku (not a schema error).

    Not pydantic's ValidationError: import it under another name where both are needed.
    """

    default_code = "validation_failed"


class InvalidCursorError(PrismDomainError):
    """A pagination cursor that was changed, truncated, or issued for another listing."""

    default_code = "invalid_cursor"


class StoreUnavailableError(PrismDomainError):
    """The data store is throttling or cannot be reached; retrying later may succeed."""

    default_code = "store_unavailable"


class InvalidSearchError(PrismDomainError):
    """Search parameters that cannot form a query: an unknown sort or entity, a reversed range, a date that is
    not ISO 8601, a page size out of range, or filters that no single entity has."""

    default_code = "invalid_search"


class SearchIndexUnavailableError(PrismDomainError):
    """The search index (OpenSearch) cannot be reached, is throttling, or is not configured; retrying later
    may succeed. The entity routes do not depend on it."""

    default_code = "search_unavailable"


class SearchItemUnreadableError(PrismDomainError):
    """A stored item in the search index that does not map to its API model. The sink indexes the images of
    items the store wrote through the same storage models, so this is a bug (or a corrupted document), never
    bad input: the search fails (a 500, logged with the entity and id) rather than answer a page that
    silently lacks the item."""

    default_code = "search_item_unreadable"
