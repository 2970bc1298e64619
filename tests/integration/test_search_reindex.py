"""``reindex`` against osmem: a mapping change while the real search sink keeps writing loses no document,
a new searchable field is filled in from the stored items, and a stopped run can be run again."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from prism.changes.envelope import Op
from prism.search import indices as search_indices
from prism.search.documents import document
from prism.search.indices import INDICES, EntityIndex
from prism.search.reindex import ReindexError, alias_states, reindex
from prism_local.stack.search_indices import osmem_client, search_index_prefix
from tests.support.relational import change
from tests.support.search import deliver, search_sink
from tests.support.stacks import provision_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opensearchpy import OpenSearch

    from prism.changes.envelope import ChangeEvent
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(local_servers: LocalConfig) -> Iterator[LocalConfig]:
    config = provision_stack(local_servers, "reidx")
    yield config
    client = osmem_client(config)
    client.indices.delete(index=f"{search_index_prefix(config)}*")


def _remapped(monkeypatch: pytest.MonkeyPatch, entity: str, **fields: Any) -> EntityIndex:
    """The code's mapping of ``entity`` changed to ``fields`` (as a new release would change it)."""
    old = INDICES[entity]
    new = EntityIndex(old.entity, old.name, old.fields | fields)
    monkeypatch.setitem(search_indices.INDICES, entity, new)
    return new


def _all_documents(client: OpenSearch, alias: str) -> dict[str, dict[str, Any]]:
    hits: dict[str, dict[str, Any]] = {}
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"query": {"match_all": {}}, "size": 500, "sort": [{"id": "asc"}]}
        if after is not None:
            body["search_after"] = after
        page = client.search(index=alias, body=body)["hits"]["hits"]
        hits.update({hit["_id"]: hit["_source"] | {"_index": hit["_index"]} for hit in page})
        if len(page) < 500:
            return hits
        after = page[-1]["sort"]


class LiveTraffic(threading.Thread):
    """The real search sink writing product changes, batch after batch, the way SQS delivers them: random
    keys, versions that grow per key, deletes, duplicates and reordering inside a batch."""

    def __init__(self, config: LocalConfig, keys: int) -> None:
        super().__init__(name="live-traffic", daemon=True)
        self._config = config
        self._random = random.Random(5)
        self._versions = {f"p{n:04d}": 0 for n in range(keys)}
        self.newest: dict[str, ChangeEvent] = {}
        self.batches = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.progressed = threading.Condition()
        self.error: BaseException | None = None

    def next_batch(self) -> list[ChangeEvent]:
        batch: list[ChangeEvent] = []
        for key in self._random.sample(sorted(self._versions), 40):
            self._versions[key] += self._random.randint(1, 3)
            write = change("product", key, self._versions[key], deleted=self._random.random() < 0.15)
            batch.append(write)
            self.newest[key] = write
        duplicates = self._random.sample(batch, 10)
        batch += duplicates
        self._random.shuffle(batch)
        return batch

    def run(self) -> None:
        try:
            with search_sink(self._config) as sink:
                while not self.stop.is_set():
                    self.failures += deliver(sink, self.next_batch())
                    with self.progressed:
                        self.batches += 1
                        self.progressed.notify_all()
        except BaseException as exc:  # handed to the test thread, which raises it
            self.error = exc
            with self.progressed:
                self.progressed.notify_all()

    def wait_for_batches(self, count: int) -> None:
        """Block until the sink has written ``count`` more batches."""
        with self.progressed:
            target = self.batches + count
            assert self.progressed.wait_for(lambda: self.batches >= target or self.error is not None, timeout=60)
        if self.error is not None:
            raise self.error


