"""The main job, as a user runs it: `prism demo` drives the whole local pipeline through the HTTP API and
reports PASS."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from prism_local.config import LocalConfig
from tests.conftest import cli_environment

pytestmark = pytest.mark.e2e


def test_the_demo_carries_every_api_change_to_every_sink(local_servers: LocalConfig) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prism_local.cli", "demo", "--items", "45"],
        env=cli_environment(local_servers),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    report = result.stdout
    assert result.returncode == 0, result.stderr[-3000:] + report
    assert "result: PASS" in report
    statuses = re.search(r"API requests \(HTTP, local start-api\)\s+(\d+)\s+by status: (.*)", report)
    assert statuses is not None
    assert not re.search(r"\b5\d\d:", statuses.group(2)), "no 5xx"
    for refused in ("404: 1", "409: 1", "412: 1", "428: 1"):
        assert refused in statuses.group(2)
    hit_ratio = re.search(r"cache hit ratio on GET by id\s+(\d+)%", report)
    assert hit_ratio is not None
    assert int(hit_ratio.group(1)) >= 40, "every entity is read twice: the second read hits"
    published = re.search(r"envelopes published to SNS\s+(\d+)\s+\(expected (\d+);", report)
    assert published is not None
    assert published.group(1) == published.group(2)
    assert "messages per sink queue" not in report, "every sink queue has its sink function; none is drained"
    assert_lake_holds_every_change(report, int(published.group(2)))
    cache_sink = re.search(r"cache sink: changes read\s+(\d+)", report)
    assert cache_sink is not None
    assert int(cache_sink.group(1)) >= int(published.group(2))
    assert "envelope no API write explains" not in report
    assert_stores_match(report, int(published.group(2)))
    assert_search_matches(report, int(published.group(2)))
    assert_analytics_table(report)
    assert_stores_at_a_glance(report)
    assert_search_example(report)
    assert_lake_query(report, int(published.group(2)))
    assert "already running; using stack prism-demo-" in result.stderr, "a running stack is left alone"


def assert_stores_match(report: str, changes: int) -> None:
    """The stores section: every view's live rows equal DynamoDB's live items, nothing differs, and the
    relational sink read every change."""
    assert "MySQL matches DynamoDB" in report
    for label, view in (("customers", "v_customers"), ("products", "v_products"), ("orders", "v_orders")):
        row = re.search(rf"^  {label}\s+{view}\s+(\d+)\s+(\d+)\s+(\d+) / (\d+)\s+(\d+)\s+ok$", report, re.MULTILINE)
        assert row is not None, f"{view} row missing or not ok"
        dynamodb, mysql, tombstones_dynamodb, tombstones_mysql, mismatches = map(int, row.groups())
        assert dynamodb == mysql > 0, view
        assert tombstones_dynamodb == tombstones_mysql
        assert mismatches == 0
        if label == "customers":
            assert tombstones_dynamodb > 0, "the workload deletes customers"
    lines = re.search(r"^  order lines\s+v_order_lines\s+(\d+)\s+(\d+)\s+-\s+(\d+)\s+ok$", report, re.MULTILINE)
    assert lines is not None, "v_order_lines row missing or not ok"
    assert int(lines.group(1)) == int(lines.group(2)) > 0
    assert int(lines.group(3)) == 0
    sink = re.search(r"relational sink: changes read\s+(\d+)\s+\((\d+) keys written.*, (\d+) dead-lettered\)", report)
    assert sink is not None
    assert int(sink.group(1)) >= changes
    assert int(sink.group(2)) > 0
    assert sink.group(3) == "0"


def assert_search_matches(report: str, changes: int) -> None:
    """The search section: each alias's live documents equal DynamoDB's live items, tombstones included, and
    the search sink read every change and refused none."""
    assert "OpenSearch matches DynamoDB" in report
    for alias in ("customers", "products", "orders"):
        row = re.search(
            rf"^  prism-demo-\w+-{alias}\s+(\d+)\s+(\d+)\s+(\d+) / (\d+)\s+(\d+)\s+ok$", report, re.MULTILINE
        )
        assert row is not None, f"{alias} search row missing or not ok"
        dynamodb, opensearch, tombstones_dynamodb, tombstones_opensearch, mismatches = map(int, row.groups())
        assert dynamodb == opensearch > 0, alias
        assert tombstones_dynamodb == tombstones_opensearch
        assert mismatches == 0
        if alias == "customers":
            assert tombstones_opensearch > 0, "the workload deletes customers: tombstones"
    sink = re.search(
        r"search sink: changes read\s+(\d+)\s+\((\d+) indexed, (\d+) version conflicts ignored, \d+ item retries,"
        r" (\d+) rejected, (\d+) unavailable\)",
        report,
    )
    assert sink is not None, "the search sink line is missing"
    read, indexed, conflicts, rejected, unavailable = map(int, sink.groups())
    assert read >= changes
    assert indexed + conflicts >= changes
    assert (rejected, unavailable) == (0, 0)


def assert_lake_holds_every_change(report: str, published: int) -> None:
    """The lake line: objects were written, and the lake's objects hold one distinct change per envelope."""
    objects = re.search(
        r"lake: objects written\s+(\d+)\s+\((\d+) in the bucket, (\d+) lines; (\d+) changes read\)", report
    )
    assert objects is not None, "the lake's objects line is missing"
    written, in_bucket, lines, read = map(int, objects.groups())
    assert 0 < in_bucket <= written
    assert lines >= published
    assert read >= published
    ids = re.search(
        r"lake: distinct change event ids\s+(\d+)\s+vs (\d+) envelopes published; 0 workload change\(s\) missing\s+ok$",
        report,
        re.MULTILINE,
    )
    assert ids is not None, "the lake's event ids line is missing or not ok"
    assert int(ids.group(1)) == int(ids.group(2)) == published


