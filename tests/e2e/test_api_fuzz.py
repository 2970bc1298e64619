"""Schemathesis against `start-api`: requests generated from docs/openapi.json, valid and invalid, sent over HTTP
to the real api function; none may get a 5xx, and every answer must be one the document declares (status,
content type, body schema). Derandomized, so a run is reproducible; at least MIN_REQUESTS in all."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import OPENAPI

if TYPE_CHECKING:
    from collections.abc import Callable

    from hypothesis.strategies import SearchStrategy
    from schemathesis import APIOperation, Case

    from tests.e2e.conftest import RunningApi
    from tests.support.http import ApiClient

pytestmark = pytest.mark.e2e

MIN_REQUESTS = 1000
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 25}  # per operation (fewer when fewer exist)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=1,  # replaced per mode
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class FuzzRun:
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.requests} generated requests"]
        lines += [f"  {label:<28} {status}  x{count}" for (label, status), count in sorted(self.statuses.items())]
        return "\n".join(lines)


@dataclass(frozen=True)
class KnownEntities:
    """Entities that exist, so that generated requests also reach the success paths (200 bodies, cache hits)
    and not only 404s: ``readable`` ids for GET and PATCH, ``deletable`` ones for DELETE."""

    readable: dict[str, str]
    deletable: dict[str, str]

    @classmethod
    def create(cls, client: ApiClient) -> KnownEntities:
        def create(path: str, document: dict[str, Any]) -> str:
            reply = client.post(path, document)
            assert reply.status == 201, reply.body
            return str(reply.body["id"])

        def ids() -> dict[str, str]:
            email = f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
            customer = create("/customers", {"email": email, "name": "Fuzz"})
            sku = f"FUZZ-{uuid.uuid4().hex[:10]}"
            product = create("/products", {"sku": sku, "name": "F", "category": "fuzz", "price": "1.00"})
            order = create("/orders", {"customer_id": customer, "lines": [{"sku": product, "qty": 1}]})
            return {"customers": customer, "products": product, "orders": order}

        return cls(readable=ids(), deletable=ids())

    def strategy(self, operation: APIOperation, mode: GenerationMode) -> SearchStrategy[Case]:
        """Fully generated cases, and as many with the id of an existing entity (and ``If-Match: *`` on writes,
        which makes a valid patch succeed)."""
        generated = operation.as_strategy(generation_mode=mode)
        if "{id}" not in operation.path:
            return generated
        collection = operation.path.split("/")[1]
        method = operation.method.upper()
        known = (self.deletable if method == "DELETE" else self.readable)[collection]
        headers = {"If-Match": "*"} if method in {"PATCH", "DELETE"} else None
        return st.one_of(
            generated, operation.as_strategy(generation_mode=mode, path_parameters={"id": known}, headers=headers)
        )


def fuzz(operation: APIOperation, strategy: SearchStrategy[Case], examples: int, run: FuzzRun) -> Callable[[], None]:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=strategy)
    def send(case: Case) -> None:
        # A new connection per request: on a kept-alive one, start-api answers about 40 ms later (Nagle's
        # algorithm against delayed ACKs: it writes the headers and the body in two sends).
        response = case.call()
        run.requests += 1
        run.statuses[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    return send


def test_generated_requests_get_no_5xx_and_only_documented_answers(
    api: RunningApi, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_path(OPENAPI)
    schema.config.update(base_url=api.url)
    known = KnownEntities.create(api.client)
    run = FuzzRun()

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in EXAMPLES.items():
            try:
                fuzz(operation, known.strategy(operation, mode), examples, run)()
            except Unsatisfiable:
                # No invalid request exists for some operations (GET /health; an id that is any string).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Failure, FailureGroup) as failure:
                run.failures.append(f"{operation.label} ({mode.value} data):\n{failure}")

    print(run.summary())  # shown with the failure report
    with capsys.disabled():
        print(f"\nschemathesis: {run.requests} generated requests, {len(run.failures)} operations failed", flush=True)
    assert not run.failures, "\n\n".join(run.failures)
    assert run.requests >= MIN_REQUESTS
