"""`prism lake query "SQL"`: the SQL analysts run in Athena, run with DuckDB over the local stack's lake.

Athena reads the lake through the Glue table ``changes`` and the view ``latest`` (template.yaml). Here the
objects under ``lake/`` in moto's S3 are copied into a temporary directory with their Hive layout, and DuckDB
gets the same two names, with the same columns, so a query moves between the two unchanged. DuckDB's httpfs
extension could read S3 directly, but it is downloaded on first use, which a machine without internet cannot
do; a local lake is small enough to copy.

``latest`` is the SQL of ``sql/lake/latest.sql``, the same text the Glue view holds (a unit test keeps them equal).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

import duckdb
from botocore.exceptions import BotoCoreError, ClientError

from prism.lake.layout import LAKE_PREFIX
from prism_local.analytics import QueryResult
from prism_local.config import REPO_ROOT
from prism_local.stack.provision import load_stack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from prism_local.config import LocalConfig

LATEST_SQL_FILE: Final = REPO_ROOT / "sql" / "lake" / "latest.sql"
LAKE_BUCKET: Final = "LakeBucket"

#: The Glue table's columns (template.yaml, LakeChangesTable) in DuckDB's types, then its partition keys.
CHANGE_COLUMNS: Final = {
    "event_id": "VARCHAR",
    "op": "VARCHAR",
    "version": "BIGINT",
    "event_time": "VARCHAR",
    "id": "VARCHAR",
    "item": "VARCHAR",
}
PARTITION_KEYS: Final = ("entity", "dt", "hour")
#: The lake's objects, relative to the directory the lake is copied into.
OBJECT_GLOB: Final = f"{LAKE_PREFIX}*/*/*/*.json.gz"


class LakeQueryError(Exception):
    """The lake cannot be queried (no stack, no lake bucket, moto unreachable) or the SQL failed."""


def latest_sql(path: Path = LATEST_SQL_FILE) -> str:
    """The statement of ``sql/lake/latest.sql``: its ``--`` comment lines and any closing ``;`` removed."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().removesuffix(";").strip()


def query_lake(config: LocalConfig, sql: str) -> QueryResult:
    """Run ``sql`` over the lake of ``config``'s stack, with ``changes`` and ``latest`` defined as in Athena.

    An empty lake is still a lake: ``changes`` is then an empty table with the same columns.
    """
    bucket = lake_bucket(config)
    s3 = config.session().client("s3", endpoint_url=config.moto_endpoint)
    with tempfile.TemporaryDirectory(prefix="prism-lake-") as directory:
        root = Path(directory)
        download_lake(s3, bucket, root)
        has_objects = any(root.glob(OBJECT_GLOB))
        with duckdb.connect(config={"autoinstall_known_extensions": False}) as connection:
            define_views(connection, root if has_objects else None)
            return run_sql(connection, sql)


def lake_bucket(config: LocalConfig) -> str:
    """The name of the stack's ``LakeBucket`` in moto, or a ``LakeQueryError`` that says how to get one."""
    if not config.stack_file.exists():
        raise LakeQueryError(
            f"stack {config.stack_name!r} is not provisioned ({config.stack_file} is missing): run `prism stack up`"
        )
    stack = load_stack(config.stack_file)
    if LAKE_BUCKET not in stack.resources:
        raise LakeQueryError(
            f"stack {config.stack_name!r} has no {LAKE_BUCKET}: it was provisioned from an older template; "
            "run `prism stack up` again"
        )
    return stack.ref(LAKE_BUCKET)


def download_lake(s3: S3Client, bucket: str, directory: Path) -> int:
    """Copy every object under ``lake/`` of ``bucket`` into ``directory`` at the same relative path; the count."""
    root = directory.resolve()
    copied = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=LAKE_PREFIX):
            for entry in page.get("Contents", []):
                key = entry["Key"]
                if key.endswith("/"):
                    continue  # a "folder" marker some tools create, not data
                target = (root / key).resolve()
                if not target.is_relative_to(root):
                    raise LakeQueryError(f"s3://{bucket}/{key}: the key leaves the lake's directory")
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
                copied += 1
    except ClientError as exc:
        raise LakeQueryError(f"cannot read s3://{bucket}/{LAKE_PREFIX} from moto: {exc}") from exc
    except BotoCoreError as exc:
        raise LakeQueryError(f"cannot reach moto: {exc}; is the local stack running (`prism stack up`)?") from exc
    return copied


def define_views(connection: duckdb.DuckDBPyConnection, lake: Path | None) -> None:
    """Create ``changes`` over the gzip NDJSON objects of the lake copied into ``lake`` (None: the lake holds
    no objects yet, and ``changes`` is empty) and ``latest`` over it."""
    names = ", ".join([*CHANGE_COLUMNS, *PARTITION_KEYS])
    if lake is None:
        casts = [f"CAST(NULL AS {kind}) AS {name}" for name, kind in CHANGE_COLUMNS.items()]
        casts += [f"CAST(NULL AS VARCHAR) AS {name}" for name in PARTITION_KEYS]
        source = f"(SELECT {', '.join(casts)} WHERE false)"
    else:
        pattern = _literal(str(lake / OBJECT_GLOB))
        columns = ", ".join(f"{_literal(name)}: {_literal(kind)}" for name, kind in CHANGE_COLUMNS.items())
        # Partition values stay strings ("09", not 9), as the Glue table declares them.
        hive_types = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in PARTITION_KEYS)
        source = (
            f"read_json({pattern}, format = 'newline_delimited', hive_partitioning = true, "
            f"hive_types = {{{hive_types}}}, columns = {{{columns}}})"
        )
    # DDL takes no bound parameters; every piece is a constant of this module or a path quoted by _literal.
    connection.execute(f"CREATE VIEW changes AS SELECT {names} FROM {source}")  # noqa: S608
    connection.execute(f"CREATE VIEW latest AS {latest_sql()}")
    # Athena (Trino) takes fields out of `item` with json_extract_scalar, which DuckDB calls
    # json_extract_string; the alias lets the queries of docs/lake.md run unchanged in both.
    connection.execute("CREATE MACRO json_extract_scalar(document, path) AS json_extract_string(document, path)")


def run_sql(connection: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    """The columns and rows of the query ``sql``; a statement that returns no result is refused."""
    try:
        relation = connection.sql(sql)
        if relation is None:
            raise LakeQueryError("the SQL ran but returned no result: `prism lake query` takes a query (SELECT ...)")
        return QueryResult(tuple(relation.columns), tuple(tuple(row) for row in relation.fetchall()))
    except duckdb.Error as exc:
        raise LakeQueryError(f"DuckDB: {exc}") from exc


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
