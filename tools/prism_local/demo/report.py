"""The demo's report: what the API answered, what the fanout did, what each sink counted, whether the MySQL
projection and the OpenSearch indices equal DynamoDB, what the lake holds, and how fast."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from prism.relational.rows import TABLES
from prism.search.indices import INDICES
from prism_local.analytics import render_table

if TYPE_CHECKING:
    from prism_local.analytics import QueryResult
    from prism_local.demo.api_workload import ApiTraffic

#: An entity's state in a store: its version, and whether it is deleted (a tombstone).
EntityState = tuple[int, bool]
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


@dataclass(frozen=True)
class StoreComparison:
    database: str
    rows: tuple[StoreRow, ...]
    waited_s: float  # how long the demo waited for the relational sink to catch up

    @property
    def matches(self) -> bool:
        return all(row.matches for row in self.rows)

    @property
    def mismatches(self) -> int:
        return sum(row.mismatches for row in self.rows)


def compare_stores(dynamodb: StoreState, mysql: StoreState, *, database: str, waited_s: float) -> StoreComparison:
    """DynamoDB against the MySQL projection. An entity mismatches unless both hold it at the same version
    and both live or both deleted: so a live entity missing or at another version in MySQL, a deleted one
    still live there, and a row DynamoDB does not have all count. An order line mismatches unless both have it."""
    rows = []
    for spec in TABLES.values():
        keys = {k for k in dynamodb.entities.keys() | mysql.entities.keys() if k[0] == spec.entity}
        differing = sum(1 for key in keys if dynamodb.entities.get(key) != mysql.entities.get(key))
        rows.append(
            StoreRow(
                spec.name,
                f"v_{spec.name}",
                len(dynamodb.live(spec.entity)),
                len(mysql.live(spec.entity)),
                (dynamodb.tombstones(spec.entity), mysql.tombstones(spec.entity)),
                differing,
            )
        )
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
class SearchComparison:
    rows: tuple[SearchRow, ...]
    waited_s: float  # how long the demo waited for the search sink to catch up

    @property
    def matches(self) -> bool:
        return all(row.matches for row in self.rows)

    @property
    def mismatches(self) -> int:
        return sum(row.mismatches for row in self.rows)


def compare_search(
    dynamodb: StoreState, documents: dict[tuple[str, str], EntityState], *, prefix: str, waited_s: float
) -> SearchComparison:
    """DynamoDB against the search indices, as ``compare_stores`` does for MySQL: an entity mismatches unless
    both hold it at the same version and both live or both deleted (a tombstone document)."""
    indexed = StoreState(documents, frozenset())
    rows = []
    for index in INDICES.values():
        keys = {k for k in dynamodb.entities.keys() | documents.keys() if k[0] == index.entity}
        rows.append(
            SearchRow(
                index.alias(prefix),
                len(dynamodb.live(index.entity)),
                len(indexed.live(index.entity)),
                (dynamodb.tombstones(index.entity), indexed.tombstones(index.entity)),
                sum(1 for key in keys if dynamodb.entities.get(key) != documents.get(key)),
            )
        )
    return SearchComparison(tuple(rows), waited_s)


def caught_up(dynamodb: StoreState, mysql: StoreState) -> int:
    """How many of DynamoDB's entities MySQL holds in the same state (the progress of the relational sink)."""
    return sum(1 for key, state in dynamodb.entities.items() if mysql.entities.get(key) == state)


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
    elapsed_s: float

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
        "every change reached every sink; MySQL and OpenSearch match DynamoDB; the lake holds every change;"
        " no 5xx;"
        " nothing was dead-lettered"
        if result.passed
        else "see the rows above"
    )
    lines += ["", f"result: {'PASS' if result.passed else 'FAIL'} — {verdict}  ({result.elapsed_s:.1f} s)"]
    return "\n".join(lines)


def _stores(result: DemoResult) -> list[str]:
    """The stores section: DynamoDB against the MySQL projection, the relational sink's figures, and one
    analytics query's answer."""
    stores, r, a = result.stores, result.relational, result.analytics
    lines = [
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
    """The search section: DynamoDB's live items against each alias's live documents (tombstones apart), and
    the search sink's figures."""
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
    return lines


def _lake(result: DemoResult) -> list[str]:
    """The lake line: objects written and the distinct changes the lake's objects hold against the envelopes
    published (read back from S3, gunzipped)."""
    lake = result.lake
    missing = len(result.expected - lake.changes)
    return [
        "",
        f"lake: objects written {lake.objects_written:>5}   ({lake.objects} in the bucket, {lake.lines} lines;"
        f" {lake.records} changes read)",
        f"lake: distinct change event ids  {lake.event_ids:>5}   vs {result.fanout.published} envelopes published;"
        f" {missing} workload change(s) missing   {'ok' if result.lake_complete else 'MISSING'}",
    ]
