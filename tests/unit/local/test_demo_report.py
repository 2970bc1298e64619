"""The demo report's stores at a glance, example search and lake query: the comparisons and their rendering,
from plain values (no stack, no network)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from prism.cache.entries import CachedAbsence, CacheHit, KeyLayout, encode_body, encode_fence
from prism_local.analytics import QueryResult
from prism_local.demo.api_workload import ApiTraffic
from prism_local.demo.cache import read_cache
from prism_local.demo.report import (
    AnalyticsTable,
    CacheComparison,
    CacheSinkFigures,
    DemoResult,
    FanoutFigures,
    LakeFigures,
    LakeLatestComparison,
    LakeQueryAnswer,
    RelationalSinkFigures,
    SearchExample,
    SearchSinkFigures,
    StoreState,
    at_a_glance,
    compare_cache,
    compare_lake_latest,
    compare_search,
    compare_stores,
    render,
    render_glance,
    render_lake_query,
    render_search_example,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

#: DynamoDB as the demo sees it: two live customers, one deleted, one live product at version 2.
DYNAMODB = StoreState(
    {
        ("customer", "c1"): (1, False),
        ("customer", "c2"): (3, False),
        ("customer", "c3"): (2, True),
        ("product", "sku-1"): (2, False),
    },
    frozenset(),
)
LIVE = [("customer", "c1", 1), ("customer", "c2", 3), ("product", "sku-1", 2)]


def test_the_lake_latest_view_matches_when_it_holds_exactly_dynamodbs_live_items() -> None:
    comparison = compare_lake_latest(DYNAMODB, LIVE)

    assert comparison == LakeLatestComparison(live=3, missing=0, extra=0)
    assert comparison.matches


@pytest.mark.parametrize(
    ("latest", "missing", "extra"),
    [
        pytest.param(LIVE[:2], 1, 0, id="a live item missing"),
        pytest.param([*LIVE[:2], ("product", "sku-1", 1)], 1, 1, id="an older version"),
        pytest.param([*LIVE, ("customer", "c3", 2)], 0, 1, id="a deleted key live"),
        pytest.param([*LIVE, ("order", "o9", 1)], 0, 1, id="a key DynamoDB does not have"),
        pytest.param([*LIVE, LIVE[0]], 0, 1, id="a key twice"),
    ],
)
def test_the_lake_latest_view_differs(latest: list[tuple[str, str, int]], missing: int, extra: int) -> None:
    comparison = compare_lake_latest(DYNAMODB, latest)

    assert (comparison.missing, comparison.extra) == (missing, extra)
    assert not comparison.matches


def test_a_cache_of_current_bodies_fences_and_absences_matches() -> None:
    entries = {
        ("customer", "c1"): CacheHit(b"{}", 1),
        ("customer", "c2"): None,  # a fence: written after the last read
        ("customer", "c3"): CachedAbsence(2),  # the delete fence
        ("order", "o_missing"): CachedAbsence(None),
    }

    comparison = compare_cache(DYNAMODB, entries)

    assert comparison == CacheComparison(bodies=1, fences=1, absences=2, stale=0, not_live=0, hidden=0)
    assert comparison.matches


@pytest.mark.parametrize(
    ("entry", "differs"),
    [
        pytest.param((("customer", "c2"), CacheHit(b"{}", 2)), "stale", id="a body at an older version"),
        pytest.param((("customer", "c3"), CacheHit(b"{}", 1)), "not_live", id="a deleted key cached live"),
        pytest.param((("order", "o9"), CacheHit(b"{}", 1)), "not_live", id="a key DynamoDB does not have"),
        pytest.param((("customer", "c1"), CachedAbsence(None)), "hidden", id="a live key cached absent"),
    ],
)
def test_a_cache_entry_that_disagrees_with_dynamodb(entry: tuple[tuple[str, str], Any], differs: str) -> None:
    key, value = entry

    comparison = compare_cache(DYNAMODB, {key: value})

    assert getattr(comparison, differs) == 1
    assert not comparison.matches


class FakeRedis:
    """The two commands ``read_cache`` uses, over a dict; SCAN's glob limited to a trailing ``*``."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data

    def scan_iter(self, *, match: str, count: int) -> Iterator[bytes]:
        assert match.endswith("*")
        assert count > 0
        return iter([key.encode() for key in list(self.data) if key.startswith(match[:-1])])

    def get(self, name: str) -> bytes | None:
        return self.data.get(name)


