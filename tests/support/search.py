"""The real search sink built from SearchFunction's environment, and readers of what osmem holds."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from prism.changes import exact_json
from prism.search.indices import INDICES
from prism.search.wiring import search_sink_processor
from prism_local.stack.search_indices import search_index_prefix
from tests.support.cache import sqs_record
from tests.support.functions import built_in_process

if TYPE_CHECKING:
    from collections.abc import Iterable
    from contextlib import AbstractContextManager

    from prism.changes.envelope import ChangeEvent
    from prism.search.sink import SearchSinkProcessor
    from prism_local.config import LocalConfig


def search_sink(config: LocalConfig) -> AbstractContextManager[SearchSinkProcessor]:
    """The real search sink, built by its own wiring from SearchFunction's environment, in-process."""
    return built_in_process(config, "SearchFunction", search_sink_processor)


def deliver(sink: SearchSinkProcessor, changes: Iterable[ChangeEvent]) -> list[str]:
    """One SQS batch of ``changes`` through the sink; the message ids it reported as failures."""
    records = [sqs_record(c.to_json(), message_id=f"m-{n}") for n, c in enumerate(changes)]
    response = process_partial_response({"Records": records}, sink.parse_record, sink)
    return [str(f["itemIdentifier"]) for f in response["batchItemFailures"]]


def _request(config: LocalConfig, path: str, body: dict[str, Any] | None = None) -> Any:
    """A request to osmem, the answer parsed with exact numbers (Decimal, never float)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{config.opensearch_url}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return exact_json.loads(response.read())


def documents(config: LocalConfig, entity: str, ids: Iterable[str]) -> dict[str, tuple[str, int, dict[str, Any]]]:
    """id -> (index behind the alias, _version, _source) of the stack's documents of ``entity``."""
    alias = INDICES[entity].alias(search_index_prefix(config))
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    body = {"query": {"ids": {"values": wanted}}, "size": len(wanted), "version": True}
    hits = _request(config, f"/{alias}/_search", body)["hits"]["hits"]
    return {hit["_id"]: (hit["_index"], int(hit["_version"]), hit["_source"]) for hit in hits}


def live_count(config: LocalConfig, entity: str) -> int:
    """How many live (not tombstoned) documents the stack's ``entity`` index holds."""
    alias = INDICES[entity].alias(search_index_prefix(config))
    return int(_request(config, f"/{alias}/_count", {"query": {"term": {"deleted": False}}})["count"])
