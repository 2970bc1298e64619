"""The demo's report: what the API answered, what the fanout did, what each sink counted, every store's live
items beside DynamoDB's (MySQL, OpenSearch, the lake's ``latest`` view, the cache), what the lake holds, one
search and one lake query as a user would run them, and how fast."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from prism.cache.entries import CachedAbsence, CacheHit
from prism.relational.rows import TABLES
from prism.search.indices import INDICES
from prism_local.analytics import render_table

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from prism_local.analytics import QueryResult
    from prism_local.demo.api_workload import ApiTraffic

#: An entity's state in a store: its version, and whether it is deleted (a tombstone).
EntityState = tuple[int, bool]
#: A change or a live key at a version: entity, id, version.
VersionedKey = tuple[str, str, int]
#: An order line as both stores can state it: order id, line number (from 1), sku, qty, unit price.
OrderLine = tuple[str, int, str, int, Decimal]


@dataclass(frozen=True)
class FanoutFigures:
    stream_records: int
    invocations: int
    function_errors: int
    cold_starts: int
    published: int
    claim_checks: int
    skipped: int
    malformed: int


@dataclass(frozen=True)
class CacheSinkFigures:
    records: int
    applied: int
    stale: int


@dataclass(frozen=True)
class RelationalSinkFigures:
    """What RelationalFunction counted in its EMF metrics."""

    records: int
    keys_written: int
    transactions: int
    connections_opened: int
    dead_lettered: int


@dataclass(frozen=True)
class LakeFigures:
    """What LakeFunction counted, and what the lake bucket holds when read back."""

    records: int
    objects_written: int  # puts, counting a retried batch's rewrites
    objects: int  # objects in the bucket
    lines: int
    event_ids: int  # distinct change event ids over all objects
    changes: frozenset[tuple[str, str, int]]  # (entity, id, version) of every line


@dataclass(frozen=True)
class SearchSinkFigures:
    """What SearchFunction counted in its EMF metrics."""

    records: int
    indexed: int
    conflicts: int  # 409s: OpenSearch already held that version or a newer one (success)
    retried: int
    rejected: int
    unavailable: int


@dataclass(frozen=True)
class StoreState:
    """What one store holds: every entity by (entity, id), live or tombstone, and every live order line."""

    entities: dict[tuple[str, str], EntityState]
    lines: frozenset[OrderLine]

    def live(self, entity: str) -> dict[str, int]:
        return {i: version for (e, i), (version, deleted) in self.entities.items() if e == entity and not deleted}

    def tombstones(self, entity: str) -> int:
        return sum(1 for (e, _), (_, deleted) in self.entities.items() if e == entity and deleted)


@dataclass(frozen=True)
class StoreRow:
    """One line of the stores table: a view's live rows against DynamoDB's live items, and how many differ."""

    label: str
    view: str
    dynamodb: int
    mysql: int
    tombstones: tuple[int, int] | None  # (DynamoDB, MySQL), for entities
    mismatches: int

    @property
    def matches(self) -> bool:
        # Equal counts follow from no mismatch; checked too, so a row can never read "ok" beside unequal counts.
        counts_equal = self.dynamodb == self.mysql and (self.tombstones is None or len(set(self.tombstones)) == 1)
        return self.mismatches == 0 and counts_equal


class _RowsComparison:
    """A store compared row by row with DynamoDB: it matches when every row does."""

    rows: tuple[StoreRow, ...] | tuple[SearchRow, ...]

    @property
    def matches(self) -> bool:
        return all(row.matches for row in self.rows)

    @property
    def mismatches(self) -> int:
        return sum(row.mismatches for row in self.rows)


@dataclass(frozen=True)
class StoreComparison(_RowsComparison):
    database: str
    rows: tuple[StoreRow, ...]
    waited_s: float  # how long the demo waited for the relational sink to catch up


def _entity_figures(dynamodb: StoreState, other: StoreState, entity: str) -> tuple[int, int, tuple[int, int], int]:
    """``entity`` in DynamoDB and in ``other``: live counts, tombstone counts, and how many keys differ (not
    held by both at the same version, both live or both deleted)."""
    keys = {k for k in dynamodb.entities.keys() | other.entities.keys() if k[0] == entity}
    differing = sum(1 for key in keys if dynamodb.entities.get(key) != other.entities.get(key))
    tombstones = (dynamodb.tombstones(entity), other.tombstones(entity))
    return len(dynamodb.live(entity)), len(other.live(entity)), tombstones, differing


def compare_stores(dynamodb: StoreState, mysql: StoreState, *, database: str, waited_s: float) -> StoreComparison:
    """DynamoDB against the MySQL projection. An entity mismatches unless both hold it at the same version
    and both live or both deleted: so a live entity missing or at another version in MySQL, a deleted one
    still live there, and a row DynamoDB does not have all count. An order line mismatches unless both have it."""
    rows = [
        StoreRow(spec.name, f"v_{spec.name}", *_entity_figures(dynamodb, mysql, spec.entity))
        for spec in TABLES.values()
    ]
    rows.append(
        StoreRow(
            "order lines",
            "v_order_lines",
            len(dynamodb.lines),
            len(mysql.lines),
            None,
            len(dynamodb.lines ^ mysql.lines),
        )
    )
    return StoreComparison(database, tuple(rows), waited_s)


@dataclass(frozen=True)
class SearchRow:
    """One line of the search table: an alias's live documents against DynamoDB's live items."""

    alias: str
    dynamodb: int
    opensearch: int
    tombstones: tuple[int, int]  # (DynamoDB, OpenSearch)
    mismatches: int

    @property
    def matches(self) -> bool:
        counts_equal = self.dynamodb == self.opensearch and self.tombstones[0] == self.tombstones[1]
        return self.mismatches == 0 and counts_equal


@dataclass(frozen=True)
class SearchComparison(_RowsComparison):
    rows: tuple[SearchRow, ...]
    waited_s: float  # how long the demo waited for the search sink to catch up


def compare_search(
    dynamodb: StoreState, documents: dict[tuple[str, str], EntityState], *, prefix: str, waited_s: float
) -> SearchComparison:
    """DynamoDB against the search indices, as ``compare_stores`` does for MySQL: an entity mismatches unless
    both hold it at the same version and both live or both deleted (a tombstone document)."""
    indexed = StoreState(documents, frozenset())
    rows = [
        SearchRow(index.alias(prefix), *_entity_figures(dynamodb, indexed, index.entity)) for index in INDICES.values()
    ]
    return SearchComparison(tuple(rows), waited_s)


def caught_up(dynamodb: StoreState, mysql: StoreState) -> int:
    """How many of DynamoDB's entities MySQL holds in the same state (the progress of the relational sink)."""
    return sum(1 for key, state in dynamodb.entities.items() if mysql.entities.get(key) == state)