def test_a_mapping_change_under_live_traffic_loses_no_document(
    stack: LocalConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = search_index_prefix(stack)
    client = osmem_client(stack)
    alias = INDICES["product"].alias(prefix)
    traffic = LiveTraffic(stack, keys=400)
    traffic.start()
    traffic.wait_for_batches(10)  # documents in products-v1 before the reindex begins

    # The new release keeps prices to a tenth of a cent: not a change OpenSearch can make to an existing index.
    new = _remapped(monkeypatch, "product", price={"type": "scaled_float", "scaling_factor": 1000})
    phases: list[tuple[str, int, int]] = []

    def writes_meanwhile(alias_name: str, phase: str, done: int, total: int) -> None:
        phases.append((phase, done, total))
        # The sink writes while each pass runs, and between the first copy and the swap.
        if done == 0 or (phase == "copy" and done == total):
            traffic.wait_for_batches(3)

    try:
        report = reindex(client, "product", prefix=prefix, progress=writes_meanwhile)
        traffic.wait_for_batches(5)  # and keeps writing through the alias, now into products-v2
    finally:
        traffic.stop.set()
        traffic.join(timeout=60)
    assert traffic.error is None

    assert (report.source, report.target) == (f"{alias}-v1", f"{alias}-v2")
    assert report.mapping_changed
    assert report.first_copy.written > 0
    assert {phase for phase, _, _ in phases} == {"copy", "catch-up"}
    assert traffic.failures == []  # no record failed, not even one routed to the frozen index
    assert sorted(client.indices.get_alias(name=alias)) == [report.target]
    mapping = client.indices.get_mapping(index=report.target)[report.target]["mappings"]
    assert mapping["properties"]["price"]["scaling_factor"] == 1000
    assert mapping["_meta"]["mapping"] == new.fingerprint()
    settings = client.indices.get_settings(index=report.source)[report.source]["settings"]["index"]
    assert settings["blocks"]["write"] in (True, "true")

    held = _all_documents(client, alias)
    assert set(held) == set(traffic.newest)
    wrong = {
        key: (held[key]["version"], held[key]["deleted"], c.version)
        for key, c in traffic.newest.items()
        if (held[key]["version"], held[key]["deleted"]) != (c.version, c.op is Op.DELETE)
    }
    assert wrong == {}
    assert {doc["_index"] for doc in held.values()} == {report.target}
    states = {state.alias: state for state in alias_states(client, prefix)}
    assert states[alias].mapping_current
    assert states[alias].index == report.target


def test_a_write_routed_to_the_old_generation_just_before_the_swap_lands_in_the_new_one(stack: LocalConfig) -> None:
    """The race the freeze closes: the sink's bulk request reaches products-v1 after reindex made it read-only.
    The 403 is retried, and by then the alias routes the write to products-v2."""
    prefix = search_index_prefix(stack)
    client = osmem_client(stack)
    index = INDICES["product"]
    alias, old, new = index.alias(prefix), index.generation_index(1, prefix), index.generation_index(2, prefix)
    client.indices.create(index=new, body={"mappings": index.mappings()})
    client.indices.put_settings(index=old, body={"index.blocks.write": True})
    swaps: list[float] = []

    def swap_then_wait(delay: float) -> None:  # the sink's backoff sleep: reindex swaps meanwhile
        actions = [{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]
        if not swaps:
            client.indices.update_aliases(body={"actions": actions})
        swaps.append(delay)

    with search_sink(stack) as sink:
        sink._sleep = swap_then_wait
        assert deliver(sink, [change("product", "p1", 4), change("product", "p2", 6, deleted=True)]) == []
        assert (sink.summary.retried, sink.summary.indexed, sink.summary.rejected) == (2, 2, 0)
    assert len(swaps) == 1
    held = _all_documents(client, alias)
    assert {key: (doc["_index"], doc["version"], doc["deleted"]) for key, doc in held.items()} == {
        "p1": (new, 4, False),
        "p2": (new, 6, True),
    }


def test_a_new_searchable_field_is_filled_in_from_the_stored_items(
    stack: LocalConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = search_index_prefix(stack)
    client = osmem_client(stack)
    with search_sink(stack) as sink:
        assert deliver(sink, [change("order", f"o{n}", 10 + n) for n in range(5)]) == []
        assert deliver(sink, [change("product", "p_exact", 4, price=Decimal("12345678901234567.89"))]) == []
        assert deliver(sink, [change("order", "o9", 3, deleted=True)]) == []
    alias = INDICES["order"].alias(prefix)
    by_sku = {"query": {"term": {"lines.sku": "sku-1"}}}
    lines = {
        "type": "object",
        "properties": {
            "sku": {"type": "keyword"},
            "qty": {"type": "long"},
            "unit_price": {"type": "scaled_float", "scaling_factor": 100},
        },
    }
    _remapped(monkeypatch, "order", lines=lines)
    assert not next(s for s in alias_states(client, prefix) if s.alias == alias).mapping_current

    report = reindex(client, "order", prefix=prefix, delete_old=True)

    assert report.old_deleted
    assert not client.indices.exists(index=report.source)
    assert report.verified == 6
    found = client.search(index=alias, body=by_sku)["hits"]["hits"]
    assert sorted(hit["_id"] for hit in found) == [f"o{n}" for n in range(5)]
    product = INDICES["product"]
    reindex(client, "product", prefix=prefix)  # the stored item's 19-digit price survives the copy exactly
    exact = client.get(index=product.alias(prefix), id="p_exact")["_source"]
    assert exact["item"]["price"] == Decimal("12345678901234567.89")
    tombstone = client.get(index=alias, id="o9")["_source"]
    assert tombstone == {"id": "o9", "entity": "order", "version": 3, "deleted": True}


def test_a_stopped_reindex_runs_again_and_a_foreign_leftover_is_refused(stack: LocalConfig) -> None:
    prefix = search_index_prefix(stack)
    client = osmem_client(stack)
    with search_sink(stack) as sink:
        assert deliver(sink, [change("customer", f"c{n}", 2) for n in range(3)]) == []
    index = INDICES["customer"]
    alias = index.alias(prefix)
    leftover = index.generation_index(2, prefix)

    # A run that stopped after creating and partly filling customers-v2 (no alias on it yet).
    client.indices.create(index=leftover, body={"mappings": index.mappings()})
    client.index(index=leftover, id="c0", body=change_document("c0"), version=2, version_type="external")
    report = reindex(client, "customer", prefix=prefix)
    assert report.target == leftover
    assert (report.first_copy.written, report.first_copy.already_current) == (2, 1)
    assert sorted(client.indices.get_alias(name=alias)) == [leftover]

    # A leftover v3 from a run of another release (another mapping) is not silently reused.
    foreign = {"_meta": {"owner": "prism", "mapping": "0123456789ab"}}
    client.indices.create(index=index.generation_index(3, prefix), body={"mappings": foreign})
    with pytest.raises(ReindexError, match=r"exists from an earlier reindex with another mapping.*DELETE"):
        reindex(client, "customer", prefix=prefix)
    assert sorted(client.indices.get_alias(name=alias)) == [leftover]  # untouched


def change_document(customer_id: str) -> dict[str, Any]:
    return document(change("customer", customer_id, 2))


def test_reindex_names_what_is_wrong(stack: LocalConfig) -> None:
    client = osmem_client(stack)
    with pytest.raises(ReindexError, match="no search index for entity 'widget'"):
        reindex(client, "widget", prefix=search_index_prefix(stack))
    with pytest.raises(ReindexError, match="alias nosuchstack-products does not exist"):
        reindex(client, "product", prefix="nosuchstack-")
