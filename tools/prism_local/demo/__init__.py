"""`prism demo`: the whole local pipeline, end to end, with a readable report.

It starts the local stack (unless it is already up), serves the API locally and drives a few hundred entities
through it over HTTP (creates, reads, updates, deletes, refused requests), lets the template's event sources
carry every change through the fanout to SNS and every sink queue, to the cache sink, the relational sink
(into MySQL), the search sink (into OpenSearch, osmem locally) and the lake sink (into S3), waits until the
MySQL projection and the search indices equal DynamoDB and the lake holds every change, and reports API
statuses, cache hit ratio, counts, every store's live items beside DynamoDB's (MySQL, OpenSearch, the lake's
``latest`` view, the cache), the lake's objects, one search through the API, one lake query, one analytics
query and anything dead-lettered. It stops what it started.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from redis import Redis

from prism.entities import DELETED_ATTRIBUTE, ENTITY_ATTRIBUTE, ENTITY_TYPES, ID_ATTRIBUTE, VERSION_ATTRIBUTE
from prism.relational.rows import ORDERS, TABLES
from prism_local.analytics import analytics_query, run_query
from prism_local.demo.api_workload import drive
from prism_local.demo.cache import read_cache
from prism_local.demo.lake import LakeContents, example_lake_query, latest_keys, read_lake
from prism_local.demo.queues import FAILURE_QUEUES, depth
from prism_local.demo.report import (
    AnalyticsTable,
    CacheSinkFigures,
    DemoResult,
    FanoutFigures,
    LakeFigures,
    RelationalSinkFigures,
    SearchComparison,
    SearchSinkFigures,
    StoreComparison,
    StoreState,
    caught_up,
    compare_cache,
    compare_lake_latest,
    compare_search,
    compare_stores,
    render,
)
from prism_local.demo.search import example_search, read_indices, search_client
from prism_local.progress import ProgressBar
from prism_local.runtime.api_gateway.server import ApiGatewayServer
from prism_local.runtime.esm.checkpoints import CheckpointStore
from prism_local.runtime.esm.runner import EventSourceRunner
from prism_local.runtime.local_runtime import LocalRuntime
from prism_local.stack.control import stack_down, stack_up
from prism_local.stack.lifecycle import LocalStack
from prism_local.stack.mariadb import root_connection
from prism_local.stack.search_indices import search_index_prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from opensearchpy import OpenSearch

    from prism_local.config import LocalConfig

FANOUT = "FanoutFunction"
CACHE_SINK = "CacheSinkFunction"
RELATIONAL_SINK = "RelationalFunction"
LAKE_SINK = "LakeFunction"
SEARCH_SINK = "SearchFunction"
TABLE = "Table"
#: How long the relational sink may take, after the queues drained, to make MySQL equal to DynamoDB.
CATCH_UP_S = 60.0
#: How long the search sink may take, after MySQL caught up, to make the indices equal to DynamoDB.
SEARCH_CATCH_UP_S = 60.0
#: How long the lake sink may take, after MySQL caught up, to hold every change (its batching window is 5 s).
LAKE_CATCH_UP_S = 60.0
#: The analytics query whose answer the report shows (sql/analytics/<name>.sql).
REPORTED_QUERY = "top_customers"
#: Template parameter naming the Redis the API and the cache sink use.
CACHE_URL_PARAMETER = "CacheUrl"
#: redis-server's databases beside database 0 (which the running stack's cache uses): 1..15 by default.
SPARE_REDIS_DATABASES = 15


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_demo(config: LocalConfig, *, items: int, keep_stack: bool) -> int:
    began = time.monotonic()
    already_up = LocalStack(config).status().all_ready
    if already_up:
        # A running stack may hold earlier data; the demo provisions its own copy of the template beside it.
        config = _own_cache_database(config.with_overrides(stack_name=f"prism-demo-{uuid.uuid4().hex[:6]}"))
    _say(f"▸ local stack ({'already running; using stack ' + config.stack_name if already_up else 'starting'})")
    try:
        up = stack_up(config, lambda message: _say(f"  · {message}"))
        result = _drive_pipeline(config, up.moto_instance_id, items, began)
    finally:
        if keep_stack or already_up:
            _say(f"▸ the local stack keeps running (state in {config.state_dir}); stop it with: make down")
        else:
            _say("▸ stopping the local stack")
            stack_down(config, lambda message: _say(f"  · {message}"))
    print(render(result))
    return 0 if result.passed else 1


def _cache_url(config: LocalConfig) -> str:
    return config.parameter_overrides.get(CACHE_URL_PARAMETER, config.redis_url)


def _own_cache_database(config: LocalConfig) -> LocalConfig:
    """``config`` with a Redis database of its stack's own, emptied, for the API and the cache sink.

    Cache keys carry no stack name (``prism:{entity}:{id}``), and the demo's product ids (``sku-00000``...)
    repeat from run to run, so in the running stack's database the demo could read another stack's entries and
    could not tell its own cache apart from theirs. The database is only a cache: emptying it costs misses.
    """
    digest = hashlib.sha256(config.stack_name.encode()).digest()
    database = 1 + int.from_bytes(digest[:4], "big") % SPARE_REDIS_DATABASES
    url = f"redis://{config.host}:{config.ports.redis}/{database}"
    with Redis.from_url(url) as client:
        client.flushdb()
    overrides = {**config.parameter_overrides, CACHE_URL_PARAMETER: url}
    return config.with_overrides(parameter_overrides=overrides)


def _drive_pipeline(config: LocalConfig, moto_instance_id: str, items: int, began: float) -> DemoResult:
    session = config.session()
    sqs = session.client("sqs", endpoint_url=config.moto_endpoint)
    s3 = session.client("s3", endpoint_url=config.moto_endpoint)

    with LocalRuntime(config) as runtime:
        stack = runtime.stack
        runner = EventSourceRunner(
            runtime.functions(),
            runtime.pool,
            endpoint_url=config.moto_endpoint,
            region=config.region,
            checkpoints=CheckpointStore(config.checkpoint_file, moto_instance_id),
        )
        _say("▸ event sources running: " + ", ".join(runner.stats()))
        runner.start()
        try:
            with ApiGatewayServer(runtime, port=0) as server:
                _say(f"▸ API at {server.url}: creating, reading, updating and deleting ~{items} entities over HTTP")
                bar = ProgressBar("API requests", 1)

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done)

                traffic = drive(server.url, items, progress)
                expected = len(traffic.writes_ms)
                _say("▸ fanout: stream -> envelopes -> SNS -> sink queues, each consumed by its sink function")
                _say(f"▸ relational sink: RelationalQueue -> MySQL {config.database_name}, until it equals DynamoDB")
                dynamodb = session.client("dynamodb", endpoint_url=config.moto_endpoint)
                source = _dynamodb_state(dynamodb, stack.ref(TABLE))
                with root_connection(config, config.database_name) as connection:
                    stores = _await_projection(source, connection, config)
                    analytics = AnalyticsTable(
                        "top customers by revenue",
                        f"sql/analytics/{REPORTED_QUERY}.sql",
                        run_query(connection, analytics_query(REPORTED_QUERY), source=REPORTED_QUERY),
                    )
                prefix = search_index_prefix(config)
                _say(f"▸ search sink: SearchQueue -> OpenSearch aliases {prefix}customers/products/orders, until equal")
                search = _await_search(source, search_client(config), prefix)
                # Once the indices equal DynamoDB, a search answers from every product.
                searched = example_search(server.url)
            _say("▸ lake sink: LakeQueue -> gzipped NDJSON objects in the lake bucket, until it holds every change")
            lake = _await_lake(s3, stack.ref("LakeBucket"), expected)
            runner.wait_until_idle(timeout=30)
            _say("▸ lake and cache: the lake's latest view (prism lake query) and the stack's Redis beside DynamoDB")
            lake_latest = compare_lake_latest(source, latest_keys(config))
            lake_query = example_lake_query(config)
            with Redis.from_url(_cache_url(config)) as redis:
                cache = compare_cache(source, read_cache(redis, sorted(ENTITY_TYPES)))
        finally:
            runner.stop(timeout=30)
        stats = runner.stats()
        metrics = runtime.metrics
        fanout_stats = [s for name, s in stats.items() if name.startswith(FANOUT)]
        figures = FanoutFigures(
            stream_records=sum(s.records_read for s in fanout_stats),
            invocations=sum(s.invocations for s in fanout_stats),
            function_errors=sum(s.function_errors for s in fanout_stats),
            cold_starts=runtime.cold_starts().get(FANOUT, 0),
            published=int(metrics.total(FANOUT, "EnvelopesPublished")),
            claim_checks=int(metrics.total(FANOUT, "ClaimChecksWritten")),
            skipped=int(metrics.total(FANOUT, "NonEntityRecordsSkipped")),
            malformed=int(metrics.total(FANOUT, "MalformedRecords")),
        )
        cache_sink = CacheSinkFigures(
            records=int(metrics.total(CACHE_SINK, "CacheChangeRecords")),
            applied=int(metrics.total(CACHE_SINK, "CacheChangesApplied")),
            stale=int(metrics.total(CACHE_SINK, "CacheStaleChangesIgnored")),
        )
        relational = RelationalSinkFigures(
            records=int(metrics.total(RELATIONAL_SINK, "RelationalChangeRecords")),
            keys_written=int(metrics.total(RELATIONAL_SINK, "RelationalKeysWritten")),
            transactions=int(metrics.total(RELATIONAL_SINK, "RelationalTransactions")),
            connections_opened=int(metrics.total(RELATIONAL_SINK, "RelationalConnectionsOpened")),
            dead_lettered=int(metrics.total(RELATIONAL_SINK, "RelationalChangesDeadLettered")),
        )
        search_sink = SearchSinkFigures(
            records=int(metrics.total(SEARCH_SINK, "SearchChangeRecords")),
            indexed=int(metrics.total(SEARCH_SINK, "SearchDocumentsIndexed")),
            conflicts=int(metrics.total(SEARCH_SINK, "SearchVersionConflicts")),
            retried=int(metrics.total(SEARCH_SINK, "SearchItemRetries")),
            rejected=int(metrics.total(SEARCH_SINK, "SearchDocumentsRejected")),
            unavailable=int(metrics.total(SEARCH_SINK, "SearchItemsUnavailable")),
        )
        lake_figures = LakeFigures(
            records=int(metrics.total(LAKE_SINK, "LakeChangeRecords")),
            objects_written=int(metrics.total(LAKE_SINK, "LakeObjectsWritten")),
            objects=len(lake.objects),
            lines=lake.lines,
            event_ids=len(lake.event_ids),
            changes=frozenset(lake.changes),
        )
        failures = {name: depth(sqs, stack.ref(queue)) for name, queue in FAILURE_QUEUES.items()}
    return DemoResult(
        traffic,
        figures,
        cache_sink,
        failures,
        relational,
        stores,
        search_sink,
        search,
        lake_figures,
        analytics,
        lake_latest=lake_latest,
        cache=cache,
        search_example=searched,
        lake_query=lake_query,
        elapsed_s=time.monotonic() - began,
    )


def _dynamodb_state(client: DynamoDBClient, table: str) -> StoreState:
    """Every entity item of the table (live or tombstone) and every line of its live orders, by a Scan."""
    deserializer = TypeDeserializer()
    entities: dict[tuple[str, str], tuple[int, bool]] = {}
    lines: set[tuple[str, int, str, int, Decimal]] = set()
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for raw in page.get("Items", []):
            item = {name: deserializer.deserialize(value) for name, value in raw.items()}
            entity = item.get(ENTITY_ATTRIBUTE)
            if entity not in {spec.entity for spec in TABLES.values()}:
                continue  # email guards and other items that are not entities
            deleted = item.get(DELETED_ATTRIBUTE) is True
            entity_id = str(item[ID_ATTRIBUTE])
            entities[(str(entity), entity_id)] = (int(item[VERSION_ATTRIBUTE]), deleted)
            if entity == ORDERS.entity and not deleted:
                for number, line in enumerate(item.get("lines", []), start=1):
                    lines.add((entity_id, number, str(line["sku"]), int(line["qty"]), Decimal(line["unit_price"])))
    return StoreState(entities, frozenset(lines))


def _mysql_state(connection: Any) -> StoreState:
    """The projection as analysts see it (the views' live rows and lines), plus its tombstones."""
    entities: dict[tuple[str, str], tuple[int, bool]] = {}
    with connection.cursor() as cursor:
        for spec in TABLES.values():
            cursor.execute(f"SELECT id, version FROM v_{spec.name}")  # noqa: S608  (names are constants)
            entities.update({(spec.entity, str(i)): (int(v), False) for i, v in cursor.fetchall()})
            cursor.execute(f"SELECT id, version FROM {spec.name} WHERE deleted = 1")  # noqa: S608  (constants)
            entities.update({(spec.entity, str(i)): (int(v), True) for i, v in cursor.fetchall()})
        cursor.execute("SELECT order_id, line_no, sku, qty, unit_price FROM v_order_lines")
        lines = frozenset((str(o), int(n), str(s), int(q), Decimal(p)) for o, n, s, q, p in cursor.fetchall())
    return StoreState(entities, lines)


def _await_projection(dynamodb: StoreState, connection: Any, config: LocalConfig) -> StoreComparison:
    """Poll MySQL until it equals ``dynamodb`` or CATCH_UP_S passes; the comparison at that moment."""
    bar = ProgressBar("MySQL caught up", len(dynamodb.entities))
    started = time.monotonic()
    while True:
        mysql = _mysql_state(connection)
        waited = time.monotonic() - started
        comparison = compare_stores(dynamodb, mysql, database=config.database_name, waited_s=waited)
        bar.update(caught_up(dynamodb, mysql))
        if comparison.matches or waited >= CATCH_UP_S:
            return comparison
        time.sleep(0.5)


def _await_search(dynamodb: StoreState, client: OpenSearch, prefix: str) -> SearchComparison:
    """Poll the search indices until they equal ``dynamodb`` or SEARCH_CATCH_UP_S passes."""
    bar = ProgressBar("OpenSearch caught up", len(dynamodb.entities))
    started = time.monotonic()
    while True:
        documents = read_indices(client, prefix)
        waited = time.monotonic() - started
        comparison = compare_search(dynamodb, documents, prefix=prefix, waited_s=waited)
        bar.update(sum(1 for key, state in dynamodb.entities.items() if documents.get(key) == state))
        if comparison.matches or waited >= SEARCH_CATCH_UP_S:
            return comparison
        time.sleep(0.5)


def _await_lake(s3: S3Client, bucket: str, expected: int) -> LakeContents:
    """Read the lake back until it holds ``expected`` distinct changes or LAKE_CATCH_UP_S passes."""
    bar = ProgressBar("lake caught up", expected)
    started = time.monotonic()
    while True:
        lake = read_lake(s3, bucket)
        bar.update(min(len(lake.event_ids), expected))
        if len(lake.event_ids) >= expected or time.monotonic() - started >= LAKE_CATCH_UP_S:
            return lake
        time.sleep(0.5)
