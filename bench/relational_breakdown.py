"""Where the relational sink's time goes: its stages timed one by one outside it (no profiler, µs per change),
and a cProfile of one whole run grouped by stage. Used by bench/relational_apply.py when the sink misses its
goal against the raw bulk writer (or with --profile)."""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from bench.api_get import quiet_output
from prism.changes import exact_json
from prism.changes.claim_check import S3ClaimCheckStore
from prism.changes.envelope import ChangeEvent
from prism.changes.reader import ChangeReader
from prism.relational.rows import CUSTOMERS, ORDER_LINE_COLUMNS, ORDERS, PRODUCTS, row_change
from prism.relational.writer import collapse, rendered_upsert, sql_literal
from prism.settings import RelationalSinkSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from bench.relational_workload import Workload
    from prism.relational.sink import RelationalSinkProcessor

Record = dict[str, Any]
Statement = tuple[str, list[Any]]


def per_change_us(work: Callable[[], object], changes: int) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) / changes * 1e6


def batched_us(function: Callable[[Any], object], inputs: Sequence[Any], batch_size: int, changes: int) -> float:
    """``function`` over ``inputs``, a batch at a time, each batch's results dropped before the next, as in
    the sink (which holds one batch); µs per change."""

    def work() -> None:
        for start in range(0, len(inputs), batch_size):
            results = [function(item) for item in inputs[start : start + batch_size]]
            del results

    return per_change_us(work, changes)


def sink_statements(workload: Workload, batch_size: int) -> list[str]:
    """The statements the writer sends for ``workload`` in batches of ``batch_size``, values rendered in as the
    writer renders them (its upserts, and its INSERT of the lines of the orders it replaces)."""
    statements: list[str] = []
    for start in range(0, len(workload.rows), batch_size):
        newest = collapse(workload.rows[start : start + batch_size]).values()
        for spec in (CUSTOMERS, PRODUCTS, ORDERS):
            rows = [row for row in newest if row.table is spec]
            if rows:
                statements.append(rendered_upsert(spec, rows))
        lines = [
            (o.id, line.line_no, line.sku, line.qty, line.unit_price, o.version)
            for o in newest
            if o.table is ORDERS and not o.deleted
            for line in o.lines
        ]
        if lines:
            statements.append(
                f"INSERT INTO order_lines ({', '.join(ORDER_LINE_COLUMNS)}) VALUES "
                + ", ".join("(" + ", ".join(map(sql_literal, line)) + ")" for line in lines)
            )
    return statements


def escaping_us(connection: Any, statements: Iterable[Statement], changes: int) -> float:
    """pymysql's escaping of the parameters into ``statements`` (``Cursor.mogrify``), per change."""

    def work() -> None:
        with connection.cursor() as cursor:
            for sql, parameters in statements:
                cursor.mogrify(sql, parameters)

    return per_change_us(work, changes)


def stage_timings(workload: Workload, batches: Sequence[list[Record]], connection: Any) -> dict[str, float]:
    """Each stage of the sink on the whole workload, timed alone, a batch at a time: µs per change."""
    count = len(workload.bodies)
    batch_size = len(batches[0])
    settings = RelationalSinkSettings.from_env()
    reader = ChangeReader(S3ClaimCheckStore(boto3.client("s3"), settings.claim_check_bucket))
    documents = [exact_json.loads(body) for body in workload.bodies]
    events = [reader.read(body) for body in workload.bodies]
    images = [event.new_image for event in events if event.new_image is not None]
    gc.collect()
    gc.freeze()  # the inputs above stay out of the collector's way, as the workload does (see relational_apply)

    def powertools_loop() -> None:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

        def handler(record: SQSRecord) -> str:
            return record.body

        for batch in batches:
            process_partial_response({"Records": batch}, handler, processor)

    item_json = batched_us(exact_json.dumps, images, batch_size, count)
    return {
        "Powertools' batch loop + SQSRecord (a no-op handler)": per_change_us(powertools_loop, count),
        "envelope JSON (exact_json.loads: json + Decimal)": batched_us(
            exact_json.loads, workload.bodies, batch_size, count
        ),
        "envelope validation (pydantic ChangeEvent)": batched_us(
            ChangeEvent.from_document, documents, batch_size, count
        ),
        "row checks and typing (row_change less the item JSON)": batched_us(row_change, events, batch_size, count)
        - item_json,
        "item JSON text (exact_json.dumps of the new image)": item_json,
        "collapse + SQL with the values rendered in (rendered_upsert, lines INSERT)": per_change_us(
            lambda: sink_statements(workload, batch_size), count
        ),
    }


#: Profile categories: (label, file suffix, function), by cumulative time; indented ones are inside the one above.
PROFILE_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("whole sink run", "aws_lambda_powertools/utilities/batch/decorators.py", "process_partial_response"),
    ("Powertools: BatchProcessor._process_record", "aws_lambda_powertools/utilities/batch/base.py", "_process_record"),
    ("  record handler: parse_record", "prism/relational/sink.py", "parse_record"),
    ("    read envelope (ChangeReader.read)", "prism/changes/reader.py", "read"),
    ("    build row (row_change)", "prism/relational/rows.py", "row_change"),
    ("      item JSON (exact_json.dumps)", "prism/changes/exact_json.py", "dumps"),
    ("collapse", "prism/relational/writer.py", "collapse"),
    ("ProjectionWriter.write", "prism/relational/writer.py", "write"),
    ("  build SQL with the values (rendered_upsert)", "prism/relational/writer.py", "rendered_upsert"),
    ("  pymysql escaping (Cursor._mogrify; the few parameterised statements)", "pymysql/cursors.py", "_mogrify"),
    ("  statements to the server and back (Cursor._query)", "pymysql/cursors.py", "_query"),
    ("  commits to the server and back", "pymysql/connections.py", "commit"),
)


def profile_sink(
    processor: RelationalSinkProcessor, batches: Sequence[list[Record]], apply: Callable[..., object]
) -> dict[str, Any]:
    """cProfile of ``apply(processor, batches)``: each stage's cumulative time (profiling inflates Python code
    most) and the functions with the most time of their own, in µs per change."""
    profiler = cProfile.Profile()
    with quiet_output():
        profiler.enable()
        apply(processor, batches)
        profiler.disable()
    entries = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    changes = sum(len(batch) for batch in batches)
    categories = {
        label: sum(
            cumulative
            for (filename, _, name), (_, _, _, cumulative, _) in entries.items()
            if name == function and filename.endswith(suffix)
        )
        / changes
        * 1e6
        for label, suffix, function in PROFILE_CATEGORIES
    }
    top = sorted(
        (
            {"function": f"{_short(filename)}:{line}({name})", "own_us_per_change": own / changes * 1e6}
            for (filename, line, name), (_, _, own, _, _) in entries.items()
        ),
        key=lambda row: float(row["own_us_per_change"]),
        reverse=True,
    )[:15]
    return {"cumulative_us_per_change": categories, "top_own_us_per_change": top}


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/shared/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
