"""The checkpoint store: persisted atomically, keyed finely, and clean for a new moto instance."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from prism_local.runtime.esm.checkpoints import CheckpointKey, CheckpointStore

if TYPE_CHECKING:
    from pathlib import Path

KEY = CheckpointKey("prism-local-Fanout", "TableStream", "arn:stream/1", "shardId-1")


def test_a_checkpoint_survives_a_new_store_on_the_same_moto_instance(tmp_path: Path) -> None:
    path = tmp_path / "state" / "checkpoints.json"
    CheckpointStore(path, "moto-1").put(KEY, "110")

    assert CheckpointStore(path, "moto-1").get(KEY) == "110"
    assert not list(path.parent.glob("*.tmp")), "no temporary file is left behind"


def test_a_new_moto_instance_starts_clean(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    CheckpointStore(path, "moto-1").put(KEY, "110")

    store = CheckpointStore(path, "moto-2")

    assert store.get(KEY) is None
    store.put(KEY, "5")
    assert json.loads(path.read_text())["moto_instance_id"] == "moto-2"


def test_keys_tell_functions_events_streams_and_shards_apart(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "c.json", "m")
    store.put(KEY, "1")

    for other in (
        CheckpointKey("other", KEY.event_name, KEY.stream_arn, KEY.shard_id),
        CheckpointKey(KEY.function_name, "Other", KEY.stream_arn, KEY.shard_id),
        CheckpointKey(KEY.function_name, KEY.event_name, "arn:stream/2", KEY.shard_id),
        CheckpointKey(KEY.function_name, KEY.event_name, KEY.stream_arn, "shardId-2"),
    ):
        assert store.get(other) is None
    assert store.get(KEY) == "1"


def test_an_unreadable_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")

    store = CheckpointStore(path, "m")
    assert store.get(KEY) is None
    store.put(KEY, "7")

    assert CheckpointStore(path, "m").get(KEY) == "7"
