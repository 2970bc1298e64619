"""The analytics queries of sql/analytics/, run on a projection the real relational sink built from known
changes: each result equals what Python computes from the same changes, over live entities only."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.changes.envelope import Op
from prism_local.analytics import analytics_queries, run_query
from tests.support.cache import sqs_record
from tests.support.relational import change, root_connection, sink_environment

if TYPE_CHECKING:
    from prism.changes.envelope import ChangeEvent
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

#: What counts as revenue in the queries (their headers say why).
REVENUE_STATUSES = frozenset({"PAID", "SHIPPED"})
CATEGORIES = ("books", "games", "tools")
#: Order creation times over three UTC days; the last is 23:30 at UTC-2, i.e. 01:30 UTC on the next day.
CREATED = (
    "2026-11-02T00:00:00.000000Z",
    "2026-11-02T23:59:59.999999Z",
    "2026-11-03T12:00:00.000000Z",
    "2026-11-03T23:30:00.000000-02:00",
)

DELETED_CUSTOMER = "c_03"
DELETED_PRODUCT = "sku-garden-1"
DELETED_ORDER = "o_deleted"


def money(cents: int) -> Decimal:
    return Decimal(cents) / 100


def workload(seed: int = 20261102) -> list[ChangeEvent]:
    """Fourteen customers, products over four categories and orders in every status over three UTC days, each
    entity written more than once, with a tombstone of each kind where it changes a result:

    - c_00..c_11 each have a paid order (so 11 live customers earn, one more than the top 10 shows); c_10 and
      c_11 earn exactly the same; c_12 has orders but no revenue; c_13 has no order.
    - c_03, deleted after paying for the biggest order, would top the list if its tombstone were ignored.
    - The only ``garden`` product is deleted; an order paid and then deleted counts nowhere.
    """
    rng = random.Random(seed)
    changes: list[ChangeEvent] = []

    for n in range(14):
        customer = f"c_{n:02d}"
        changes.append(change("customer", customer, 1, name=f"Customer {n}", email=f"c{n}@example.com"))
        changes.append(change("customer", customer, 2, name=f"Customer {n} (renamed)", email=f"c{n}@example.org"))
    changes.append(change("customer", DELETED_CUSTOMER, 3, deleted=True))

    for n in range(9):
        sku, category = f"sku-{n}", CATEGORIES[n % 3]
        price, stock = money(rng.randint(100, 99_999)), rng.randint(0, 500)
        changes.append(change("product", sku, 1, name=f"Product {n}", category=category, price=price, stock=stock))
        # The second write moves sku-0 to another category and reprices and restocks every product.
        moved = CATEGORIES[(n + 1) % 3] if n == 0 else category
        changes.append(
            change("product", sku, 2, name=f"Product {n}", category=moved, price=price + 1, stock=stock // 2)
        )
    changes.append(change("product", DELETED_PRODUCT, 1, name="Rake", category="garden", price=money(1999), stock=7))
    changes.append(change("product", DELETED_PRODUCT, 2, deleted=True))

    orders = iter(f"o_{number:03d}" for number in range(1, 1000))
    for n in range(10):
        customer = f"c_{n:02d}"
        for _ in range(rng.randint(0, 2)):
            changes.extend(order_history(rng, next(orders), customer, rng.choice(CREATED)))
        changes.extend(order_history(rng, next(orders), customer, rng.choice(CREATED), status="PAID"))
    same = [{"sku": "sku-1", "qty": 3, "unit_price": money(50_000)}]
    for customer in ("c_10", "c_11"):
        changes.extend(order_history(rng, next(orders), customer, CREATED[0], lines=same, status="SHIPPED"))
    for status in ("PENDING", "CANCELLED"):
        changes.extend(order_history(rng, next(orders), "c_12", CREATED[2], status=status))
    biggest = [{"sku": "sku-2", "qty": 90, "unit_price": money(99_999)}]
    changes.extend(order_history(rng, next(orders), DELETED_CUSTOMER, CREATED[3], lines=biggest, status="SHIPPED"))
    changes.extend(order_history(rng, DELETED_ORDER, "c_00", CREATED[1], lines=biggest, status="PAID"))
    changes.append(change("order", DELETED_ORDER, 4, deleted=True))
    return changes


def order_history(
    rng: random.Random,
    order: str,
    customer: str,
    created_at: str,
    *,
    lines: list[dict[str, Any]] | None = None,
    status: str | None = None,
) -> list[ChangeEvent]:
    """An order placed PENDING (v1), then moved on to its final status (v2, v3) as the state machine allows."""
    lines = lines or [
        {"sku": f"sku-{rng.randrange(9)}", "qty": rng.randint(1, 5), "unit_price": money(rng.randint(99, 20_000))}
        for _ in range(rng.randint(1, 3))
    ]
    total = sum((line["qty"] * line["unit_price"] for line in lines), Decimal("0.00"))
    final = status or rng.choice(["PENDING", "PAID", "SHIPPED", "CANCELLED"])
    path = {"PENDING": ["PENDING"], "PAID": ["PENDING", "PAID"], "SHIPPED": ["PENDING", "PAID", "SHIPPED"]}
    steps = path.get(final, ["PENDING", "CANCELLED"])
    fields: dict[str, Any] = {"customer_id": customer, "created_at": created_at, "lines": lines, "total": total}
    return [change("order", order, version, status=step, **fields) for version, step in enumerate(steps, start=1)]


def live_images(changes: list[ChangeEvent]) -> dict[str, dict[str, dict[str, Any]]]:
    """entity -> id -> the newest image, for every entity whose newest change is not a delete."""
    newest: dict[tuple[str, str], ChangeEvent] = {}
    for event in changes:
        kept = newest.get((event.entity, event.id))
        if kept is None or event.version > kept.version:
            newest[(event.entity, event.id)] = event
    live: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (entity, entity_id), event in newest.items():
        if event.op is Op.UPSERT and event.new_image is not None:
            live[entity][entity_id] = event.new_image
    return live


def utc_day(timestamp: str) -> date:
    return datetime.fromisoformat(timestamp).astimezone(UTC).date()


def revenue(order: dict[str, Any]) -> Decimal:
    return order["total"] if order["status"] in REVENUE_STATUSES else Decimal(0)


def expected_results(changes: list[ChangeEvent]) -> dict[str, list[tuple[Any, ...]]]:
    live = live_images(changes)
    orders, customers, products = live["order"].values(), live["customer"], live["product"].values()

    per_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        per_day[utc_day(order["created_at"])].append(order)
    revenue_per_day = [
        (day, len(placed), sum(o["status"] in REVENUE_STATUSES for o in placed), sum(map(revenue, placed)))
        for day, placed in sorted(per_day.items())
    ]

    per_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        if order["customer_id"] in customers:
            per_customer[order["customer_id"]].append(order)
    ranked = sorted(
        (
            (customer_id, customers[customer_id]["name"], customers[customer_id]["email"], len(placed), earned)
            for customer_id, placed in per_customer.items()
            if (earned := sum(map(revenue, placed))) > 0
        ),
        key=lambda row: (-row[4], row[0]),
    )

    per_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for product in products:
        per_category[product["category"]].append(product)
    stock_by_category = [
        (category, len(held), sum(p["stock"] for p in held), sum(p["price"] * p["stock"] for p in held))
        for category, held in sorted(per_category.items())
    ]
    return {"revenue_per_day": revenue_per_day, "top_customers": ranked[:10], "stock_by_category": stock_by_category}


def test_each_analytics_query_answers_what_the_changes_imply(provisioned: LocalConfig) -> None:
    changes = workload()
    deliveries = [sqs_record(event.to_json()) for event in changes for _ in range(2)]  # at least once: twice
    random.Random(7).shuffle(deliveries)  # any order: older versions arrive after newer ones
    expected = expected_results(changes)

    with sink_environment(provisioned) as sink:
        for start in range(0, len(deliveries), 40):
            response = process_partial_response({"Records": deliveries[start : start + 40]}, sink.parse_record, sink)
            assert response["batchItemFailures"] == []
            assert sink.summary.dead_lettered == 0

    with root_connection(provisioned) as connection:
        results = {name: run_query(connection, sql, source=name) for name, sql in analytics_queries().items()}

    assert {name: list(result.rows) for name, result in results.items()} == expected
    assert results["revenue_per_day"].columns == ("day", "orders", "paid_orders", "revenue")
    assert results["top_customers"].columns == ("customer_id", "name", "email", "orders", "revenue")
    assert results["stock_by_category"].columns == ("category", "products", "units_in_stock", "stock_value")
