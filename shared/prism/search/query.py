"""``GET /search``'s parameters -> a validated SearchQuery -> the OpenSearch request body.

Pure: no client, no I/O, so every rule here is unit-tested in milliseconds. Each filter and sort belongs to
the entities whose documents have its field (``category`` and ``price`` to products, ``status`` to orders,
``tier`` to customers, ``name`` to customers and products). The entities searched are the requested ones (all
by default) narrowed to those owning every field used, so ``?category=books`` searches products only and a
sort never meets a document without its field; when nothing is left the request is an InvalidSearchError.

Every sort ends with the tiebreaker ``id`` then ``entity`` (unique together across the indices), so that
``search_after`` pages have neither gaps nor repeats.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from prism.domain.errors import InvalidSearchError
from prism.search.indices import INDICES

ENTITIES: Final = tuple(INDICES)  # ("customer", "product", "order")
MAX_LIMIT: Final = 100
#: Above any price the API accepts; a bound beyond it would overflow the scaled_float's long.
MAX_PRICE: Final = Decimal(10) ** 15

#: Fields searched as words by ``q`` (besides an exact match on ``id``).
TEXT_FIELDS: Final = ("name", "email", "category", "status", "tier")
#: Facet name -> the exact field it counts.
FACETS: Final = {"category": "category.keyword", "status": "status.keyword", "entity": "entity"}
FACET_SIZE: Final = 50

_TIEBREAKER: Final = ({"id": {"order": "asc"}}, {"entity": {"order": "asc"}})
#: sort parameter -> (its leading sort clause, the entities that have its field)
SORTS: Final[dict[str, tuple[dict[str, Any], frozenset[str]]]] = {
    "relevance": ({"_score": {"order": "desc"}}, frozenset(ENTITIES)),
    "created_at": ({"created_at": {"order": "asc"}}, frozenset(ENTITIES)),
    "-created_at": ({"created_at": {"order": "desc"}}, frozenset(ENTITIES)),
    "price": ({"price": {"order": "asc"}}, frozenset({"product"})),
    "-price": ({"price": {"order": "desc"}}, frozenset({"product"})),
    "name": ({"name.keyword": {"order": "asc"}}, frozenset({"customer", "product"})),
}
#: Filter parameter -> (the exact field it matches, the entities that have it).
_TERM_FILTERS: Final = {
    "category": ("category.keyword", frozenset({"product"})),
    "status": ("status.keyword", frozenset({"order"})),
    "tier": ("tier.keyword", frozenset({"customer"})),
}
_PRICED: Final = frozenset({"product"})


@dataclass(frozen=True)
class DateBound:
    """One end of the ``created_at`` range. A date-only value covers its whole (UTC) day: ``first`` is its
    midnight and ``after`` the next one; a date-time is one instant (``after`` is None)."""

    first: datetime
    after: datetime | None = None

    def covers_after(self, other: DateBound) -> bool:
        """Whether this range start comes after ``other``, a range end."""
        return self.first >= other.after if other.after is not None else self.first > other.first


@dataclass(frozen=True)
class SearchQuery:
    """A search request, validated: ``entities`` are those actually searched, in ENTITIES order."""

    entities: tuple[str, ...]
    text: str | None = None
    terms: tuple[tuple[str, str], ...] = ()  # (parameter, value), e.g. ("category", "books")
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    created_from: DateBound | None = None
    created_to: DateBound | None = None
    sort: str = "relevance"

    def sort_clauses(self) -> list[dict[str, Any]]:
        """The sort, always ending with the unique tiebreaker."""
        return [SORTS[self.sort][0], *_TIEBREAKER]

    def fingerprint(self) -> str:
        """Names this query (everything but the page size and position), so a cursor cannot resume another."""
        canonical = json.dumps(
            {
                "entities": self.entities,
                "text": self.text,
                "terms": self.terms,
                "price": [_text(self.price_min), _text(self.price_max)],
                "created": [_bound(self.created_from), _bound(self.created_to)],
                "sort": self.sort,
            },
            separators=(",", ":"),
        )
        return "search:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def body(self, size: int, search_after: list[Any] | None = None) -> dict[str, Any]:
        """The ``_search`` body: live documents only, the filters, the text query, the sort, the facets."""
        filters: list[dict[str, Any]] = [{"term": {"deleted": False}}]
        filters += [{"term": {_TERM_FILTERS[name][0]: value}} for name, value in self.terms]
        if self.price_min is not None or self.price_max is not None:
            price: dict[str, str] = {}
            if self.price_min is not None:
                price["gte"] = str(self.price_min)
            if self.price_max is not None:
                price["lte"] = str(self.price_max)
            filters.append({"range": {"price": price}})
        created = self._created_range()
        if created:
            filters.append({"range": {"created_at": created}})
        query: dict[str, Any] = {"filter": filters}
        if self.text is not None:
            query["must"] = [
                {
                    "bool": {
                        "should": [
                            {"multi_match": {"query": self.text, "fields": list(TEXT_FIELDS)}},
                            {"term": {"id": self.text}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ]
        body: dict[str, Any] = {
            "query": {"bool": query},
            "sort": self.sort_clauses(),
            "size": size,
            "track_total_hits": False,
            "aggs": {name: {"terms": {"field": field, "size": FACET_SIZE}} for name, field in FACETS.items()},
        }
        if search_after is not None:
            body["search_after"] = search_after
        return body

    def _created_range(self) -> dict[str, str]:
        bounds: dict[str, str] = {}
        if self.created_from is not None:
            bounds["gte"] = _iso(self.created_from.first)
        end = self.created_to
        if end is not None:
            if end.after is not None:
                bounds["lt"] = _iso(end.after)
            else:
                bounds["lte"] = _iso(end.first)
        return bounds


def search_query(
    *,
    q: str | None = None,
    entity: str | None = None,
    category: str | None = None,
    status: str | None = None,
    tier: str | None = None,
    price_min: float | Decimal | None = None,
    price_max: float | Decimal | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    sort: str = "relevance",
) -> SearchQuery:
    """The query these parameters ask for; InvalidSearchError (a 400) names the first parameter that is wrong."""
    if entity is not None and entity not in ENTITIES:
        raise InvalidSearchError(
            f"entity must be one of {', '.join(ENTITIES)} (or absent for all), not {entity!r}",
            details={"parameter": "entity", "allowed": list(ENTITIES)},
        )
    if sort not in SORTS:
        raise InvalidSearchError(
            f"sort must be one of {', '.join(SORTS)}, not {sort!r}",
            details={"parameter": "sort", "allowed": list(SORTS)},
        )
    low, high = _price("price_min", price_min), _price("price_max", price_max)
    if low is not None and high is not None and low > high:
        raise InvalidSearchError(
            f"price_min ({low}) is greater than price_max ({high})", details={"parameter": "price_min"}
        )
    start, end = _date("created_from", created_from), _date("created_to", created_to)
    if start is not None and end is not None and start.covers_after(end):
        raise InvalidSearchError(
            f"created_from ({created_from}) is after created_to ({created_to})", details={"parameter": "created_from"}
        )
    terms = tuple(
        (name, value) for name, value in (("category", category), ("status", status), ("tier", tier)) if value
    )
    owners: dict[str, frozenset[str]] = {name: _TERM_FILTERS[name][1] for name, _ in terms}
    if low is not None or high is not None:
        owners["price_min/price_max"] = _PRICED
    owners[f"sort={sort}"] = SORTS[sort][1]
    entities = _narrowed({entity} if entity else set(ENTITIES), entity, owners)
    text = q.strip() if q is not None and q.strip() else None
    return SearchQuery(entities, text, terms, low, high, start, end, sort)


def _narrowed(requested: set[str], entity: str | None, owners: dict[str, frozenset[str]]) -> tuple[str, ...]:
    remaining = set(requested)
    for owned in owners.values():
        remaining &= owned
    if remaining:
        return tuple(e for e in ENTITIES if e in remaining)
    restricted = {name: owned for name, owned in owners.items() if owned != frozenset(ENTITIES)}
    uses = "; ".join(f"{name} applies to {', '.join(sorted(owned))} only" for name, owned in restricted.items())
    scope = f"entity={entity} lacks a field" if entity else "no entity has every field"
    raise InvalidSearchError(
        f"{scope} these parameters need ({uses}); search one entity's fields at a time",
        details={"entity": entity, "parameters": sorted(restricted)},
    )


def _price(name: str, value: float | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidSearchError(f"{name} must be a finite number", details={"parameter": name})
    amount = Decimal(str(value))
    if not Decimal(0) <= amount <= MAX_PRICE:
        raise InvalidSearchError(f"{name} must be between 0 and {MAX_PRICE}", details={"parameter": name})
    return amount


def _date(name: str, value: str | None) -> DateBound | None:
    """An ISO 8601 date (``2026-01-31``, its whole day) or date-time; without an offset it is UTC."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return DateBound(midnight, midnight + timedelta(days=1))
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return DateBound(moment.astimezone(UTC))
    except (ValueError, OverflowError) as exc:  # OverflowError: a day or offset past year 1 or 9999
        raise InvalidSearchError(
            f"{name} must be an ISO 8601 date or date-time (2026-01-31 or 2026-01-31T12:00:00Z), not {value!r}",
            details={"parameter": name},
        ) from exc


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _bound(value: DateBound | None) -> list[str | None] | None:
    if value is None:
        return None
    return [_iso(value.first), None if value.after is None else _iso(value.after)]