def test_read_cache_decodes_every_entity_entry_by_the_caches_own_key_layout() -> None:
    keys = KeyLayout()
    redis = FakeRedis(
        {
            keys.entry("customer", "c1"): encode_body(1, b'{"id":"c1"}'),
            keys.entry("customer", "c:2"): encode_fence(3, deleted=False),
            keys.entry("product", "sku-1"): encode_fence(2, deleted=True),
            keys.fill_lock("customer", "c1"): b"token",
            "unrelated": b"x",
        }
    )

    entries = read_cache(redis, ["customer", "product", "order"])  # type: ignore[arg-type]

    assert entries == {
        ("customer", "c1"): CacheHit(b'{"id":"c1"}', 1),
        ("customer", "c:2"): None,
        ("product", "sku-1"): CachedAbsence(2),
    }


def matching_glance_inputs() -> tuple[Any, ...]:
    stores = compare_stores(DYNAMODB, DYNAMODB, database="prism", waited_s=0.1)
    search = compare_search(DYNAMODB, dict(DYNAMODB.entities), prefix="p-", waited_s=0.0)
    cache = compare_cache(DYNAMODB, {("customer", "c1"): CacheHit(b"{}", 1), ("customer", "c2"): None})
    return stores, search, compare_lake_latest(DYNAMODB, LIVE), cache


def test_at_a_glance_has_one_row_per_store_with_its_live_items() -> None:
    rows = at_a_glance(*matching_glance_inputs())

    assert [(row.store, row.live, row.matches) for row in rows] == [
        ("DynamoDB", 3, None),
        ("MySQL", 3, True),
        ("OpenSearch", 3, True),
        ("lake", 3, True),
        ("cache", 1, True),
    ]


def test_at_a_glance_says_why_a_store_does_not_match() -> None:
    stores = matching_glance_inputs()[0]
    search = compare_search(DYNAMODB, {("customer", "c1"): (1, False)}, prefix="p-", waited_s=60.0)
    cache = compare_cache(DYNAMODB, {("customer", "c3"): CacheHit(b"{}", 1)})

    rows = {row.store: row for row in at_a_glance(stores, search, compare_lake_latest(DYNAMODB, LIVE[:1]), cache)}

    assert rows["OpenSearch"].matches is False
    assert "3 mismatch(es)" in rows["OpenSearch"].note
    assert rows["lake"].matches is False
    assert "2 live item(s) missing" in rows["lake"].note
    assert rows["cache"].matches is False
    assert "1 cached live but deleted or unknown" in rows["cache"].note


def test_render_glance_is_a_table_of_stores_counts_and_verdicts() -> None:
    stores, search, lake, _ = matching_glance_inputs()
    cache = compare_cache(DYNAMODB, {("customer", "c1"): CacheHit(b"{}", 9)})

    lines = render_glance(at_a_glance(stores, search, lake, cache))

    assert lines[0].startswith("stores at a glance")
    assert lines[1].split() == ["store", "live", "items", "matches", "DynamoDB", "note"]
    assert lines[3].split()[:3] == ["DynamoDB", "3", "-"]
    assert lines[4].split() == ["MySQL", "3", "yes"]
    assert lines[7].split()[:4] == ["cache", "1", "NO", "1"]


