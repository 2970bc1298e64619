"""The demo's sample traffic: a few hundred commerce entities written straight into the table, then updated
and deleted, following the entity contract of ``prism.entities`` (versions from ``prism.versioning``)."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from prism.versioning import next_version

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb.service_resource import Table

WriteKind = Literal["create", "update", "tombstone", "hard-delete", "guard"]

#: One product carries a description big enough that its envelope exceeds SNS's 256 KiB limit, so the
#: demo also shows the claim check at work.
OVERSIZED_DESCRIPTION_BYTES = 300_000


@dataclass(frozen=True)
class Write:
    kind: WriteKind
    entity: str | None  # None for non-entity items (email uniqueness guards)
    entity_id: str | None
    version: int | None
    item: dict[str, Any] | None = None  # put_item payload; None for a hard delete
    key: dict[str, str] = field(default_factory=dict)


@dataclass
class WrittenWorkload:
    writes: list[Write]
    started_ms: dict[tuple[str, str, int], float]  # (entity, id, version) -> when its write was sent

    def count(self, kind: WriteKind) -> int:
        return sum(1 for w in self.writes if w.kind == kind)

    @property
    def entity_writes(self) -> list[Write]:
        return [w for w in self.writes if w.entity is not None]


@dataclass(frozen=True)
class _Latest:
    """The last write planned for one entity."""

    entity: str
    entity_id: str
    version: int
    item: dict[str, Any]
    key: dict[str, str]

    def write(self, kind: WriteKind) -> Write:
        return Write(kind, self.entity, self.entity_id, self.version, self.item, self.key)


def plan_workload(entities: int, seed: int = 7) -> list[list[Write]]:
    """Waves of writes: creates (with guards), then updates, then deletes. Writes within a wave touch distinct
    keys, so they may run concurrently; waves run in order, so every key's versions grow."""
    rng = random.Random(seed)
    creates: list[Write] = []
    latest: dict[str, _Latest] = {}
    for index in range(entities):
        kind = ("customer", "product", "order")[index % 3]
        entity_id = f"{kind[0]}-{index:05d}"
        version = next_version(None)
        item = _item(kind, entity_id, version, rng, oversized=index == 1)
        latest[entity_id] = _Latest(kind, entity_id, version, item, _key(kind, entity_id))
        creates.append(latest[entity_id].write("create"))
        if kind == "customer":
            guard_key = {"pk": f"EMAIL#{item['email']}", "sk": "GUARD"}
            creates.append(Write("guard", None, None, None, {**guard_key, "owner": entity_id}, guard_key))

    updates: list[Write] = []
    for entity_id in rng.sample(sorted(latest), k=max(1, entities // 5)):
        previous = latest[entity_id]
        version = next_version(previous.version)
        item = {**previous.item, "version": version, "updated_at": _now_iso()}
        if previous.entity == "product":
            item["price"] = (Decimal(item["price"]) * Decimal("0.9")).quantize(Decimal("0.01"))
        elif previous.entity == "order":
            item["status"] = "PAID"
        else:
            item["tier"] = "gold"
        latest[entity_id] = _Latest(previous.entity, entity_id, version, item, previous.key)
        updates.append(latest[entity_id].write("update"))

    deletes: list[Write] = []
    candidates = [state for state in latest.values() if state.entity in ("customer", "order")]
    for previous in rng.sample(candidates, k=max(1, entities // 10)):
        if previous.entity == "customer":
            # A soft delete: the tombstone is newer than the live item and expires later (TTL).
            version = next_version(previous.version)
            tombstone = {
                **previous.key,
                "entity": "customer",
                "id": previous.entity_id,
                "version": version,
                "deleted": True,
                "expires_at": int(time.time()) + 7 * 86_400,
            }
            deletes.append(Write("tombstone", "customer", previous.entity_id, version, tombstone, previous.key))
        else:
            # A hard delete: the fanout publishes it at the removed item's version + 1.
            deletes.append(
                Write("hard-delete", previous.entity, previous.entity_id, previous.version + 1, None, previous.key)
            )
    return [creates, updates, deletes]


def write_workload(
    table: Table, waves: list[list[Write]], progress: Callable[[int, int], None], workers: int = 4
) -> WrittenWorkload:
    """Send every wave to DynamoDB (concurrently within a wave) and note when each entity write was sent."""
    total = sum(len(wave) for wave in waves)
    started: dict[tuple[str, str, int], float] = {}
    done = 0

    def send(write: Write) -> None:
        if write.entity is not None and write.entity_id is not None and write.version is not None:
            started[(write.entity, write.entity_id, write.version)] = time.time() * 1000
        if write.item is None:
            table.delete_item(Key=write.key)
        else:
            table.put_item(Item=write.item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for wave in waves:
            for _ in pool.map(send, wave):
                done += 1
                progress(done, total)
    return WrittenWorkload([w for wave in waves for w in wave], started)


def _key(kind: str, entity_id: str) -> dict[str, str]:
    return {"pk": f"{kind.upper()}#{entity_id}", "sk": "A"}


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _item(kind: str, entity_id: str, version: int, rng: random.Random, *, oversized: bool) -> dict[str, Any]:
    base: dict[str, Any] = {**_key(kind, entity_id), "entity": kind, "id": entity_id, "version": version}
    base["created_at"] = base["updated_at"] = _now_iso()
    if kind == "customer":
        return {
            **base,
            "email": f"{entity_id}@example.com",
            "name": rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara"]) + f" {entity_id}",
            "tier": rng.choice(["standard", "silver"]),
            "gsi1pk": f"EMAIL#{entity_id}@example.com",
            "gsi1sk": "A",
        }
    if kind == "product":
        description = "x" * OVERSIZED_DESCRIPTION_BYTES if oversized else f"Sample product {entity_id}"
        category = rng.choice(["books", "games", "tools", "garden"])
        return {
            **base,
            "name": f"Product {entity_id}",
            "description": description,
            "category": category,
            "price": Decimal(rng.randint(100, 99_999)) / 100,
            "stock": rng.randint(0, 500),
            "gsi1pk": f"CATEGORY#{category}",
            "gsi1sk": entity_id,
        }
    quantity = rng.randint(1, 5)
    unit_price = Decimal(rng.randint(100, 9_999)) / 100
    return {
        **base,
        "customer_id": f"c-{rng.randrange(0, 300, 3):05d}",
        "status": "PENDING",
        "lines": [{"sku": f"p-{rng.randrange(1, 300, 3):05d}", "qty": quantity, "unit_price": unit_price}],
        "total": unit_price * quantity,
    }
