"""Benchmark: the search sink's apply rate, next to raw ``helpers.bulk`` of the same documents and the naive
one-index-call-per-document approach, on the same changes, in one run against a private local stack.

    make bench            # or: .venv/bin/python -m bench.search_apply --changes 20000

- **sink**: the real processor, built by its own wiring from SearchFunction's environment, fed SQS records
  through ``process_partial_response`` in batches of the template's BatchSize (SQS record and envelope
  parsing, the action and document of each change, one bulk request per batch, each item's status read:
  everything the function does per batch).
- **(a) raw**: ``opensearchpy.helpers.bulk`` of the same actions and documents (built up front, untimed, with
  ``prism.search.documents``): ``chunk_size`` the same batch size, external versions, on a client built from
  the same settings; the library serializes them, as it does for its users.
- **(b) naive**: what common samples do: one ``client.index`` call per change (same document, external
  version). Timed on the first changes only and stated as a rate.

Each phase writes into indices of its own prefix, deleted and created afresh before each run (untimed, with
``ensure_indices``); after each, the indices are read back and must hold exactly each key's newest change
(its version, and whether it is a tombstone). Phases run ``--rounds`` times, interleaved, and the median
counts. Goals (ratios from the same run): sink/(a) >= 0.8 and sink/(b) >= 3. When the sink misses its goal
against (a) (or with --profile), each stage of the sink is timed alone.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from opensearchpy import helpers

from bench.relational_apply import freeze_heap, sink_batches
from bench.relational_workload import WorkloadBuilder
from bench.reporting import (
    TimedPhase,
    apply_arguments,
    measurement,
    median_stages,
    print_rates,
    print_ratios,
    run_rounds,
    stage_breakdown,
    write_results,
)
from prism.changes import exact_json
from prism.search.client import search_client
from prism.search.documents import action, document
from prism.search.indices import INDICES, ensure_indices
from prism.search.wiring import search_sink_processor
from prism.settings import SearchSinkSettings
from prism_local.config import REPO_ROOT
from prism_local.demo.search import read_indices
from tests.support.functions import built_in_process, queue_event_source
from tests.support.relational_failover import private_stack

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opensearchpy import OpenSearch

    from prism.changes.envelope import ChangeEvent
    from prism.search.sink import SearchSinkProcessor

RESULTS = REPO_ROOT / "bench" / "results"
SEARCH_FUNCTION = "SearchFunction"
GOAL_SINK_OVER_RAW = 0.8
GOAL_SINK_OVER_NAIVE = 3.0
RAW_PREFIX = "bench-raw-"
NAIVE_PREFIX = "bench-naive-"

Record = dict[str, Any]
#: (entity, id) -> (version, deleted), as read_indices gives it.
Held = dict[tuple[str, str], tuple[int, bool]]


# ---------------------------------------------------------------------------------------------- the writers


def newest(changes: Sequence[ChangeEvent]) -> Held:
    """What the indices must hold after ``changes``: each key's newest change, its version and tombstone."""
    held: Held = {}
    for change in changes:
        key = (change.entity, change.id)
        if key not in held or change.version > held[key][0]:
            held[key] = (change.version, document(change)["deleted"] is True)
    return held


def tombstones_in(held: Held) -> int:
    return sum(1 for _, deleted in held.values() if deleted)


def bulk_actions(changes: Sequence[ChangeEvent], prefix: str) -> list[dict[str, Any]]:
    """(a)'s actions in ``helpers.bulk``'s form: the sink's action (alias, id, external version) and its
    document as ``_source``."""
    actions = []
    for change in changes:
        meta = action(change, prefix)["index"]
        actions.append({"_op_type": "index", **meta, "_source": document(change)})
    return actions


def write_raw(client: OpenSearch, actions: Sequence[dict[str, Any]], chunk_size: int) -> None:
    """(a): ``helpers.bulk`` in chunks of the sink's batch size; raises on any item that failed."""
    written, errors = helpers.bulk(client, actions, chunk_size=chunk_size)
    if errors or written != len(actions):
        raise RuntimeError(f"(a) raw: helpers.bulk wrote {written} of {len(actions)}: {errors!r:.500}")


