"""Benchmark: the relational sink's apply rate, next to the raw bulk rate of its own store and the naive
approach common samples use, on the same rows, in one run against a private local stack; then its recovery
from a MariaDB kill -9 during a run.

    make bench            # or: .venv/bin/python -m bench.relational_apply --changes 20000

- **sink**: the real processor, built by its own wiring from RelationalFunction's environment, fed SQS records
  through ``process_partial_response`` in batches of the template's BatchSize (SQS record and envelope
  parsing, row building, one transaction per batch: everything the function does per batch).
- **(a) raw**: the same typed rows (built up front, untimed) written as 1000-row version-guarded
  ``INSERT … ON DUPLICATE KEY UPDATE`` statements (``prism.relational.writer.upsert_statement``), order lines
  too, on one pymysql connection (same user and verified TLS), a commit per statement: the store's bulk rate.
- **(b) naive**: what common samples do: per record, a new connection (same user and TLS), single-row
  statements, a commit, a close. Timed on the first records only and stated as a rate.

Every phase writes into empty tables (TRUNCATE as root first), runs ``--rounds`` times, interleaved, and the
median counts; after each, the tables are checked against each key's newest change. Goals (ratios from the
same run): sink/(a) >= 0.8 and sink/(b) >= 20. The failover phase kills mariadbd (kill -9, from its pid file)
a quarter into a sink run, restarts it a second later on the same data dir and port, and reports the time from
MariaDB accepting connections again to the sink's first committed write, and that nothing was lost. When the
sink misses its goal against (a) (or with --profile), bench/relational_breakdown.py shows where its time goes.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql
from aws_lambda_powertools.utilities.batch import process_partial_response

from bench.api_get import quiet_output
from bench.relational_breakdown import escaping_us, profile_sink, stage_timings
from bench.relational_workload import WorkloadBuilder
from bench.reporting import TimedPhase, apply_arguments, measurement, print_rates, print_ratios, run_rounds
from prism.relational.connection import credentials_for
from prism.relational.rows import CUSTOMERS, ORDER_LINE_COLUMNS, ORDERS, PRODUCTS, RowChange
from prism.relational.writer import upsert_statement
from prism.settings import RelationalSinkSettings
from prism_local.config import REPO_ROOT
from tests.support.cache import sqs_record
from tests.support.relational import actual_projection, expected_projection, root_connection
from tests.support.relational_failover import (
    RelationalQueueFeed,
    kill_and_restart_mariadb,
    private_stack,
    private_stack_sink,
    recovery_s,
    relational_event_source,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from bench.relational_workload import Workload
    from prism.relational.sink import RelationalSinkProcessor
    from tests.support.relational import Projected
    from tests.support.relational_failover import PrivateStack

RESULTS = REPO_ROOT / "bench" / "results"
RAW_ROWS_PER_STATEMENT = 1000
GOAL_SINK_OVER_RAW = 0.8
GOAL_SINK_OVER_NAIVE = 20.0
TABLES = ("customers", "products", "orders", "order_lines")

Record = dict[str, Any]
Statement = tuple[str, list[Any]]


# ---------------------------------------------------------------------------------------------- the writers


@dataclass(frozen=True)
class AppLogin:
    """How the sink logs in (user, password from the stack's secret, verified TLS), for the raw and naive
    writers, so all three pay the same connection costs."""

    arguments: dict[str, Any]

    @classmethod
    def of_sink(cls) -> AppLogin:
        settings = RelationalSinkSettings.from_env()
        credentials = credentials_for(settings)
        return cls(
            {
                "host": settings.db_host,
                "port": settings.db_port,
                "user": credentials.username,
                "password": credentials.password(),
                "database": settings.db_name,
                "ssl_ca": settings.db_ca_bundle,
                "ssl_verify_cert": True,
                "ssl_verify_identity": True,
                "charset": "utf8mb4",
                "connect_timeout": settings.db_connect_timeout_s,
            }
        )

    def connect(self) -> Any:
        return pymysql.connect(**self.arguments)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def line_rows(orders: Iterable[RowChange]) -> list[tuple[Any, ...]]:
    return [
        (order.id, line.line_no, line.sku, line.qty, line.unit_price, order.version)
        for order in orders
        if not order.deleted
        for line in order.lines
    ]


def lines_upsert(rows: Sequence[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """Order lines as one version-guarded multi-row upsert (on the order's version, assigned last)."""
    placeholder = "(" + ", ".join(["%s"] * len(ORDER_LINE_COLUMNS)) + ")"
    guarded = [
        f"{column} = IF(VALUES(order_version) > order_version, VALUES({column}), {column})"
        for column in ("sku", "qty", "unit_price", "order_version")
    ]
    sql = (
        f"INSERT INTO order_lines ({', '.join(ORDER_LINE_COLUMNS)}) VALUES "
        + ", ".join([placeholder] * len(rows))
        + " ON DUPLICATE KEY UPDATE "
        + ", ".join(guarded)
    )
    return sql, [value for row in rows for value in row]


def by_table(rows: Iterable[RowChange]) -> dict[str, list[RowChange]]:
    grouped: dict[str, list[RowChange]] = {spec.name: [] for spec in (CUSTOMERS, PRODUCTS, ORDERS)}
    for row in rows:
        grouped[row.table.name].append(row)
    return grouped


def raw_statements(rows: Sequence[RowChange]) -> list[Statement]:
    """(a)'s statements: 1000-row upserts per table, then the orders' lines, then the lines of deleted orders
    removed."""
    grouped = by_table(rows)
    statements = [
        upsert_statement(spec, chunk)
        for spec in (CUSTOMERS, PRODUCTS, ORDERS)
        for chunk in chunks(grouped[spec.name], RAW_ROWS_PER_STATEMENT)
    ]
    statements.extend(lines_upsert(chunk) for chunk in chunks(line_rows(grouped[ORDERS.name]), RAW_ROWS_PER_STATEMENT))
    deleted = [order.id for order in grouped[ORDERS.name] if order.deleted]
    for id_chunk in chunks(deleted, RAW_ROWS_PER_STATEMENT):
        placeholders = ", ".join(["%s"] * len(id_chunk))
        statements.append((f"DELETE FROM order_lines WHERE order_id IN ({placeholders})", list(id_chunk)))
    return statements


def write_raw(connection: Any, rows: Sequence[RowChange]) -> None:
    """(a): its statements built and sent on one connection, a commit after each."""
    with connection.cursor() as cursor:
        for sql, parameters in raw_statements(rows):
            cursor.execute(sql, parameters)
            connection.commit()


def write_naive(login: AppLogin, rows: Sequence[RowChange]) -> None:
    """(b): per record a new connection, one single-row statement per row (the order's lines one by one),
    a commit and a close, as the common samples do (they do not even close)."""
    for row in rows:
        connection = login.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(*upsert_statement(row.table, [row]))
                if row.table is ORDERS and row.deleted:
                    cursor.execute("DELETE FROM order_lines WHERE order_id = %s", [row.id])
                for line in line_rows([row]):
                    cursor.execute(*lines_upsert([line]))
            connection.commit()
        finally:
            connection.close()


def sink_batches(bodies: Sequence[str], batch_size: int) -> list[list[Record]]:
    """SQS records as Lambda hands them to the function, cut into batches of ``batch_size``."""
    return [[sqs_record(body) for body in batch] for batch in chunks(bodies, batch_size)]


def apply_through_sink(processor: RelationalSinkProcessor, batches: Sequence[list[Record]]) -> int:
    """Every batch through the real processor; returns the connections it opened. Raises on any failure."""
    opened = 0
    for batch in batches:
        response = process_partial_response({"Records": batch}, processor.parse_record, processor)
        summary = processor.summary
        if response["batchItemFailures"] or summary.dead_lettered or summary.written + summary.superseded != len(batch):
            raise RuntimeError(f"the sink did not apply a batch cleanly: {response}, {summary}")
        opened += summary.connections_opened
    return opened


# ---------------------------------------------------------------------------------------------- measuring


class Tables:
    """Root on the stack's database: empties the projection tables and checks them against expectations."""

    def __init__(self, stack: PrivateStack) -> None:
        self._config = stack.config

    def truncate(self) -> None:
        with root_connection(self._config) as connection, connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"TRUNCATE TABLE {table}")

    def check(self, label: str, ids: Iterable[str], expected: dict[tuple[str, str], Projected]) -> None:
        with root_connection(self._config) as connection:
            actual = actual_projection(connection, ids)
        if actual != expected:
            wrong = [key for key in expected if actual.get(key) != expected[key]]
            raise RuntimeError(f"{label}: {len(wrong)} of {len(expected)} keys differ from their newest change")


class Phase(TimedPhase):
    """A phase writing into the projection tables, emptied before each run; ``check`` compares them."""

    def __init__(
        self, label: str, changes: int, run: Callable[[], object], check: Callable[[], None], tables: Tables
    ) -> None:
        super().__init__(label, changes, run)
        self._check, self._tables = check, tables

    def prepare(self) -> None:
        self._tables.truncate()

    def check(self) -> None:
        self._check()


@dataclass
class FailoverRun:
    accepting_after_kill_ms: float
    restart_to_accepting_ms: float
    recovery_ms: float  # accepting -> first committed write
    failed_invocations: int
    redelivered: int
    connections_opened: int
    elapsed_s: float


def sink_run_with_failover(
    stack: PrivateStack, processor: RelationalSinkProcessor, workload: Workload, batch_size: int
) -> FailoverRun:
    """All changes through the queue feed (batches of ``batch_size``, the sink's default budget); a quarter
    in, mariadbd is killed and restarted a second later. Failed batches are re-delivered until they apply."""
    feed = RelationalQueueFeed(processor, batch_size=batch_size, batching_window_s=0.0)
    feed.send(workload.bodies)
    started = time.perf_counter()
    feed.start()
    try:
        deadline = time.monotonic() + 120
        while feed.stats.delivered < len(workload.bodies) // 4:
            if feed.error is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sink stopped before a quarter of the changes: {feed.error!r}")
            time.sleep(0.002)
        failover = kill_and_restart_mariadb(stack, down_for_s=1.0)
    finally:
        feed.close(timeout=120)
    elapsed = time.perf_counter() - started
    stats = feed.stats
    return FailoverRun(
        accepting_after_kill_ms=(failover.accepting_at - failover.killed_at) * 1000,
        restart_to_accepting_ms=(failover.accepting_at - failover.restart_began_at) * 1000,
        recovery_ms=recovery_s(failover, stats.write_times) * 1000,
        failed_invocations=stats.failed_invocations,
        redelivered=stats.redelivered,
        connections_opened=stats.connections_opened,
        elapsed_s=elapsed,
    )


# ---------------------------------------------------------------------------------------------- the report


def plot(rates: dict[str, float], labels: dict[str, str], recoveries: list[float], title: str, path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only the plot needs it, and it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 5.5), gridspec_kw={"width_ratios": [3, 1.3]})
    names = list(rates)
    bars = left.bar(range(len(names)), [rates[n] for n in names], color=["#4c72b0", "#55a868", "#c44e52"][: len(names)])
    left.bar_label(bars, labels=[f"{rates[n]:,.0f}/s" for n in names], fontsize=9, padding=2)
    left.set_yscale("log")
    left.set_ylabel("changes applied per second (median, log scale)")
    left.set_xticks(list(range(len(names))), [labels[n] for n in names], fontsize=8)
    left.grid(axis="y", which="both", alpha=0.3)
    runs = range(1, len(recoveries) + 1)
    recovery_bars = right.bar(list(runs), recoveries, color="#8172b2")
    right.bar_label(recovery_bars, labels=[f"{ms:,.0f}" for ms in recoveries], fontsize=9, padding=2)
    right.set_xticks(list(runs), [f"run {n}" for n in runs])
    right.set_ylabel("ms from MariaDB accepting again to first sink write")
    right.set_title("after kill -9 + restart", fontsize=9)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's generations.

    The workload and its SQS records (tens of MB of objects) stay in memory for the whole run. Left in the
    generations, each full collection that a phase's allocations trigger would scan them all, a cost a Lambda
    environment (which holds one batch) never pays and that would fall mostly on the sink, the phase that
    allocates most. Frozen, they are out of the way; each phase's own garbage is collected as usual.
    """
    gc.collect()
    gc.freeze()


def explain(
    processor: RelationalSinkProcessor,
    workload: Workload,
    batches: Sequence[list[Record]],
    login: AppLogin,
    rates: dict[str, float],
    tables: Tables,
) -> dict[str, Any]:
    """Print (and return) where the sink's time goes next to (a)'s: its stages timed alone, then a cProfile."""
    connection = login.connect()
    try:
        stages = stage_timings(workload, batches, connection)
        raw_escaping = escaping_us(connection, raw_statements(workload.rows), len(workload.rows))
    finally:
        connection.close()
    sink_us, raw_us = 1e6 / rates["sink"], 1e6 / rates["raw"]
    print(
        f"  where the sink's {sink_us:,.1f} µs per change go; (a) raw takes {raw_us:,.1f} µs per change: "
        f"{raw_escaping:,.1f} pymysql escaping, {raw_us - raw_escaping:,.1f} statements to the server and back"
    )
    for label, micros in stages.items():
        print(f"    {micros:>7.1f} µs  {label}, timed alone")
    rest = sink_us - sum(stages.values())
    print(f"    {rest:>7.1f} µs  the rest: the transactions to the server and back (sink less the above)")
    tables.truncate()
    profile = profile_sink(processor, batches, apply_through_sink)
    print("  cProfile of one sink run, cumulative µs per change (profiling inflates Python code most):")
    for label, micros in profile["cumulative_us_per_change"].items():
        print(f"    {micros:>8.1f}  {label}")
    print("  top functions by own time (µs per change, profiled):")
    for row in profile["top_own_us_per_change"][:10]:
        print(f"    {row['own_us_per_change']:>8.2f}  {row['function']}")
    return {
        "sink_us_per_change": sink_us,
        "raw_us_per_change": raw_us,
        "raw_escaping_us_per_change": raw_escaping,
        "sink_stages_us_per_change": stages | {"the rest (server and back)": rest},
        "profile": profile,
    }


def failover_runs(
    stack: PrivateStack, processor: RelationalSinkProcessor, workload: Workload, batch_size: int, rounds: int
) -> list[FailoverRun]:
    runs: list[FailoverRun] = []
    tables = Tables(stack)
    expected = expected_projection(workload.changes)
    for _ in range(rounds):
        tables.truncate()
        with quiet_output():
            run = sink_run_with_failover(stack, processor, workload, batch_size)
        tables.check("sink with failover", workload.ids, expected)
        runs.append(run)
        print(
            f"  failover run: mariadbd killed, accepting again {run.accepting_after_kill_ms:,.0f} ms later "
            f"(restart to accepting {run.restart_to_accepting_ms:,.0f} ms); first sink write "
            f"{run.recovery_ms:,.0f} ms after accepting; {run.failed_invocations} failed invocations, "
            f"{run.redelivered} re-deliveries, {run.connections_opened} connection(s) opened; all "
            f"{len(workload.changes):,} changes applied, nothing lost",
            flush=True,
        )
    return runs


def main() -> None:
    args = apply_arguments(__doc__, naive_default=1000, naive_unit="records")
    if args.changes < 4 * RAW_ROWS_PER_STATEMENT:
        raise SystemExit(f"relational_apply.py: --changes must be at least {4 * RAW_ROWS_PER_STATEMENT}")

    workload = WorkloadBuilder().build(args.changes)
    counts = workload.counts
    sample = min(args.naive_sample, len(workload.rows))
    expected = expected_projection(workload.changes)
    expected_sample = expected_projection(workload.changes[:sample])
    sample_ids = [change.id for change in workload.changes[:sample]]
    body_bytes = statistics.mean(len(body) for body in workload.bodies)
    freeze_heap()

    with private_stack() as stack, private_stack_sink(stack) as processor:
        batch_size = relational_event_source(stack.config).batch_size
        login = AppLogin.of_sink()
        tables = Tables(stack)
        print(
            f"relational sink benchmark: {counts['changes']:,} changes ({counts['keys']:,} keys; "
            f"{counts['customers']:,} customer, {counts['products']:,} product, {counts['orders']:,} order changes "
            f"with {counts['order_lines']:,} lines; {counts['updates']:,} updates, {counts['deletes']:,} deletes; "
            f"bodies {body_bytes:,.0f} bytes on average), batches of {batch_size} (RelationalFunction's BatchSize "
            f"in template.yaml), {args.rounds} rounds, median; {os.cpu_count()} CPUs",
            flush=True,
        )
        batches = sink_batches(workload.bodies, batch_size)
        freeze_heap()
        raw_connection = login.connect()
        opened_by_sink: list[int] = []
        phases = {
            "sink": Phase(
                f"sink: process_partial_response, batches of {batch_size}",
                len(workload.changes),
                lambda: opened_by_sink.append(apply_through_sink(processor, batches)),
                lambda: tables.check("sink", workload.ids, expected),
                tables,
            ),
            "raw": Phase(
                f"(a) raw: {RAW_ROWS_PER_STATEMENT}-row upserts, 1 connection",
                len(workload.changes),
                lambda: write_raw(raw_connection, workload.rows),
                lambda: tables.check("raw", workload.ids, expected),
                tables,
            ),
            "naive": Phase(
                f"(b) naive: connect + 1-row statements per record (first {sample:,} records)",
                sample,
                lambda: write_naive(login, workload.rows[:sample]),
                lambda: tables.check("naive", sample_ids, expected_sample),
                tables,
            ),
        }
        try:
            run_rounds(phases, args.rounds)
        finally:
            raw_connection.close()

        rates = print_rates(phases)
        raw_rows = len(workload.rows) + counts["order_lines"]
        print(
            f"    (a) writes {raw_rows:,} rows (lines included): {rates['raw'] * raw_rows / len(workload.rows):,.0f} "
            f"rows/s; (b) is timed on the first {sample:,} records (all creates) and stated as a rate"
        )
        sink_over_raw, sink_over_naive = print_ratios(phases, GOAL_SINK_OVER_RAW, GOAL_SINK_OVER_NAIVE)
        sink_changes = len(workload.changes) * len(opened_by_sink)
        per_10k = sum(opened_by_sink) / sink_changes * 10_000
        print(
            f"  connections opened by the sink: {sum(opened_by_sink)} over {sink_changes:,} changes in "
            f"{len(opened_by_sink)} runs = {per_10k:.2f} per 10,000 changes (naive: 10,000 per 10,000)"
        )

        failovers = failover_runs(stack, processor, workload, batch_size, args.rounds)
        recovery_ms = statistics.median(run.recovery_ms for run in failovers)
        print(
            f"  failover recovery (database accepting connections -> first successful write): "
            f"{recovery_ms:,.0f} ms (median of {len(failovers)})"
        )

        breakdown: dict[str, Any] = {}
        if args.profile or sink_over_raw < GOAL_SINK_OVER_RAW:
            breakdown = explain(processor, workload, batches, login, rates, tables)

    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {
        "workload": counts | {"average_body_bytes": body_bytes},
        "batch_size": batch_size,
        **measurement(phases, GOAL_SINK_OVER_RAW, GOAL_SINK_OVER_NAIVE, naive_unit="records"),
        "sink_connections_opened_per_10k_changes": per_10k,
        "failover": {"median_recovery_ms": recovery_ms, "runs": [vars(run) for run in failovers]},
        "breakdown": breakdown,
    }
    (RESULTS / "relational_apply.json").write_text(json.dumps(results, indent=2))
    title = (
        f"relational sink, {counts['changes']:,} changes in batches of {batch_size}, {os.cpu_count()} CPUs: "
        f"sink/(a) raw {sink_over_raw:.2f}x (goal >= {GOAL_SINK_OVER_RAW}x), sink/(b) naive "
        f"{sink_over_naive:.0f}x (goal >= {GOAL_SINK_OVER_NAIVE:.0f}x); failover recovery {recovery_ms:,.0f} ms median"
    )
    labels = {name: phase.label.replace(": ", ":\n", 1).replace(" (", "\n(", 1) for name, phase in phases.items()}
    plot(rates, labels, [run.recovery_ms for run in failovers], title, RESULTS / "relational_apply.png")
    print(f"  results: {RESULTS / 'relational_apply.json'}, {RESULTS / 'relational_apply.png'}")


if __name__ == "__main__":
    main()
