"""The cache behind the API, end to end: changes reach it through the stream, the fanout, SNS, the cache queue
and the cache sink; an old change never replaces a newer cached value; and the API keeps answering, without
a 5xx, while its Redis is down, then caches again once Redis is back."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from prism.store.keys import customer_key
from prism.versioning import next_version
from tests.e2e.conftest import serving_api, stack_config
from tests.support.cache import RedisProcess, change
from tests.support.pipeline import client as aws_client
from tests.support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from prism_local.config import LocalConfig
    from tests.e2e.conftest import RunningApi
    from tests.support.http import ApiClient, Reply

pytestmark = pytest.mark.e2e

PIPELINE_WAIT_S = 60.0  # polled; a passing run returns as soon as the change arrives
CACHE_SINK = "CacheSinkFunction"


def eventually(probe: Callable[[], Reply], done: Callable[[Reply], bool], timeout_s: float) -> Reply:
    """The first answer of ``probe`` that is ``done``, polling until ``timeout_s``; the last one otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = probe()
        if done(reply) or time.monotonic() >= deadline:
            return reply
        time.sleep(0.1)


def new_customer(client: ApiClient) -> dict[str, Any]:
    reply = client.post("/customers", {"email": f"{uuid.uuid4().hex[:12]}@example.com", "name": "Grace"})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def cached(client: ApiClient, path: str) -> Reply:
    """GET ``path`` until the cache answers it (a hit), so the test starts from a cached value."""
    reply = eventually(lambda: client.get(path), lambda reply: reply.header("X-Cache") == "hit", 5.0)
    assert reply.header("X-Cache") == "hit", reply
    return reply


def settle(api: RunningApi) -> None:
    """Wait until the pollers have nothing left: every change made so far went through the cache sink."""
    assert api.runner.wait_until_idle(PIPELINE_WAIT_S), api.runner.stats()


def test_a_write_straight_to_the_table_reaches_the_cache_through_the_stream(api: RunningApi) -> None:
    customer = new_customer(api.client)
    path = f"/customers/{customer['id']}"
    before = cached(api.client, path)
    dynamodb: Any = aws_client(api.config, "dynamodb")
    key = customer_key(customer["id"])
    item = dynamodb.get_item(
        TableName=api.stack.ref("Table"), Key={"pk": {"S": key.pk}, "sk": {"S": key.sk}}, ConsistentRead=True
    )["Item"]
    newer = next_version(customer["version"])

    dynamodb.put_item(
        TableName=api.stack.ref("Table"),
        Item={**item, "name": {"S": "Renamed behind the API"}, "version": {"N": str(newer)}},
        ConditionExpression="version = :read",
        ExpressionAttributeValues={":read": {"N": str(customer["version"])}},
    )
    after = eventually(lambda: api.client.get(path), lambda reply: reply.etag_version == newer, PIPELINE_WAIT_S)

    assert before.body == customer
    assert after.status == 200
    assert after.etag_version == newer, "the cache sink never dropped the cached old version"
    assert after.body["name"] == "Renamed behind the API"
    assert after.body["version"] == newer
    assert after.header("X-Cache") in {"loaded", "shared"}
    assert api.client.get(path).header("X-Cache") == "hit"


def test_an_older_change_never_replaces_a_newer_cached_value(api: RunningApi) -> None:
    customer = new_customer(api.client)
    path = f"/customers/{customer['id']}"
    patched = api.client.patch(path, {"name": "Grace H."}, if_match=f'"{customer["version"]}"')
    newest = cached(api.client, path)
    settle(api)
    stale_before = api.runtime.metrics.total(CACHE_SINK, "CacheStaleChangesIgnored")
    sqs: Any = aws_client(api.config, "sqs")
    old_changes = [
        change("customer", customer["id"], customer["version"]),  # the create, delivered late
        change("customer", customer["id"], customer["version"] + 1, deleted=True),  # an old delete
    ]

    for old in old_changes:
        sqs.send_message(
            QueueUrl=api.stack.ref("CacheQueue"), MessageBody=old.to_json(), MessageAttributes=old.message_attributes()
        )
    settle(api)

    assert api.runtime.metrics.total(CACHE_SINK, "CacheStaleChangesIgnored") == stale_before + len(old_changes)
    still = api.client.get(path)
    assert still.status == 200
    assert still.header("X-Cache") == "hit"
    assert still.body == newest.body == patched.body
    assert still.etag_version == patched.body["version"]


def test_the_api_answers_without_its_redis_and_caches_again_when_it_is_back(
    local_servers: LocalConfig, tmp_path: Path
) -> None:
    redis = RedisProcess(free_port(), tmp_path)
    redis.start()
    try:
        config = stack_config(local_servers, parameter_overrides={"CacheUrl": f"redis://127.0.0.1:{redis.port}/0"})
        with serving_api(config) as api:
            client = api.client
            customer = new_customer(client)
            path = f"/customers/{customer['id']}"
            cached(client, path)

            redis.kill()
            during: list[Reply] = []
            during.append(read := client.get(path))
            during.append(patched := client.patch(path, {"tier": "gold"}, if_match=read.header("ETag")))
            during.append(reread := client.get(path))
            during.append(created := client.post("/customers", {"email": f"{uuid.uuid4().hex}@ex.com", "name": "B"}))
            during.append(client.get(f"/customers/{created.body['id']}"))
            during.append(client.get("/customers?limit=5"))
            during.append(deleted := client.delete(f"/customers/{created.body['id']}", if_match="*"))
            during.append(client.get(f"/customers/{created.body['id']}"))

            redis.start()
            back = eventually(lambda: client.get(path), lambda reply: reply.header("X-Cache") != "bypass", 10.0)
            hit = client.get(path)
    finally:
        redis.stop()

    assert [reply.status for reply in during] == [200, 200, 200, 201, 200, 200, 204, 404]
    assert read.header("X-Cache") == "bypass"
    assert read.body == customer
    assert patched.body["tier"] == "gold"
    assert reread.header("X-Cache") == "bypass"
    assert reread.body == patched.body, "a write during the outage is read back at once"
    assert deleted.status == 204
    assert back.header("X-Cache") in {"loaded", "shared"}
    assert back.body == patched.body
    assert hit.header("X-Cache") == "hit"
    assert hit.body == patched.body
