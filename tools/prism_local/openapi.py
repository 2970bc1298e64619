"""The API's OpenAPI document, generated from the resolver itself, and committed as docs/openapi.json.

`prism openapi` rewrites it; `prism openapi --check` (and a unit test) fails when the code has drifted from
the committed document, so the document API consumers read is always the API that runs.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from prism.api.app import TITLE, VERSION, create_app
from prism.api.idempotency import IdempotentCreates
from prism_local.config import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
DESCRIPTION = (
    "Customers, products and orders of Prism's single-table store. Writes are versioned: every entity carries "
    "an ETag (its version), PATCH and DELETE require If-Match, POST accepts an Idempotency-Key. Errors are "
    '{"error": {"code", "message", "details"}}.'
)


class _RoutesOnly:
    """Stands in for the services while routes are only being described: any call is a bug."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
            raise RuntimeError(f"{name} called while generating the OpenAPI document")

        return refuse


def offline_creates() -> IdempotentCreates:
    """Real idempotency wiring (routes register their creates on it) whose client is built but never called:
    for describing the routes, or serving requests that carry no Idempotency-Key."""
    # Explicit credentials: boto3 resolves them when the client is built and would otherwise ask EC2 metadata.
    dynamodb = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="openapi",
        aws_secret_access_key="openapi",  # noqa: S106 - placeholder, never sent
    )
    return IdempotentCreates(DynamoDBPersistenceLayer(table_name="offline", boto3_client=dynamodb))


def render() -> str:
    app = create_app(_RoutesOnly(), _RoutesOnly(), offline_creates(), _RoutesOnly())  # type: ignore[arg-type]
    schema = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION))
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write() -> None:
    DOCUMENT.write_text(render(), encoding="utf-8")


def drifted() -> bool:
    return not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != render()