@dataclass(frozen=True)
class LakeLatestComparison:
    """The lake's ``latest`` view (newest version per key, deletes excluded) against DynamoDB's live items."""

    live: int  # rows of ``latest``
    missing: int  # live in DynamoDB, absent from ``latest`` or there at another version
    extra: int  # in ``latest`` but not live in DynamoDB at that version (deleted, older, unknown)

    @property
    def matches(self) -> bool:
        return not self.missing and not self.extra


def compare_lake_latest(dynamodb: StoreState, latest: Iterable[VersionedKey]) -> LakeLatestComparison:
    """``latest`` matches when its (entity, id, version) set is exactly DynamoDB's live items."""
    live = {
        (entity, entity_id, version)
        for (entity, entity_id), (version, deleted) in dynamodb.entities.items()
        if not deleted
    }
    rows = list(latest)
    in_lake = set(rows)
    # A duplicate row would be a key twice in ``latest``: count it as extra, not hide it in the set.
    return LakeLatestComparison(len(rows), len(live - in_lake), len(in_lake - live) + len(rows) - len(in_lake))


#: What the cache holds for one key, decoded by ``prism.cache.entries.decode_entry``: a body at a version, a
#: cached absence (a delete fence, or a brief "not found"), or None for a fence that reads miss.
CacheEntry = CacheHit | CachedAbsence | None


@dataclass(frozen=True)
class CacheComparison:
    """The cache's entries against DynamoDB. The cache is read-through: it holds only what was read since the
    last write of each key, so it matches when every cached body is at DynamoDB's current version of a live
    key, and no cached absence hides a live one; how many keys it holds is not compared."""

    bodies: int  # entities cached as live
    fences: int  # invalidated after a write: reads miss until the next read refills
    absences: int  # delete fences and "not found" entries
    stale: int  # a body at another version than DynamoDB's
    not_live: int  # a body for a key DynamoDB holds deleted, or not at all
    hidden: int  # a cached absence for a key that is live in DynamoDB

    @property
    def matches(self) -> bool:
        return not self.stale and not self.not_live and not self.hidden


