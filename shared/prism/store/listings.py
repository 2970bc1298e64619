"""Paginated listings: a limit, a signed cursor, and pages that never end in an empty one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from pydantic import BaseModel

from prism.domain.errors import InvalidCursorError, ValidationError
from prism.store.table_access import collect_page

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynamodb.models import Model
    from pynamodb.pagination import ResultIterator

    from prism.domain.cursor import CursorCodec
    from prism.domain.models import Page

MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 20
SCAN_PAGE_SIZE: Final = 250
SCAN_MAX_REQUESTS: Final = 8  # a Scan-based page reads at most 2,000 items, then returns what it has

TABLE_KEY: Final = ("pk", "sk")
INDEX_KEY: Final = ("gsi1pk", "gsi1sk", "pk", "sk")

ModelT = TypeVar("ModelT", bound="Model")
ApiT = TypeVar("ApiT", bound=BaseModel)


@dataclass(frozen=True)
class Listing:
    """One listing: its cursor name, the key attributes it resumes after, and how many requests a page may take."""

    name: str
    key_attributes: tuple[str, ...]
    max_requests: int = 1

    @classmethod
    def over_index(cls, name: str) -> Listing:
        return cls(name, INDEX_KEY)

    @classmethod
    def over_scan(cls, name: str) -> Listing:
        return cls(name, TABLE_KEY, SCAN_MAX_REQUESTS)


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(
            f"limit must be an integer from 1 to {MAX_PAGE_SIZE}, got {limit!r}",
            code="invalid_limit",
            details={"limit": limit, "max": MAX_PAGE_SIZE},
        )


def start_position(cursors: CursorCodec, listing: Listing, cursor: str | None) -> dict[str, str] | None:
    """Where ``cursor`` resumes ``listing`` (None: from the start); raises InvalidCursorError."""
    if cursor is None:
        return None
    position = cursors.decode(listing.name, cursor)
    if tuple(sorted(position)) != tuple(sorted(listing.key_attributes)):
        raise InvalidCursorError("the cursor is not valid for this listing; request the first page without one")
    return position


def page_of(
    results: ResultIterator[ModelT],
    model: type[ModelT],
    *,
    cursors: CursorCodec,
    listing: Listing,
    limit: int,
    to_api: Callable[[ModelT], ApiT],
    page_type: type[Page[ApiT]],
) -> Page[ApiT]:
    """One page of ``listing`` from ``results``, as ``page_type`` (a parametrized Page, so that it serializes
    its items by their own model)."""
    items, position = collect_page(
        results, model, limit=limit, key_attributes=listing.key_attributes, max_requests=listing.max_requests
    )
    next_cursor = None if position is None else cursors.encode(listing.name, position)
    return page_type(items=[to_api(item) for item in items], next_cursor=next_cursor)
