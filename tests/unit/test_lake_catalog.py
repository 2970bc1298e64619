"""The lake's Glue catalog in template.yaml agrees with the sink's layout and with `prism lake query`.

Athena finds objects only where the table's partition projection says they are, and a view whose SQL drifted
from the local one would make DuckDB and Athena answer differently; both mistakes are silent in AWS.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from prism.entities import ENTITY_TYPES
from prism.lake.layout import LAKE_PREFIX, partition_path
from prism_local.config import ACCOUNT_ID, DEFAULT_REGION, REPO_ROOT
from prism_local.lake_query import CHANGE_COLUMNS, LATEST_SQL_FILE, PARTITION_KEYS, latest_sql
from prism_local.template.reader import Template
from tests.support.provisioned import fake_stack

BUCKET = "prism-dev-lakebucket-0123456789ab"
DATABASE = "prism_dev_lake"
TEMPLATE = Template.load(
    REPO_ROOT / "template.yaml", stack_name="prism-dev", region=DEFAULT_REGION, account_id=ACCOUNT_ID
)
STACK = fake_stack(TEMPLATE, LakeBucket=BUCKET, LakeDatabase=DATABASE)

#: Glue (Hive) column types as DuckDB and Trino name them.
DUCKDB_TYPES = {"string": "VARCHAR", "bigint": "BIGINT"}
TRINO_TYPES = {"string": "varchar", "bigint": "bigint"}
#: Athena's date projection formats are Java DateTimeFormatter patterns; these are the ones the table may use.
JAVA_TO_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d"}


def table_input(logical_id: str) -> dict[str, Any]:
    properties = TEMPLATE.resolve(TEMPLATE.resources[logical_id]["Properties"], STACK, f"Resources.{logical_id}")
    assert properties["DatabaseName"] == DATABASE
    table: dict[str, Any] = properties["TableInput"]
    return table


CHANGES = table_input("LakeChangesTable")
LATEST = table_input("LakeLatestView")


def projected_location(entity: str, event_time: datetime) -> str:
    """Where Athena's partition projection looks for the changes of ``entity`` at ``event_time``."""
    parameters = CHANGES["Parameters"]
    assert entity in parameters["projection.entity.values"].split(",")
    assert parameters["projection.dt.type"] == "date"
    date_format = re.sub(
        "yyyy|MM|dd", lambda match: JAVA_TO_STRFTIME[match.group()], parameters["projection.dt.format"]
    )
    moment = event_time.astimezone(UTC)
    assert parameters["projection.hour.type"] == "integer"
    low, high = (int(bound) for bound in parameters["projection.hour.range"].split(","))
    assert low <= moment.hour <= high
    values = {
        "entity": entity,
        "dt": moment.strftime(date_format),
        "hour": str(moment.hour).zfill(int(parameters["projection.hour.digits"])),
    }
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], parameters["storage.location.template"])


def statement(sql: str) -> str:
    """``sql`` without comment lines, closing ``;`` or layout: what the engine parses."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    text = " ".join(" ".join(lines).split()).removesuffix(";").strip()
    return text.replace("( ", "(").replace(" )", ")")


def presto_view(table: dict[str, Any]) -> dict[str, Any]:
    original = table["ViewOriginalText"]
    match = re.fullmatch(r"/\* Presto View: ([A-Za-z0-9+/=]+) \*/", original)
    assert match, original
    definition: dict[str, Any] = json.loads(base64.b64decode(match.group(1), validate=True))
    return definition


def test_a_change_lands_where_the_projection_looks() -> None:
    event_time = datetime(2026, 11, 2, 9, 5, 0, 123000, tzinfo=UTC)

    location = projected_location("customer", event_time)

    assert location == f"s3://{BUCKET}/lake/entity=customer/dt=2026-11-02/hour=09/"
    assert location == f"s3://{BUCKET}/{LAKE_PREFIX}{partition_path('customer', event_time)}/"


@given(
    entity=st.sampled_from(sorted(ENTITY_TYPES)),
    moment=st.datetimes(min_value=datetime(2024, 1, 2), max_value=datetime(2099, 12, 31)),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_every_partition_the_sink_writes_is_one_the_projection_reads(
    entity: str, moment: datetime, offset_minutes: int
) -> None:
    event_time = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))

    assert projected_location(entity, event_time) == f"s3://{BUCKET}/{LAKE_PREFIX}{partition_path(entity, event_time)}/"


def test_the_projection_covers_every_entity_and_no_crawler_is_needed() -> None:
    parameters = CHANGES["Parameters"]

    assert set(parameters["projection.entity.values"].split(",")) == ENTITY_TYPES
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.range"].split(",")[1] == "NOW"
    assert CHANGES["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/{LAKE_PREFIX}"


def test_the_table_reads_gzip_ndjson_with_the_columns_duckdb_is_given() -> None:
    descriptor = CHANGES["StorageDescriptor"]

    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert CHANGES["Parameters"]["compressionType"] == "gzip"
    assert {column["Name"]: DUCKDB_TYPES[column["Type"]] for column in descriptor["Columns"]} == CHANGE_COLUMNS
    assert tuple(key["Name"] for key in CHANGES["PartitionKeys"]) == PARTITION_KEYS
    assert {key["Type"] for key in CHANGES["PartitionKeys"]} == {"string"}


def test_the_database_name_is_one_athena_accepts() -> None:
    properties = TEMPLATE.resolve(TEMPLATE.resources["LakeDatabase"]["Properties"], STACK, "Resources.LakeDatabase")

    assert properties["DatabaseInput"]["Name"] == "prism_dev_lake"


def test_the_view_runs_the_sql_of_sql_lake_latest() -> None:
    definition = presto_view(LATEST)

    assert statement(definition["originalSql"]) == statement(LATEST_SQL_FILE.read_text(encoding="utf-8"))
    assert statement(latest_sql()) == statement(definition["originalSql"])
    assert "FROM changes" in definition["originalSql"]
    assert (definition["catalog"], definition["schema"]) == ("awsdatacatalog", DATABASE)


def test_the_view_is_an_athena_view_with_the_columns_it_selects() -> None:
    definition = presto_view(LATEST)
    glue_columns = [(column["Name"], column["Type"]) for column in LATEST["StorageDescriptor"]["Columns"]]
    selected = re.match(r"SELECT (.*?) FROM", statement(definition["originalSql"]))
    assert selected

    assert LATEST["TableType"] == "VIRTUAL_VIEW"
    assert LATEST["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
    assert LATEST["ViewExpandedText"] == "/* Presto View */"
    assert [(column["name"], column["type"]) for column in definition["columns"]] == [
        (name, TRINO_TYPES[kind]) for name, kind in glue_columns
    ]
    assert [name for name, _ in glue_columns] == selected.group(1).split(", ")