def compare_cache(dynamodb: StoreState, entries: Mapping[tuple[str, str], CacheEntry]) -> CacheComparison:
    """Each cache entry, by (entity, id), against DynamoDB's state of that key."""
    bodies = fences = absences = stale = not_live = hidden = 0
    for key, entry in entries.items():
        state = dynamodb.entities.get(key)
        live_version = state[0] if state is not None and not state[1] else None
        if isinstance(entry, CacheHit):
            bodies += 1
            if live_version is None:
                not_live += 1
            elif entry.version != live_version:
                stale += 1
        elif isinstance(entry, CachedAbsence):
            absences += 1
            hidden += live_version is not None
        else:
            fences += 1
    return CacheComparison(bodies, fences, absences, stale, not_live, hidden)


@dataclass(frozen=True)
class GlanceRow:
    """One store in the at-a-glance table: its live items, and whether it matches DynamoDB (None for DynamoDB,
    the reference) with the reason when it does not, or a note on what it holds."""

    store: str
    live: int
    matches: bool | None
    note: str = ""


def at_a_glance(
    stores: StoreComparison, search: SearchComparison, lake: LakeLatestComparison, cache: CacheComparison
) -> tuple[GlanceRow, ...]:
    """One row per store, from the detailed comparisons (MySQL's order lines are not entities: left out)."""
    entity_rows = [row for row in stores.rows if row.tombstones is not None]
    return (
        GlanceRow("DynamoDB", sum(row.dynamodb for row in entity_rows), None, "the reference"),
        GlanceRow(
            "MySQL",
            sum(row.mysql for row in entity_rows),
            stores.matches,
            "" if stores.matches else f"{stores.mismatches} mismatch(es), see below",
        ),
        GlanceRow(
            "OpenSearch",
            sum(row.opensearch for row in search.rows),
            search.matches,
            "" if search.matches else f"{search.mismatches} mismatch(es), see below",
        ),
        GlanceRow(
            "lake",
            lake.live,
            lake.matches,
            "`latest`: newest version per key, deletes excluded"
            if lake.matches
            else f"`latest`: {lake.missing} live item(s) missing or at another version, {lake.extra} not live",
        ),
        GlanceRow(
            "cache",
            cache.bodies,
            cache.matches,
            f"read-through (what was read since its last write); {cache.fences} fence(s),"
            f" {cache.absences} cached absence(s)"
            if cache.matches
            else f"{cache.stale} at another version, {cache.not_live} cached live but deleted or unknown,"
            f" {cache.hidden} cached absent but live",
        ),
    )


def render_glance(rows: Iterable[GlanceRow]) -> list[str]:
    """The at-a-glance table: store, live items, matches DynamoDB (yes / no / the reference) and the note."""
    cells = [(row.store, row.live, _verdict(row.matches), row.note) for row in rows]
    return [
        "stores at a glance: live items, and whether each store matches DynamoDB",
        *render_table(("store", "live items", "matches DynamoDB", "note"), cells),
    ]


def _verdict(matches: bool | None) -> str:
    if matches is None:
        return "-"
    return "yes" if matches else "NO"


@dataclass(frozen=True)
class SearchExample:
    """One search through the API: its request path, HTTP status, hits (items as stored) and facet counts."""

    path: str
    status: int
    items: tuple[dict[str, Any], ...]
    facets: dict[str, dict[str, int]]


#: The hits' columns the report shows, in this order, when any hit has them.
SEARCH_COLUMNS = ("entity", "id", "name", "category", "price", "stock", "status", "tier")


def render_search_example(example: SearchExample) -> list[str]:
    """The request, a table of its hits (the columns the hits have, of SEARCH_COLUMNS) and one facets line."""
    columns = [column for column in SEARCH_COLUMNS if any(column in item for item in example.items)] or ["id"]
    facets = "; ".join(
        f"{name}: " + (", ".join(f"{value} {count}" for value, count in counts.items()) or "none")
        for name, counts in example.facets.items()
    )
    return [
        f"one search through the API: GET {example.path}  -> {example.status}, {len(example.items)} hit(s)",
        *render_table(columns, [[item.get(column) for column in columns] for item in example.items]),
        f"  facets: {facets or 'none'}",
    ]


