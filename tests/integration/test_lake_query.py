"""`prism lake query` over gzip NDJSON objects in a provisioned stack's LakeBucket in moto, as a developer runs it."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from prism_local.config import REPO_ROOT
from prism_local.lake_query import query_lake
from prism_local.stack.provision import load_stack
from tests.conftest import cli_environment

if TYPE_CHECKING:
    from prism_local.config import LocalConfig

pytestmark = pytest.mark.integration

#: The SQL blocks of docs/lake.md: the view's SQL, then the three queries analysts run in Athena.
DOC_QUERIES = re.findall(r"```sql\n(.*?)```", (REPO_ROOT / "docs" / "lake.md").read_text(encoding="utf-8"), re.DOTALL)


def change(event_id: str, op: str, entity: str, key: str, version: int, hour: str) -> dict[str, Any]:
    image = {"entity": entity, "id": key, "version": version, "name": key, "category": "books", "stock": version}
    item = None if op == "delete" else json.dumps(image)
    return {
        "event_id": event_id,
        "op": op,
        "version": version,
        "event_time": f"2026-11-02T{hour}:05:00.123Z",
        "entity": entity,
        "id": key,
        "item": item,
    }


def put_object(config: LocalConfig, key: str, lines: list[dict[str, Any]]) -> None:
    stack = load_stack(config.stack_file)
    s3 = config.session().client("s3", endpoint_url=config.moto_endpoint)
    body = gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())
    s3.put_object(
        Bucket=stack.ref("LakeBucket"),
        Key=key,
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=stack.attribute("DataKey", "Arn"),
    )


def lake_query(config: LocalConfig, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prism_local.cli", "lake", "query", sql],
        env=cli_environment(config),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rows(output: str) -> list[list[str]]:
    """The cells of a rendered table: its header and rule lines dropped."""
    return [line.split() for line in output.splitlines()[2:]]


@pytest.fixture
def lake(provisioned: LocalConfig) -> LocalConfig:
    """A product written at versions 1 and 2 then deleted at 3 (in another hour's object), another product at
    versions 1 and 4, and a customer whose one change was written twice, by a batch and by its retry with a
    different batch around it."""
    partition = "lake/entity={entity}/dt=2026-11-02/hour={hour}/part-{name}.json.gz"
    put_object(
        provisioned,
        partition.format(entity="product", hour="09", name="a" * 32),
        [
            change("e1", "upsert", "product", "p1", 1, "09"),
            change("e2", "upsert", "product", "p1", 2, "09"),
            change("e4", "upsert", "product", "p2", 1, "09"),
        ],
    )
    put_object(
        provisioned,
        partition.format(entity="product", hour="10", name="b" * 32),
        [change("e3", "delete", "product", "p1", 3, "10"), change("e5", "upsert", "product", "p2", 4, "10")],
    )
    put_object(
        provisioned,
        partition.format(entity="customer", hour="09", name="c" * 32),
        [change("e6", "upsert", "customer", "c1", 1, "09")],
    )
    put_object(
        provisioned,
        partition.format(entity="customer", hour="09", name="d" * 32),
        [change("e6", "upsert", "customer", "c1", 1, "09"), change("e6", "upsert", "customer", "c1", 1, "09")],
    )
    return provisioned


def test_latest_keeps_one_row_per_key_at_its_newest_version_without_deleted_keys(lake: LocalConfig) -> None:
    result = lake_query(
        lake, "SELECT entity, id, version, json_extract_string(item, '$.name') AS name FROM latest ORDER BY entity, id"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["entity", "id", "version", "name"]
    assert rows(result.stdout) == [["customer", "c1", "1", "c1"], ["product", "p2", "4", "p2"]]
    assert "(2 rows)" in result.stderr


def test_changes_counts_every_line_with_its_partition(lake: LocalConfig) -> None:
    result = lake_query(lake, "SELECT entity, dt, hour, count(*) AS lines FROM changes GROUP BY ALL ORDER BY ALL")

    assert result.returncode == 0, result.stderr
    assert rows(result.stdout) == [
        ["customer", "2026-11-02", "09", "3"],
        ["product", "2026-11-02", "09", "3"],
        ["product", "2026-11-02", "10", "2"],
    ]


def test_an_empty_lake_answers_with_zero_rows(provisioned: LocalConfig) -> None:
    result = lake_query(provisioned, "SELECT entity, id FROM latest")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["entity  id", "------  --", "(no rows)"]
    assert "(0 rows)" in result.stderr


def test_bad_sql_is_a_usage_error_naming_duckdb(lake: LocalConfig) -> None:
    result = lake_query(lake, "SELECT no_such_column FROM changes")

    assert result.returncode == 2
    assert "prism: DuckDB:" in result.stderr
    assert "no_such_column" in result.stderr


def test_an_unprovisioned_stack_is_named_with_the_way_out(provisioned: LocalConfig) -> None:
    result = lake_query(provisioned.with_overrides(stack_name="never-provisioned"), "SELECT 1")

    assert result.returncode == 2
    assert "prism stack up" in result.stderr


def test_the_sql_of_the_docs_runs_unchanged_locally(lake: LocalConfig) -> None:
    latest, per_category, per_hour, deletes_per_day = (query_lake(lake, sql) for sql in DOC_QUERIES)

    assert sorted(row[:3] for row in latest.rows) == [("customer", "c1", 1), ("product", "p2", 4)]
    assert per_category.rows == (("books", 1, 4),)
    assert per_hour.rows == (
        ("2026-11-02", "09", "customer", 1),
        ("2026-11-02", "09", "product", 3),
        ("2026-11-02", "10", "product", 2),
    )
    assert deletes_per_day.rows == (("2026-11-02", "product", 1),)
