"""What the lake holds: every object under the lake prefix read back from S3 (moto locally), gunzipped, and
its lines' change event ids collected, so the demo and the tests can check that no change is missing; and the
lake as an analyst sees it, through ``prism lake query``'s engine (DuckDB over ``changes`` and ``latest``)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from prism.lake.layout import LAKE_PREFIX
from prism_local.demo.report import LakeQueryAnswer
from prism_local.lake_query import query_lake

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from prism_local.config import LocalConfig
    from prism_local.demo.report import VersionedKey

#: The live keys of the lake: what ``latest`` holds (newest version per key, deletes excluded).
LATEST_KEYS_SQL: Final = "SELECT entity, id, version FROM latest"
#: The analyst's query the report shows: the changes per entity and operation (a change written twice once).
EXAMPLE_LAKE_SQL: Final = """\
SELECT entity, op, count(DISTINCT event_id) AS changes
FROM changes
GROUP BY entity, op
ORDER BY entity, op"""


@dataclass
class LakeContents:
    """The lake's objects (key -> its lines' event ids, in order) and the changes their lines hold."""

    objects: dict[str, list[str]] = field(default_factory=dict)
    changes: set[tuple[str, str, int]] = field(default_factory=set)  # (entity, id, version)

    @property
    def lines(self) -> int:
        return sum(len(ids) for ids in self.objects.values())

    @property
    def event_ids(self) -> set[str]:
        return {event_id for ids in self.objects.values() for event_id in ids}


def read_lake(s3: S3Client, bucket: str, prefix: str = LAKE_PREFIX) -> LakeContents:
    """Every lake object in ``bucket`` under ``prefix`` (their current versions), with their lines' event ids."""
    contents = LakeContents()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            text = gzip.decompress(body).decode()
            rows = [json.loads(line) for line in text.splitlines()]
            contents.objects[entry["Key"]] = [row["event_id"] for row in rows]
            contents.changes.update((row["entity"], row["id"], int(row["version"])) for row in rows)
    return contents


def latest_keys(config: LocalConfig) -> list[VersionedKey]:
    """(entity, id, version) of every row of the lake's ``latest`` view, as ``prism lake query`` computes it."""
    return [(str(e), str(i), int(v)) for e, i, v in query_lake(config, LATEST_KEYS_SQL).rows]


def example_lake_query(config: LocalConfig) -> LakeQueryAnswer:
    """``EXAMPLE_LAKE_SQL`` and its answer, as ``prism lake query`` would print them."""
    return LakeQueryAnswer(EXAMPLE_LAKE_SQL, query_lake(config, EXAMPLE_LAKE_SQL))