@dataclass(frozen=True)
class LakeQueryAnswer:
    """One analyst's query over the lake, run as ``prism lake query`` runs it (DuckDB over the lake's objects)."""

    sql: str
    result: QueryResult


def render_lake_query(answer: LakeQueryAnswer) -> list[str]:
    return [
        "one lake query (prism lake query, DuckDB over the lake's objects):",
        *(f"  {line}" for line in answer.sql.strip().splitlines()),
        *render_table(answer.result.columns, answer.result.rows),
    ]


@dataclass(frozen=True)
class AnalyticsTable:
    """One analytics query's result, as the report shows it."""

    title: str
    source: str
    result: QueryResult


@dataclass(frozen=True)
class DemoResult:
    traffic: ApiTraffic
    fanout: FanoutFigures
    cache_sink: CacheSinkFigures
    failures: dict[str, int]
    relational: RelationalSinkFigures
    stores: StoreComparison
    search_sink: SearchSinkFigures
    search: SearchComparison
    lake: LakeFigures
    analytics: AnalyticsTable
    lake_latest: LakeLatestComparison
    cache: CacheComparison
    search_example: SearchExample
    lake_query: LakeQueryAnswer
    elapsed_s: float

    @property
    def glance(self) -> tuple[GlanceRow, ...]:
        return at_a_glance(self.stores, self.search, self.lake_latest, self.cache)

    @property
    def search_answered(self) -> bool:
        """The example search succeeded and found something (its query matches every demo product)."""
        return self.search_example.status == 200 and bool(self.search_example.items)

    @property
    def expected(self) -> set[tuple[str, str, int]]:
        return set(self.traffic.writes_ms)

    @property
    def lake_complete(self) -> bool:
        """The lake holds one distinct change per envelope published, and every change of the workload."""
        return self.lake.event_ids == self.fanout.published and self.expected <= self.lake.changes

    def unexplained(self) -> set[tuple[str, str, int]]:
        """Changes in the lake (every envelope published) that no write of the workload explains."""
        return set(self.lake.changes) - self.expected

    @property
    def passed(self) -> bool:
        server_errors = sum(count for status, count in self.traffic.statuses.items() if status >= 500)
        cache_sink_complete = self.cache_sink.records >= len(self.expected)
        return (
            cache_sink_complete
            and self.stores.matches
            and self.search.matches
            and not self.search_sink.rejected
            and self.lake_complete
            and self.lake_latest.matches
            and self.cache.matches
            and self.search_answered
            and not self.relational.dead_lettered
            and not server_errors
            and not self.traffic.unexpected
            and not any(self.failures.values())
        )


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def render(result: DemoResult) -> str:
    t, f, c = result.traffic, result.fanout, result.cache_sink
    expected = len(result.expected)
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(t.statuses.items()))
    cache = ", ".join(f"{source} {count}" for source, count in sorted(t.cache.items()))
    lines = [
        "",
        "Prism local pipeline — report",
        "=============================",
        f"API requests (HTTP, local start-api) {t.requests:>5}   by status: {statuses}",
        f"API latency                          p50 {percentile(t.latencies_ms, 0.5):,.1f} ms   "
        f"p95 {percentile(t.latencies_ms, 0.95):,.1f} ms",
        f"cache hit ratio on GET by id         {t.hit_ratio:>5.0%}   ({cache})",
        f"successful writes (entity changes)   {expected:>5}",
        f"stream records read by fanout        {f.stream_records:>5}   "
        f"({f.invocations} invocations, {f.cold_starts} cold start(s), {f.function_errors} function errors)",
        f"envelopes published to SNS           {f.published:>5}   "
        f"(expected {expected}; {f.claim_checks} via claim check)",
        f"non-entity records skipped           {f.skipped:>5}   (e.g. email guards; counted, not published)",
        f"malformed records                    {f.malformed:>5}",
        f"cache sink: changes read             {c.records:>5}   ({c.applied} applied, {c.stale} stale and ignored)",
        "",
        "dead-lettered / failed:  " + ", ".join(f"{name} {count}" for name, count in result.failures.items()),
        *_stores(result),
        *_search(result),
        *_lake(result),
    ]
    lines.extend(f"unexpected API answer: {problem}" for problem in t.unexpected[:10])
    lines.extend(f"envelope no API write explains: {key}" for key in sorted(result.unexplained())[:10])
    verdict = (
        "every change reached every sink; MySQL, OpenSearch, the lake's latest view and the cache match DynamoDB;"
        " the lake holds every change; the search found products; no 5xx;"
        " nothing was dead-lettered"
        if result.passed
        else "see the rows above"
    )
    lines += ["", f"result: {'PASS' if result.passed else 'FAIL'} — {verdict}  ({result.elapsed_s:.1f} s)"]
    return "\n".join(lines)