def naive_calls(changes: Sequence[ChangeEvent], prefix: str) -> list[dict[str, Any]]:
    """(b)'s calls: ``client.index`` arguments for each change, built up front."""
    calls = []
    for change in changes:
        meta = action(change, prefix)["index"]
        calls.append(
            {
                "index": meta["_index"],
                "id": meta["_id"],
                "body": document(change),
                "version": meta["version"],
                "version_type": meta["version_type"],
            }
        )
    return calls


def write_naive(client: OpenSearch, calls: Sequence[dict[str, Any]]) -> None:
    """(b): one index request per change."""
    for call in calls:
        client.index(**call)


def apply_through_sink(processor: SearchSinkProcessor, batches: Sequence[list[Record]]) -> int:
    """Every batch through the real processor; returns the bulk requests it made. Raises on any failure."""
    requests = 0
    for batch in batches:
        response = process_partial_response({"Records": batch}, processor.parse_record, processor)
        summary = processor.summary
        if response["batchItemFailures"] or summary.retried or summary.indexed != len(batch):
            raise RuntimeError(f"the sink did not index a batch cleanly: {response}, {summary}")
        requests += summary.bulk_requests
    return requests


# ---------------------------------------------------------------------------------------------- measuring


class Indices:
    """A phase's indices in osmem: deleted and created afresh before a run, read back after it."""

    def __init__(self, client: OpenSearch, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def reset(self) -> None:
        for index in INDICES.values():
            behind = self.client.indices.get_alias(name=index.alias(self.prefix), ignore=[404])
            names = [name for name in behind if name not in ("error", "status")]
            if names:
                self.client.indices.delete(index=",".join(names))
        ensure_indices(self.client, self.prefix)

    def held(self) -> Held:
        aliases = ",".join(index.alias(self.prefix) for index in INDICES.values())
        self.client.indices.refresh(index=aliases)
        return read_indices(self.client, self.prefix)


class Phase(TimedPhase):
    """A phase indexing into its own prefix's indices."""

    def __init__(self, label: str, indices: Indices, changes: int, run: Callable[[], object], expected: Held) -> None:
        super().__init__(label, changes, run)
        self.indices, self.expected = indices, expected

    def prepare(self) -> None:
        self.indices.reset()

    def check(self) -> None:
        """The phase's indices hold exactly each key's newest change: its version, tombstone or not."""
        held = self.indices.held()
        if held != self.expected:
            wrong = sum(1 for key, value in self.expected.items() if held.get(key) != value)
            extra = len(held.keys() - self.expected.keys())
            raise RuntimeError(
                f"{self.label}: {wrong:,} of {len(self.expected):,} keys differ from their newest change, "
                f"{extra:,} documents not expected (indices {self.indices.prefix}*)"
            )


def stage_timings(
    processor: SearchSinkProcessor, batches: Sequence[list[Record]], indices: Indices, changes: int
) -> dict[str, float]:
    """Each stage of the sink timed alone over the whole workload (its bulk requests into ``indices``),
    µs per change."""
    started = time.perf_counter()
    parsed = [[processor.parse_record(SQSRecord(record)) for record in batch] for batch in batches]
    parsing = time.perf_counter() - started

    started = time.perf_counter()
    bodies = [
        "\n".join(
            line
            for change in batch
            for line in (exact_json.dumps(action(change, indices.prefix)), exact_json.dumps(document(change)))
        )
        + "\n"
        for batch in parsed
    ]
    encoding = time.perf_counter() - started

    indices.reset()
    started = time.perf_counter()
    responses = [indices.client.bulk(body=body) for body in bodies]
    sending = time.perf_counter() - started
    if any(response["errors"] for response in responses):
        raise RuntimeError("a bulk request of the stage timings had failed items")
    return {
        "envelope parsing (SQS record body -> ChangeEvent, pydantic)": parsing / changes * 1e6,
        "actions and documents as bulk NDJSON (exact_json)": encoding / changes * 1e6,
        f"bulk requests ({len(bodies)}, osmem over HTTP, response parsed)": sending / changes * 1e6,
    }


# ---------------------------------------------------------------------------------------------- the report


def main() -> None:
    args = apply_arguments(__doc__, naive_default=2000)

    workload = WorkloadBuilder().build(args.changes)
    changes = workload.changes
    counts = workload.counts
    sample = min(args.naive_sample, len(changes))
    body_bytes = statistics.mean(len(body) for body in workload.bodies)

    with (
        private_stack() as stack,
        built_in_process(stack.config, SEARCH_FUNCTION, search_sink_processor) as processor,
    ):
        config = stack.config
        batch_size = queue_event_source(config, SEARCH_FUNCTION).batch_size
        settings = SearchSinkSettings.from_env()  # SearchFunction's environment, as the sink read it
        client = search_client(settings)
        sink_prefix = settings.search_index_prefix
        raw_prefix = f"{sink_prefix}{RAW_PREFIX}"
        naive_prefix = f"{sink_prefix}{NAIVE_PREFIX}"
        batches = sink_batches(workload.bodies, batch_size)
        actions = bulk_actions(changes, raw_prefix)
        calls = naive_calls(changes[:sample], naive_prefix)
        document_bytes = statistics.mean(len(exact_json.dumps(document(change))) for change in changes)
        expected = newest(changes)
        print(
            f"search sink benchmark: {counts['changes']:,} changes ({counts['keys']:,} keys; {counts['customers']:,} "
            f"customer, {counts['products']:,} product, {counts['orders']:,} order changes; {counts['updates']:,} "
            f"updates, {counts['deletes']:,} deletes; bodies {body_bytes:,.0f} bytes, documents "
            f"{document_bytes:,.0f} bytes on average), batches of {batch_size} (SearchFunction's BatchSize in "
            f"template.yaml) -> {len(batches):,} bulk requests; {args.rounds} rounds, median; osmem at "
            f"{settings.search_url}; {os.cpu_count()} CPUs",
            flush=True,
        )
        freeze_heap()
        phases = {
            "sink": Phase(
                f"sink: process_partial_response, batches of {batch_size}",
                Indices(client, sink_prefix),
                len(changes),
                lambda: apply_through_sink(processor, batches),
                expected,
            ),
            "raw": Phase(
                f"(a) raw: helpers.bulk of the same documents, chunk_size={batch_size}",
                Indices(client, raw_prefix),
                len(changes),
                lambda: write_raw(client, actions, batch_size),
                expected,
            ),
            "naive": Phase(
                f"(b) naive: one index call per change (first {sample:,} changes)",
                Indices(client, naive_prefix),
                sample,
                lambda: write_naive(client, calls),
                newest(changes[:sample]),
            ),
        }
        run_rounds(phases, args.rounds)
        print(
            "  after every phase its indices held exactly each key's newest change (version, tombstone): "
            + ", ".join(
                f"{name} {len(phase.expected):,} documents ({tombstones_in(phase.expected):,} tombstones)"
                for name, phase in phases.items()
            )
        )

        rates = print_rates(phases)
        sink_over_raw, _ = print_ratios(phases, GOAL_SINK_OVER_RAW, GOAL_SINK_OVER_NAIVE)

        breakdown: dict[str, Any] = {}
        if args.profile or sink_over_raw < GOAL_SINK_OVER_RAW:
            scratch = Indices(client, raw_prefix)
            timed = [stage_timings(processor, batches, scratch, len(changes)) for _ in range(args.rounds)]
            stages = median_stages(timed)
            sink_us, raw_us = 1e6 / rates["sink"], 1e6 / rates["raw"]
            breakdown = stage_breakdown(
                stages,
                sink_us,
                raw_us,
                len(timed),
                (
                    "Powertools' batch machinery, item statuses, summaries, and the difference in osmem's speed "
                    "between the phase and the stage runs (sink less the above; noise of either sign)"
                ),
            )

    results = {
        "workload": counts | {"average_body_bytes": body_bytes, "average_document_bytes": document_bytes},
        "batch_size": batch_size,
        "bulk_requests_per_run": len(batches),
        "documents_after_run": len(expected),
        **measurement(phases, GOAL_SINK_OVER_RAW, GOAL_SINK_OVER_NAIVE),
        "breakdown": breakdown,
    }
    write_results(
        RESULTS,
        "search_apply",
        results,
        phases,
        subject=f"search sink, {counts['changes']:,} changes in batches of {batch_size}, {os.cpu_count()} CPUs, osmem",
        ylabel="changes indexed per second",
    )


if __name__ == "__main__":
    main()
