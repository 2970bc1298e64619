"""The real search sink, built in-process from SearchFunction's environment, against the stack's osmem:
documents land through the alias with external versions, a stale change is a counted 409, and a delete
leaves a tombstone that a late update cannot overwrite."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from prism.changes import exact_json
from tests.support.relational import change
from tests.support.search import deliver, documents, live_count, search_sink

if TYPE_CHECKING:
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration


def test_documents_land_through_the_alias_with_the_change_version(provisioned: LocalConfig) -> None:
    product = change("product", "p_1", 17, price=Decimal("1234.56"), category="garden")
    customer = change("customer", "c_1", 3)

    with search_sink(provisioned) as sink:
        failures = deliver(sink, [product, customer, change("order", "o_1", 9)])
        summary = sink.summary

    assert failures == []
    assert (summary.indexed, summary.conflicts) == (3, 0)
    (index, version, source) = documents(provisioned, "product", ["p_1"])["p_1"]
    assert index.endswith("products-v1")
    assert index != "products-v1"
    assert version == 17
    assert source["version"] == 17
    assert source["deleted"] is False
    assert (source["category"], source["price"]) == ("garden", Decimal("1234.56"))
    assert source["item"] == exact_json.loads(exact_json.dumps(product.new_image))
    assert documents(provisioned, "customer", ["c_1"])["c_1"][1] == 3
    assert documents(provisioned, "order", ["o_1"])["o_1"][1] == 9
    assert live_count(provisioned, "product") == 1


def test_a_stale_change_is_a_counted_conflict_and_changes_nothing(provisioned: LocalConfig) -> None:
    with search_sink(provisioned) as sink:
        assert deliver(sink, [change("product", "p_1", 5, name="Newest")]) == []
        failures = deliver(sink, [change("product", "p_1", 4, name="Stale"), change("product", "p_1", 5)])
        summary = sink.summary

    assert failures == []
    assert (summary.conflicts, summary.indexed, summary.retried) == (2, 0, 0)
    _, version, source = documents(provisioned, "product", ["p_1"])["p_1"]
    assert (version, source["name"]) == (5, "Newest")


def test_a_delete_leaves_a_tombstone_a_late_update_cannot_overwrite(provisioned: LocalConfig) -> None:
    with search_sink(provisioned) as sink:
        assert deliver(sink, [change("customer", "c_9", 2), change("customer", "c_9", 3, deleted=True)]) == []
        assert deliver(sink, [change("customer", "c_9", 2, name="Late")]) == []
        late = sink.summary
        assert deliver(sink, [change("customer", "c_9", 8, name="Back")]) == []  # a re-create is newer

    assert late.conflicts == 1
    _, version, source = documents(provisioned, "customer", ["c_9"])["c_9"]
    assert (version, source["deleted"], source["name"]) == (8, False, "Back")


def test_a_tombstone_holds_only_its_version(provisioned: LocalConfig) -> None:
    with search_sink(provisioned) as sink:
        assert deliver(sink, [change("order", "o_5", 6, deleted=True), change("order", "o_5", 5)]) == []

    _, version, source = documents(provisioned, "order", ["o_5"])["o_5"]
    assert version == 6
    assert source == {"id": "o_5", "entity": "order", "version": 6, "deleted": True}
    assert live_count(provisioned, "order") == 0


def test_a_document_the_mapping_refuses_fails_alone(provisioned: LocalConfig) -> None:
    with search_sink(provisioned) as sink:
        failures = deliver(sink, [change("product", "p_bad", 1, stock="many"), change("product", "p_ok", 1)])
        summary = sink.summary

    assert failures == ["m-0"]
    assert (summary.rejected, summary.indexed) == (1, 1)
    assert set(documents(provisioned, "product", ["p_bad", "p_ok"])) == {"p_ok"}
