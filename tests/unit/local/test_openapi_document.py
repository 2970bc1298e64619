"""docs/openapi.json is what the resolver generates: a route added, removed or changed without
regenerating the document (`make openapi`) fails here."""

from __future__ import annotations

import json

from prism_local import openapi


def test_the_committed_openapi_document_matches_the_code() -> None:
    assert not openapi.drifted(), "docs/openapi.json is out of date: run `make openapi`"


def test_the_document_describes_every_route_and_the_error_shape() -> None:
    paths = json.loads(openapi.render())["paths"]

    assert set(paths) >= {
        "/customers", "/customers/{id}", "/customers/{id}/orders",
        "/products", "/products/{id}", "/orders", "/orders/{id}", "/health",
    }  # fmt: skip
    assert set(paths["/products/{id}"]) == {"get", "patch", "delete"}
    parameters = {p["name"] for p in paths["/products"]["get"]["parameters"]}
    assert parameters == {"category", "limit", "cursor"}