def test_render_search_example_shows_the_request_the_hits_and_the_facets() -> None:
    example = SearchExample(
        "/search?q=product&entity=product&sort=-price&limit=5",
        200,
        (
            {"entity": "product", "id": "sku-2", "name": "Product 2", "category": "games", "price": "12.50"},
            {"entity": "product", "id": "sku-1", "name": "Product 1", "category": "books", "price": "9.99"},
        ),
        {"category": {"games": 1, "books": 1}, "status": {}, "entity": {"product": 2}},
    )

    lines = render_search_example(example)

    assert lines[0] == (
        "one search through the API: GET /search?q=product&entity=product&sort=-price&limit=5  -> 200, 2 hit(s)"
    )
    assert lines[1].split() == ["entity", "id", "name", "category", "price"]
    assert lines[3].split() == ["product", "sku-2", "Product", "2", "games", "12.50"]
    assert lines[-1] == "  facets: category: games 1, books 1; status: none; entity: product 2"


def test_render_lake_query_shows_the_sql_then_its_table() -> None:
    answer = LakeQueryAnswer(
        "SELECT entity, op, count(*) AS changes\nFROM changes\nGROUP BY entity, op",
        QueryResult(("entity", "op", "changes"), (("customer", "delete", 2), ("customer", "upsert", 10))),
    )

    lines = render_lake_query(answer)

    assert lines[1:4] == ["  SELECT entity, op, count(*) AS changes", "  FROM changes", "  GROUP BY entity, op"]
    assert lines[4].split() == ["entity", "op", "changes"]
    assert lines[6].split() == ["customer", "delete", "2"]


def demo_result(*, lake: LakeLatestComparison, cache: CacheComparison, search_status: int = 200) -> DemoResult:
    """A demo run in which everything went well but what the arguments say."""
    traffic = ApiTraffic(statuses=Counter({200: 3}), writes_ms={change: 0.0 for change in LIVE})
    stores, search, _, _ = matching_glance_inputs()
    return DemoResult(
        traffic,
        FanoutFigures(3, 1, 0, 1, 3, 0, 0, 0),
        CacheSinkFigures(3, 0, 3),
        {"cache DLQ": 0},
        RelationalSinkFigures(3, 3, 1, 1, 0),
        stores,
        SearchSinkFigures(3, 3, 0, 0, 0, 0),
        search,
        LakeFigures(3, 1, 1, 3, 3, frozenset(LIVE)),
        AnalyticsTable("top customers by revenue", "sql/analytics/top_customers.sql", QueryResult(("id",), ())),
        lake_latest=lake,
        cache=cache,
        search_example=SearchExample("/search?q=product", search_status, ({"id": "sku-1"},), {}),
        lake_query=LakeQueryAnswer("SELECT 1 AS one", QueryResult(("one",), ((1,),))),
        elapsed_s=1.0,
    )


MATCHING_LAKE = LakeLatestComparison(3, 0, 0)
MATCHING_CACHE = CacheComparison(1, 0, 0, 0, 0, 0)


def test_the_demo_passes_when_every_store_matches() -> None:
    result = demo_result(lake=MATCHING_LAKE, cache=MATCHING_CACHE)

    report = render(result)

    assert result.passed
    assert "stores at a glance" in report
    assert "one search through the API: GET /search?q=product" in report
    assert "one lake query" in report
    assert "result: PASS" in report


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(demo_result(lake=LakeLatestComparison(2, 1, 0), cache=MATCHING_CACHE), id="lake differs"),
        pytest.param(demo_result(lake=MATCHING_LAKE, cache=CacheComparison(1, 0, 0, 1, 0, 0)), id="stale cache"),
        pytest.param(demo_result(lake=MATCHING_LAKE, cache=MATCHING_CACHE, search_status=503), id="search failed"),
    ],
)
def test_the_demo_fails_when_the_lake_or_the_cache_differs_or_the_search_fails(result: DemoResult) -> None:
    assert not result.passed
    assert "result: FAIL" in render(result)
