"""What the lake holds: every object under the lake prefix read back from S3 (moto locally), gunzipped, and
its lines' change event ids collected, so the demo and the tests can check that no change is missing."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prism.lake.layout import LAKE_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


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