def assert_analytics_table(report: str) -> None:
    """The top customers query's answer, as a table with its header, rule and at least one customer."""
    table = re.search(
        r"top customers by revenue \(sql/analytics/top_customers\.sql\):\n"
        r"  customer_id\s+name\s+email\s+orders\s+revenue\n"
        r"  -+  -+  -+  -+  -+\n"
        r"((?:  c_\S+ .*\n?)+)",
        report,
    )
    assert table is not None, "the analytics table is missing"
    for row in table.group(1).splitlines():
        assert re.search(r"@example\.com\s+\d+\s+\d+\.\d\d$", row), row


def assert_stores_at_a_glance(report: str) -> None:
    """One row per store: DynamoDB's live items (the reference), then MySQL, OpenSearch and the lake's
    ``latest`` holding as many and matching; the cache holds some (what was read, read-through) and matches."""
    assert "stores at a glance: live items, and whether each store matches DynamoDB" in report
    counts = {}
    for store, verdict in (
        ("DynamoDB", "-"),
        ("MySQL", "yes"),
        ("OpenSearch", "yes"),
        ("lake", "yes"),
        ("cache", "yes"),
    ):
        row = re.search(rf"^  {store}\s+(\d+)  {re.escape(verdict)}(?:\s|$)", report, re.MULTILINE)
        assert row is not None, f"the {store} row is missing or does not match"
        counts[store] = int(row.group(1))
    mysql_live = sum(
        int(row.group(1))
        for row in re.finditer(r"^  (?:customers|products|orders)\s+v_\w+\s+(\d+)", report, re.MULTILINE)
    )
    assert counts["DynamoDB"] == mysql_live > 0
    assert counts["MySQL"] == counts["OpenSearch"] == counts["lake"] == counts["DynamoDB"]
    assert 0 < counts["cache"] <= counts["DynamoDB"], "entities read and not written since are cached"


def assert_search_example(report: str) -> None:
    """The search through the API: 5 products, dearest first, and facets counting every live product."""
    header = re.search(
        r"one search through the API: GET /search\?q=product&entity=product&sort=-price&limit=5  -> 200, (\d+) hit"
        r"\(s\)\n  entity\s+id\s+name\s+category\s+price\s+stock\n  -[- ]+\n((?:  product .*\n)+)"
        r"  facets: (.*)$",
        report,
        re.MULTILINE,
    )
    assert header is not None, "the search example is missing"
    hits = header.group(2).splitlines()
    assert int(header.group(1)) == len(hits) == 5
    prices = [float(re.split(r"\s+", hit.strip())[5]) for hit in hits]
    for hit in hits:
        assert re.match(r"  product\s+sku-\d+\s+Product \d+\s+(books|games|tools|garden)\s+\d+\.\d\d\s+\d+$", hit), hit
    assert prices == sorted(prices, reverse=True), "sort=-price: dearest first"
    products = re.search(r"^  products\s+v_products\s+(\d+)", report, re.MULTILINE)
    assert products is not None
    facet = re.search(r"entity: product (\d+)", header.group(3))
    assert facet is not None
    assert int(facet.group(1)) == int(products.group(1)), "the facets count every live product"
    categories = re.search(r"category: ([^;]+)", header.group(3))
    assert categories is not None
    assert sum(int(part.split()[1]) for part in categories.group(1).split(", ")) == int(products.group(1))


def assert_lake_query(report: str, published: int) -> None:
    """The lake query: its SQL, then changes per entity and op, which add up to every change published."""
    table = re.search(
        r"one lake query \(prism lake query, DuckDB over the lake's objects\):\n"
        r"  SELECT entity, op, count\(DISTINCT event_id\) AS changes\n(?:  .*\n)*?"
        r"  entity\s+op\s+changes\n  -[- ]+\n((?:  \w+\s+(?:upsert|delete)\s+\d+\n?)+)",
        report,
    )
    assert table is not None, "the lake query is missing"
    rows = {tuple(line.split()[:2]): int(line.split()[2]) for line in table.group(1).splitlines()}
    assert set(rows) == {("customer", "delete"), ("customer", "upsert"), ("order", "upsert"), ("product", "upsert")}
    assert sum(rows.values()) == published
