from __future__ import annotations

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.cache.disabled import DisabledEntityCache
from prism.cache.sink import CacheSinkProcessor, CacheSinkSummary
from prism.changes.reader import ChangeReader
from tests.support.cache import CountingMetrics, InMemoryChangeApplier, change, sqs_record
from tests.support.fakes import InMemoryClaimCheckStore


def sink(cache: object) -> CacheSinkProcessor:
    return CacheSinkProcessor(ChangeReader(InMemoryClaimCheckStore()), cache)  # type: ignore[arg-type]


def run(processor: CacheSinkProcessor, records: list[dict[str, object]]) -> dict[str, object]:
    return dict(process_partial_response({"Records": records}, processor.apply_record, processor))


def test_newer_changes_apply_and_stale_or_duplicated_ones_succeed_without_effect() -> None:
    cache = InMemoryChangeApplier()
    processor = sink(cache)
    newest, older = change("product", "p-1", 20), change("product", "p-1", 10)
    records = [sqs_record(newest.to_json()), sqs_record(older.to_json()), sqs_record(newest.to_json())]

    response = run(processor, records)

    assert response == {"batchItemFailures": []}
    assert cache.versions == {("product", "p-1"): 20}
    assert processor.summary == CacheSinkSummary(records=3, applied=1, stale=2)


def test_a_delete_is_applied_like_any_newer_change() -> None:
    cache = InMemoryChangeApplier()
    processor = sink(cache)

    run(processor, [sqs_record(change("order", "o-1", 5).to_json())])
    run(processor, [sqs_record(change("order", "o-1", 6, deleted=True).to_json())])

    assert cache.versions == {("order", "o-1"): 6}
    assert processor.summary.applied == 1, "the summary describes the last batch only"


def test_a_malformed_envelope_fails_alone() -> None:
    processor = sink(InMemoryChangeApplier())
    good, poison = sqs_record(change("customer", "c-1", 1).to_json()), sqs_record('{"schema": "prism.change.v1"}')

    response = run(processor, [good, poison])

    assert response == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}
    assert processor.summary.malformed == 1
    assert processor.summary.applied == 1


def test_with_redis_down_every_record_fails_so_sqs_retries_it() -> None:
    processor = sink(InMemoryChangeApplier(down=True))
    records = [sqs_record(change("customer", f"c-{i}", 1).to_json()) for i in range(3)]

    response = run(processor, records)

    assert response == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    assert processor.summary.cache_unavailable == 3


def test_with_no_cache_configured_every_change_succeeds() -> None:
    processor = sink(DisabledEntityCache(metrics_sink=CountingMetrics()))

    response = run(processor, [sqs_record(change("customer", "c-1", 1).to_json())])

    assert response == {"batchItemFailures": []}
    assert processor.summary.no_cache == 1


def test_an_unreadable_claim_check_fails_the_record() -> None:
    pointer = (
        '{"schema":"prism.change.v1","event_id":"e-1",'
        '"claim_check":{"bucket":"claims","key":"changes/gone.json","sha256":"00","size":1}}'
    )
    store = InMemoryClaimCheckStore()
    store.objects["changes/gone.json"] = b"x"  # present but not what the pointer describes
    processor = CacheSinkProcessor(ChangeReader(store), InMemoryChangeApplier())

    response = run(processor, [sqs_record(pointer, "m-claim")])

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-claim"}]}
    assert processor.summary.claim_check_failed == 1