def _stores(result: DemoResult) -> list[str]:
    """The stores section: every store at a glance, then DynamoDB against the MySQL projection in detail, the
    relational sink's figures, and one analytics query's answer."""
    stores, r, a = result.stores, result.relational, result.analytics
    lines = [
        "",
        *render_glance(result.glance),
        "",
        f"stores: DynamoDB (live items) vs MySQL views in {stores.database}",
        "  entity         view             DynamoDB     MySQL   tombstones  mismatches",
    ]
    for row in stores.rows:
        tombstones = f"{row.tombstones[0]} / {row.tombstones[1]}" if row.tombstones else "-"
        lines.append(
            f"  {row.label:<14} {row.view:<15} {row.dynamodb:>9} {row.mysql:>9} {tombstones:>12} {row.mismatches:>11}"
            f"   {'ok' if row.matches else 'DIFFERS'}"
        )
    if stores.matches:
        lines.append(
            "  MySQL matches DynamoDB: every live entity at DynamoDB's version, no deleted one live"
            f"  (waited {stores.waited_s:.1f} s)"
        )
    else:
        lines.append(
            f"  MySQL does NOT match DynamoDB after waiting {stores.waited_s:.1f} s: {stores.mismatches} mismatch(es)"
        )
    lines += [
        f"relational sink: changes read       {r.records:>5}   ({r.keys_written} keys written in {r.transactions}"
        f" transactions, {r.connections_opened} connection(s) opened, {r.dead_lettered} dead-lettered)",
        "",
        f"{a.title} ({a.source}):",
        *render_table(a.result.columns, a.result.rows),
    ]
    return lines


def _search(result: DemoResult) -> list[str]:
    """The search section: DynamoDB's live items against each alias's live documents (tombstones apart), the
    search sink's figures, and one search through the API with its hits and facets."""
    search, figures = result.search, result.search_sink
    lines = [
        "",
        "stores: DynamoDB (live items) vs OpenSearch (live documents per alias)",
        "  alias                    DynamoDB  OpenSearch   tombstones  mismatches",
    ]
    for row in search.rows:
        tombstones = f"{row.tombstones[0]} / {row.tombstones[1]}"
        lines.append(
            f"  {row.alias:<22} {row.dynamodb:>10} {row.opensearch:>11} {tombstones:>12} {row.mismatches:>11}"
            f"   {'ok' if row.matches else 'DIFFERS'}"
        )
    if search.matches:
        lines.append(f"  OpenSearch matches DynamoDB  (waited {search.waited_s:.1f} s)")
    else:
        lines.append(
            f"  OpenSearch does NOT match DynamoDB after waiting {search.waited_s:.1f} s:"
            f" {search.mismatches} mismatch(es)"
        )
    lines.append(
        f"search sink: changes read          {figures.records:>5}   ({figures.indexed} indexed,"
        f" {figures.conflicts} version conflicts ignored, {figures.retried} item retries,"
        f" {figures.rejected} rejected, {figures.unavailable} unavailable)"
    )
    return [*lines, "", *render_search_example(result.search_example)]


def _lake(result: DemoResult) -> list[str]:
    """The lake lines: objects written and the distinct changes the lake's objects hold against the envelopes
    published (read back from S3, gunzipped), then one analyst's query over the lake and its answer."""
    lake = result.lake
    missing = len(result.expected - lake.changes)
    return [
        "",
        f"lake: objects written {lake.objects_written:>5}   ({lake.objects} in the bucket, {lake.lines} lines;"
        f" {lake.records} changes read)",
        f"lake: distinct change event ids  {lake.event_ids:>5}   vs {result.fanout.published} envelopes published;"
        f" {missing} workload change(s) missing   {'ok' if result.lake_complete else 'MISSING'}",
        "",
        *render_lake_query(result.lake_query),
    ]
