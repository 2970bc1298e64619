"""The search sink's batch logic against a fake OpenSearch bulk endpoint: the action shape, 409 as success,
bounded retries of 429/5xx, 400s failing alone, tombstones, and settings/client choices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from opensearchpy import AWSV4SignerAuth, RequestsHttpConnection
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import SerializationError

from prism.changes import exact_json
from prism.changes.envelope import ChangeEvent
from prism.changes.reader import ChangeReader
from prism.errors import ConfigurationError
from prism.search.client import ExactJSONSerializer, search_client
from prism.search.indices import INDICES, EntityIndex, ensure_indices
from prism.search.sink import RetryPolicy, SearchSinkProcessor, SearchSinkSummary
from prism.settings import SearchSinkSettings
from tests.support.cache import sqs_record
from tests.support.fakes import InMemoryClaimCheckStore
from tests.support.relational import change


class FakeOpenSearch:
    """Bulk with external versioning over a dict; ``script[id]`` lists statuses to answer for that id first
    (one per bulk request), and ``down`` bulk requests fail as a whole before any succeeds."""

    def __init__(self, script: dict[str, list[int]] | None = None, down: int = 0) -> None:
        self.docs: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.script = {key: list(statuses) for key, statuses in (script or {}).items()}
        self.down = down
        self.requests: list[list[Any]] = []

    def bulk(self, body: str) -> dict[str, Any]:
        lines = [exact_json.loads(line) for line in body.splitlines()]
        self.requests.append(lines)
        if self.down:
            self.down -= 1
            raise OpenSearchConnectionError("N/A", "connection refused", None)
        items: list[dict[str, Any]] = []
        for meta, source in zip(lines[::2], lines[1::2], strict=True):
            target = meta["index"]
            key, version = (target["_index"], target["_id"]), target["version"]
            scripted = self.script.get(target["_id"])
            if scripted:
                status = scripted.pop(0)
                kind = "cluster_block_exception" if status == 403 else f"s{status}"
                items.append({"index": {"status": status, "error": {"type": kind, "reason": "scripted"}}})
                continue
            held = self.docs.get(key)
            if held is not None and held[0] >= version:
                items.append({"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}})
                continue
            self.docs[key] = (version, source)
            items.append({"index": {"_id": target["_id"], "status": 201 if held is None else 200}})
        return {"errors": any(i["index"]["status"] >= 300 for i in items), "items": items}


def run(
    client: FakeOpenSearch, changes: list[ChangeEvent], *extra: dict[str, Any], attempts: int = 3
) -> tuple[list[str], SearchSinkSummary, list[float]]:
    sleeps: list[float] = []
    processor = SearchSinkProcessor(
        ChangeReader(InMemoryClaimCheckStore()),
        client,  # type: ignore[arg-type]  # duck-typed: only bulk() is used
        retry=RetryPolicy(attempts=attempts, base_delay_s=0.1, max_delay_s=0.3),
        sleep=sleeps.append,
    )
    records = [sqs_record(c.to_json(), message_id=f"m-{n}") for n, c in enumerate(changes)] + list(extra)
    response = process_partial_response({"Records": records}, processor.parse_record, processor)
    return [str(f["itemIdentifier"]) for f in response["batchItemFailures"]], processor.summary, sleeps


def test_one_bulk_request_indexes_every_change_with_its_external_version_into_the_alias() -> None:
    client = FakeOpenSearch()
    product = change("product", "p_1", 7, price=Decimal("19.99"))

    failures, summary, _ = run(client, [product, change("customer", "c_1", 3), change("order", "o_1", 4)])

    assert failures == []
    (request,) = client.requests
    assert request[0] == {"index": {"_index": "products", "_id": "p_1", "version": 7, "version_type": "external"}}
    assert [line["index"]["_index"] for line in request[::2]] == ["products", "customers", "orders"]
    document = request[1]
    assert document["version"] == 7
    assert document["deleted"] is False
    assert document["price"] == Decimal("19.99")  # exact in the request body, not a float
    assert document["item"] == exact_json.loads(exact_json.dumps(product.new_image))
    allowed = {"id", "entity", "version", "deleted", "item", "created_at", "updated_at", *INDICES["product"].fields}
    assert set(document) <= allowed
    assert (summary.indexed, summary.conflicts, summary.bulk_requests) == (3, 0, 1)


def test_a_delete_is_a_tombstone_with_the_delete_version_and_no_data_fields() -> None:
    client = FakeOpenSearch()

    failures, summary, _ = run(client, [change("product", "p_1", 2), change("product", "p_1", 3, deleted=True)])

    assert failures == []
    version, source = client.docs[("products", "p_1")]
    assert version == 3
    assert source == {"id": "p_1", "entity": "product", "version": 3, "deleted": True}
    assert summary.tombstones == 1


def test_a_version_conflict_is_success_counted_and_never_retried() -> None:
    client = FakeOpenSearch()
    run(client, [change("product", "p_1", 5)])

    failures, summary, sleeps = run(client, [change("product", "p_1", 4), change("product", "p_1", 5)])

    assert failures == []
    assert (summary.conflicts, summary.indexed, summary.retried) == (2, 0, 0)
    assert sleeps == []
    assert len(client.requests) == 2
    assert client.docs[("products", "p_1")][0] == 5


def test_throttled_items_alone_are_retried_with_backoff_and_then_succeed() -> None:
    client = FakeOpenSearch(script={"p_2": [429, 503]})

    failures, summary, sleeps = run(client, [change("product", "p_1", 1), change("product", "p_2", 1)])

    assert failures == []
    assert [len(request) // 2 for request in client.requests] == [2, 1, 1]
    assert [line["index"]["_id"] for line in client.requests[2][::2]] == ["p_2"]
    assert sleeps == [0.1, 0.2]
    assert (summary.indexed, summary.retried, summary.unavailable) == (2, 2, 0)


def test_a_write_to_an_index_frozen_by_reindex_is_sent_again_through_the_alias() -> None:
    client = FakeOpenSearch(script={"p_2": [403]})  # cluster_block_exception: the old generation is read-only

    failures, summary, sleeps = run(client, [change("product", "p_1", 1), change("product", "p_2", 1)])

    assert failures == []
    assert [line["index"]["_index"] for line in client.requests[1][::2]] == ["products"]
    assert (summary.indexed, summary.retried, summary.rejected) == (2, 1, 0)
    assert sleeps == [0.1]


def test_another_403_is_refused_without_retries() -> None:
    class Forbidden(FakeOpenSearch):
        def bulk(self, body: str) -> dict[str, Any]:
            response = super().bulk(body)
            response["items"][0]["index"]["error"]["type"] = "security_exception"
            return response

    failures, summary, sleeps = run(Forbidden(script={"p_1": [403]}), [change("product", "p_1", 1)])

    assert failures == ["m-0"]
    assert (summary.rejected, summary.retried) == (1, 0)
    assert sleeps == []


def test_items_still_throttled_after_the_last_attempt_alone_are_batch_item_failures() -> None:
    client = FakeOpenSearch(script={"p_2": [429, 429, 429, 429]})

    failures, summary, sleeps = run(client, [change("product", "p_1", 1), change("product", "p_2", 1)], attempts=3)

    assert failures == ["m-1"]
    assert len(client.requests) == 3
    assert sleeps == [0.1, 0.2]
    assert (summary.indexed, summary.unavailable) == (1, 1)
    assert ("products", "p_1") in client.docs


def test_a_bulk_request_that_fails_as_a_whole_is_retried_then_every_item_fails() -> None:
    client = FakeOpenSearch(down=5)

    failures, summary, sleeps = run(client, [change("product", "p_1", 1), change("order", "o_1", 1)], attempts=3)

    assert failures == ["m-0", "m-1"]
    assert sleeps == [0.1, 0.2]
    assert summary.unavailable == 2
    assert client.docs == {}


def test_a_refused_document_fails_alone_without_retries_and_the_reason_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = FakeOpenSearch(script={"p_bad": [400]})

    failures, summary, sleeps = run(client, [change("product", "p_bad", 1), change("product", "p_ok", 1)])

    assert failures == ["m-0"]
    assert sleeps == []
    assert len(client.requests) == 1
    assert (summary.rejected, summary.indexed) == (1, 1)
    logged = next(r for r in caplog.records if r.getMessage().startswith("Search-queue record failed"))
    assert "p_bad v1: status 400: s400: scripted" in logged.__dict__["error"]


def test_malformed_envelopes_and_unknown_entities_fail_alone() -> None:
    client = FakeOpenSearch()
    widget = change("product", "w_1", 1).model_copy(update={"entity": "widget"})

    failures, summary, _ = run(
        client,
        [change("customer", "c_1", 1), widget],
        sqs_record("{not json", message_id="bad"),
    )

    assert failures == ["m-1", "bad"]
    assert (summary.malformed, summary.rejected, summary.indexed) == (1, 1, 1)
    assert [line["index"]["_id"] for line in client.requests[0][::2]] == ["c_1"]


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(attempts=6, base_delay_s=0.1, max_delay_s=0.5)
    assert [policy.delay(n) for n in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


class FakeIndices:
    def __init__(self) -> None:
        self.templates: dict[str, Any] = {}
        self.aliases: dict[str, str] = {}

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self.templates[name] = body

    def exists_alias(self, name: str) -> bool:
        return name in self.aliases

    def create(self, index: str, body: dict[str, Any], ignore: list[int]) -> None:
        assert ignore == [400]
        (alias,) = body["aliases"]
        self.aliases[alias] = index


class FakeIndexAdmin:
    def __init__(self) -> None:
        self.indices = FakeIndices()


def test_ensure_indices_puts_templates_and_creates_each_alias_once() -> None:
    admin = FakeIndexAdmin()

    assert ensure_indices(admin, "t1-") == ["t1-customers", "t1-products", "t1-orders"]  # type: ignore[arg-type]
    assert ensure_indices(admin, "t1-") == []  # type: ignore[arg-type]

    assert admin.indices.aliases["t1-products"] == "t1-products-v1"
    products = admin.indices.templates["prism-t1-products"]
    assert products["index_patterns"] == ["t1-products-v*"]
    properties = products["template"]["mappings"]["properties"]
    assert properties["name"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert properties["price"]["type"] == "scaled_float"
    assert properties["created_at"]["type"] == "date"
    assert properties["version"] == {"type": "long"}
    assert properties["deleted"] == {"type": "boolean"}
    assert properties["item"] == {"type": "object", "enabled": False}
    assert products["template"]["mappings"]["dynamic"] == "strict"
    assert products["template"]["mappings"]["_meta"]["mapping"] == INDICES["product"].fingerprint()


def test_generations_and_fingerprints_name_what_reindex_needs() -> None:
    products = INDICES["product"]
    assert products.generation_index(3, "t1-") == "t1-products-v3"
    assert products.generation_of("t1-products-v12", "t1-") == 12
    assert products.generation_of("t1-products-v1x", "t1-") is None
    assert products.generation_of("products-v1", "t1-") is None
    assert products.generation_of("t1-customers-v1", "t1-") is None
    changed = EntityIndex(products.entity, products.name, products.fields | {"stock": {"type": "integer"}})
    assert changed.fingerprint() != products.fingerprint()
    assert EntityIndex(products.entity, products.name, dict(products.fields)).fingerprint() == products.fingerprint()
    assert len({index.fingerprint() for index in INDICES.values()}) == len(INDICES)


ENV = {"SEARCH_URL": "https://search-prism.us-east-1.es.amazonaws.com", "AWS_REGION": "us-east-1"}
ENV |= {"CLAIM_CHECK_BUCKET": "prism-claims"}


@pytest.mark.parametrize(("auth", "service"), [("sigv4-es", "es"), ("sigv4-aoss", "aoss")])
def test_signed_clients_use_sigv4_over_https_for_the_chosen_service(
    auth: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = SearchSinkSettings.from_env(ENV | {"SEARCH_AUTH": auth})

    connection = search_client(settings).transport.get_connection()

    assert isinstance(connection, RequestsHttpConnection)
    assert connection.host == "https://search-prism.us-east-1.es.amazonaws.com:443"
    assert isinstance(connection.session.auth, AWSV4SignerAuth)
    assert connection.session.auth.service == service
    assert connection.session.auth.signer.region == "us-east-1"


def test_an_unsigned_client_talks_plain_http_and_signing_needs_https() -> None:
    settings = SearchSinkSettings.from_env(ENV | {"SEARCH_URL": "http://127.0.0.1:9210", "SEARCH_AUTH": "none"})
    connection = search_client(settings).transport.get_connection()
    assert connection.host == "http://127.0.0.1:9210"

    with pytest.raises(ConfigurationError, match="SEARCH_AUTH=sigv4-es needs an https:// SEARCH_URL"):
        SearchSinkSettings.from_env(ENV | {"SEARCH_URL": "http://127.0.0.1:9210"})
    with pytest.raises(ConfigurationError, match="SEARCH_URL is not set"):
        SearchSinkSettings.from_env({k: v for k, v in ENV.items() if k != "SEARCH_URL"})
    with pytest.raises(ConfigurationError, match="SEARCH_URL is invalid"):
        SearchSinkSettings.from_env(ENV | {"SEARCH_URL": ""})


def test_the_client_reads_and_writes_numbers_exactly() -> None:
    serializer = ExactJSONSerializer()
    body = {"price": Decimal("12345678901234567.89"), "stock": 3, "name": "Ü"}

    text = serializer.dumps(body)

    assert text == '{"price":12345678901234567.89,"stock":3,"name":"Ü"}'
    assert serializer.loads(text) == body
    assert serializer.dumps("already text") == "already text"
    with pytest.raises(SerializationError):
        serializer.loads("{not json")
