"""`prism lake query`'s DuckDB views over lake objects on disk: `latest` converges, an empty lake is empty."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prism.changes.envelope import Op
from prism.lake.layout import LAKE_PREFIX, encode_object, lake_row, object_key, partition_of
from prism_local.lake_query import CHANGE_COLUMNS, PARTITION_KEYS, LakeQueryError, define_views, run_sql
from tests.support.relational import change

if TYPE_CHECKING:
    from prism.changes.envelope import ChangeEvent

#: Per key: its entity, and for each version from 1 whether that write was a delete.
HISTORIES = st.lists(
    st.tuples(st.sampled_from(["customer", "product", "order"]), st.lists(st.booleans(), min_size=1, max_size=4)),
    min_size=1,
    max_size=6,
)


def history(entity: str, number: int, deletes: list[bool]) -> list[ChangeEvent]:
    """The changes of one key, an hour apart, so they spread over partitions as real ones do."""
    changes = []
    for version, deleted in enumerate(deletes, start=1):
        written = change(entity, f"{entity[0]}{number}", version, deleted=deleted)
        changes.append(written.model_copy(update={"event_time": written.event_time + timedelta(hours=version)}))
    return changes


def write_batch(lake: Path, batch: list[ChangeEvent]) -> None:
    """What the sink writes for ``batch``: one object per partition, at the key its change ids decide."""
    by_partition: dict[Any, list[ChangeEvent]] = defaultdict(list)
    for item in batch:
        by_partition[partition_of(item.entity, item.event_time)].append(item)
    for partition, changes in by_partition.items():
        target = lake / object_key(LAKE_PREFIX, partition, (c.event_id for c in changes))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode_object(changes))


def query(lake: Path | None, sql: str) -> tuple[tuple[Any, ...], ...]:
    with duckdb.connect() as connection:
        define_views(connection, lake)
        return run_sql(connection, sql).rows


@settings(max_examples=30, deadline=None)
@given(histories=HISTORIES, data=st.data())
def test_latest_is_the_final_state_however_batches_are_duplicated_reordered_and_regrouped(
    histories: list[tuple[str, list[bool]]], data: st.DataObject
) -> None:
    changes = [c for number, (entity, deletes) in enumerate(histories) for c in history(entity, number, deletes)]
    repeated = data.draw(st.lists(st.sampled_from(changes), max_size=len(changes)), label="delivered again")
    delivered = data.draw(st.permutations(changes + repeated), label="delivery order")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(delivered) - 1) if len(delivered) > 1 else st.nothing())))
    batches = [delivered[start:end] for start, end in zip([0, *cuts], [*cuts, len(delivered)], strict=True)]
    final = {(c.entity, c.id): c for c in sorted(changes, key=lambda c: c.version)}

    with tempfile.TemporaryDirectory() as directory:
        for batch in batches:
            write_batch(Path(directory), batch)
        latest = query(Path(directory), "SELECT entity, id, version, item FROM latest ORDER BY entity, id")

    assert latest == tuple(
        (c.entity, c.id, c.version, lake_row(c)["item"]) for _, c in sorted(final.items()) if c.op is Op.UPSERT
    )


def test_an_empty_lake_has_both_names_with_their_columns_and_no_rows() -> None:
    with duckdb.connect() as connection:
        define_views(connection, None)
        changes = run_sql(connection, "SELECT * FROM changes")
        latest = run_sql(connection, "SELECT * FROM latest")

    assert changes.columns == (*CHANGE_COLUMNS, *PARTITION_KEYS)
    assert changes.rows == latest.rows == ()
    assert latest.columns == ("entity", "id", "version", "event_time", "item")


def test_the_athena_json_function_works_locally() -> None:
    assert query(None, """SELECT json_extract_scalar('{"category": "books"}', '$.category')""") == (("books",),)


def test_sql_duckdb_rejects_is_a_lake_query_error() -> None:
    with pytest.raises(LakeQueryError, match=r"^DuckDB: .*no_such_table"):
        query(None, "SELECT * FROM no_such_table")


def test_a_statement_without_a_result_is_refused() -> None:
    with pytest.raises(LakeQueryError, match="takes a query"):
        query(None, "CREATE TABLE scratch (x INTEGER)")
