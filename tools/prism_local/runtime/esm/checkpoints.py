"""Where each stream mapping has got to in each shard, kept across runs in a small JSON file.

Lambda keeps this position itself; locally it must survive a restart of the runner, but not a restart of
moto: a new moto instance has new streams whose sequence numbers start again, so the store is tied to the id
of the moto instance it was written against and starts clean when that id changes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_log = logging.getLogger(__name__)
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class CheckpointKey:
    """One mapping's position in one shard.

    The stream ARN is part of the key as well as the shard id: moto gives every stream's shard the same id,
    and a table deleted and created again gets a new stream whose sequence numbers start over.
    """

    function_name: str
    event_name: str
    stream_arn: str
    shard_id: str

    def as_text(self) -> str:
        return "|".join((self.function_name, self.event_name, self.stream_arn, self.shard_id))


class CheckpointStore:
    """Sequence numbers by :class:`CheckpointKey`, written atomically (temporary file, then rename).

    Thread-safe. ``get`` answers from memory; every ``put`` rewrites the file, which stays small (one entry per
    mapping and shard).
    """

    def __init__(self, path: Path, moto_instance_id: str) -> None:
        self.path = path
        self.moto_instance_id = moto_instance_id
        self._lock = threading.Lock()
        self._positions = self._load()

    def get(self, key: CheckpointKey) -> str | None:
        """The sequence number of the last record handled, or None when the shard was never checkpointed."""
        with self._lock:
            return self._positions.get(key.as_text())

    def put(self, key: CheckpointKey, sequence_number: str) -> None:
        """Record that every record up to ``sequence_number`` is handled, and persist it."""
        with self._lock:
            self._positions[key.as_text()] = sequence_number
            self._write()

    def _load(self) -> dict[str, str]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.warning("Ignoring an unreadable checkpoint file", extra={"path": str(self.path), "error": str(exc)})
            return {}
        if not isinstance(document, dict) or document.get("moto_instance_id") != self.moto_instance_id:
            _log.info(
                "Checkpoints belong to another moto instance; starting clean",
                extra={"path": str(self.path), "moto_instance_id": self.moto_instance_id},
            )
            return {}
        positions = document.get("checkpoints", {})
        if not isinstance(positions, dict):
            return {}
        return {str(key): str(value) for key, value in positions.items()}

    def _write(self) -> None:
        document = {
            "version": _FORMAT_VERSION,
            "moto_instance_id": self.moto_instance_id,
            "checkpoints": dict(sorted(self._positions.items())),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(document, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
