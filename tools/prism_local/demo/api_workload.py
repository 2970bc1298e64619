"""The demo's traffic through the HTTP API (the local start-api): products, customers and orders created,
read (twice, so the second read can hit the cache), updated, moved through the order state machine and
deleted, plus a few requests that must fail (a taken email, a stale If-Match)."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class ApiTraffic:
    """What the workload sent and got back."""

    statuses: Counter[int] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)  # X-Cache of GET by id: hit / loaded / shared / bypass
    latencies_ms: list[float] = field(default_factory=list)
    # (entity, id, version) of every successful write -> when it was sent; these are the envelopes to expect.
    writes_ms: dict[tuple[str, str, int], float] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def hit_ratio(self) -> float:
        reads = sum(self.cache.values())
        return self.cache["hit"] / reads if reads else 0.0


class ApiClient:
    def __init__(self, base_url: str, traffic: ApiTraffic) -> None:
        self._base = base_url.rstrip("/")
        self.traffic = traffic

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self._base}{path}", data=data, method=method)  # noqa: S310 - loopback
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                answer = Answer(response.status, dict(response.headers), _json(response.read()))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, dict(error.headers), _json(error.read()))
        self.traffic.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.traffic.statuses[answer.status] += 1
        return answer

    def write(self, entity: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
              *, expect: int) -> Answer:  # fmt: skip
        """A write that must succeed; its version (the ETag) becomes an expected envelope."""
        sent = time.time() * 1000
        answer = self.call(method, path, body, headers)
        if answer.status != expect:
            self.traffic.unexpected.append(f"{method} {path} -> {answer.status} {answer.body}")
            return answer
        entity_id = path.rstrip("/").split("/")[-1] if method != "POST" else answer.body["id"]
        self.traffic.writes_ms[(entity, entity_id, _version(answer))] = sent
        return answer

    def read(self, path: str) -> Answer:
        answer = self.call("GET", path)
        self.traffic.cache[answer.headers.get("X-Cache", "none")] += 1
        return answer

    def expect_failure(
        self, method: str, path: str, body: Any, status: int, headers: dict[str, str] | None = None
    ) -> None:
        answer = self.call(method, path, body, headers)
        if answer.status != status:
            self.traffic.unexpected.append(f"{method} {path} -> {answer.status}, expected {status}")


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


def _version(answer: Answer) -> int:
    return int(answer.headers["ETag"].strip('"'))


def drive(base_url: str, entities: int, progress: Callable[[int, int], None], seed: int = 7) -> ApiTraffic:
    """Run the whole workload; ``progress(done, total)`` after every request."""
    return Workload(base_url, entities, progress, seed).run()


class Workload:
    """The phases of the demo's traffic; within a phase requests run concurrently, phases run in order."""

    CATEGORIES = ("books", "games", "tools", "garden")

    def __init__(self, base_url: str, entities: int, progress: Callable[[int, int], None], seed: int, workers: int = 4):
        self.traffic = ApiTraffic()
        self.api = ApiClient(base_url, self.traffic)
        self.rng = random.Random(seed)
        self.per_kind = max(3, entities // 3)
        self.workers = workers
        self.products: dict[str, Answer] = {}
        self.customers: dict[str, Answer] = {}
        self.orders: dict[str, Answer] = {}
        n = self.per_kind
        self.total = n * 3 + n * 3 * 2 + n // 2 + n // 2 + max(1, n // 5) + 4
        self.done = 0
        self._progress = progress

    def run(self) -> ApiTraffic:
        n = self.per_kind
        self._parallel(self._create_product(i) for i in range(n))
        self._parallel(self._create_customer(i) for i in range(n))
        skus, customer_ids = sorted(self.products), sorted(self.customers)
        self._parallel(self._create_order(i, skus, customer_ids) for i in range(n))
        paths = [f"/products/{s}" for s in skus] + [f"/customers/{c}" for c in customer_ids]
        paths += [f"/orders/{o}" for o in sorted(self.orders)]
        for _ in range(2):  # the first read fills the cache, the second hits it
            self._parallel(self._reader(path) for path in paths)
        self._parallel(self._reprice(sku) for sku in self.rng.sample(skus, k=n // 2))
        self._parallel(self._pay(order) for order in self.rng.sample(sorted(self.orders), k=n // 2))
        doomed = self.rng.sample(customer_ids, k=max(1, n // 5))
        self._parallel(self._delete_customer(c) for c in doomed)
        self._refusals(next(c for c in customer_ids if c not in doomed), skus[0])
        self._progress(self.total, self.total)
        return self.traffic

    def _parallel(self, tasks: Iterable[Callable[[], object]]) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for _ in pool.map(lambda task: task(), list(tasks)):
                self._tick()

    def _tick(self) -> None:
        self.done += 1
        self._progress(min(self.done, self.total), self.total)

    def _create_product(self, n: int) -> Callable[[], None]:
        sku = f"sku-{n:05d}"
        body = {
            "sku": sku,
            "name": f"Product {n}",
            "category": self.rng.choice(self.CATEGORIES),
            "price": f"{self.rng.randint(100, 9999) / 100:.2f}",
            "stock": self.rng.randint(0, 500),
            "tags": ["demo"],
        }

        def create() -> None:
            self.products[sku] = self.api.write("product", "POST", "/products", body, expect=201)

        return create

    def _create_customer(self, n: int) -> Callable[[], None]:
        body = {
            "email": f"customer{n}@example.com",
            "name": f"Customer {n}",
            "tier": self.rng.choice(["standard", "gold"]),
        }
        key = {"Idempotency-Key": f"demo-customer-{n:05d}"}

        def create() -> None:
            answer = self.api.write("customer", "POST", "/customers", body, key, expect=201)
            if answer.status == 201:
                self.customers[answer.body["id"]] = answer

        return create

    def _create_order(self, n: int, skus: list[str], customer_ids: list[str]) -> Callable[[], None]:
        lines = [{"sku": sku, "qty": self.rng.randint(1, 3)} for sku in self.rng.sample(skus, k=min(2, len(skus)))]
        body = {"customer_id": customer_ids[n % len(customer_ids)], "lines": lines}

        def create() -> None:
            answer = self.api.write("order", "POST", "/orders", body, expect=201)
            if answer.status == 201:
                self.orders[answer.body["id"]] = answer

        return create

    def _reader(self, path: str) -> Callable[[], object]:
        return lambda: self.api.read(path)

    def _reprice(self, sku: str) -> Callable[[], object]:
        price = {"price": f"{self.rng.randint(100, 9999) / 100:.2f}"}
        etag = {"If-Match": self.products[sku].headers["ETag"]}
        return lambda: self.api.write("product", "PATCH", f"/products/{sku}", price, etag, expect=200)

    def _pay(self, order_id: str) -> Callable[[], object]:
        etag = {"If-Match": self.orders[order_id].headers["ETag"]}
        return lambda: self.api.write("order", "PATCH", f"/orders/{order_id}", {"status": "PAID"}, etag, expect=200)

    def _delete_customer(self, customer_id: str) -> Callable[[], object]:
        etag = {"If-Match": self.customers[customer_id].headers["ETag"]}
        return lambda: self.api.write("customer", "DELETE", f"/customers/{customer_id}", None, etag, expect=204)

    def _refusals(self, live_customer: str, sku: str) -> None:
        """Requests the API must refuse, each with its status."""
        taken = self.customers[live_customer].body["email"]
        self.api.expect_failure("POST", "/customers", {"email": taken, "name": "Dup", "tier": "gold"}, 409)
        self.api.expect_failure("PATCH", f"/products/{sku}", {"stock": 1}, 412, {"If-Match": '"1"'})
        self.api.expect_failure("PATCH", f"/products/{sku}", {"stock": 1}, 428)
        self.api.expect_failure("GET", "/orders/o_missing", None, 404)
        for _ in range(4):
            self._tick()
