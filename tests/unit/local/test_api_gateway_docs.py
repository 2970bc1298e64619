"""/_docs: Swagger UI from Powertools' bundled assets over the OpenAPI file, or a 404 that says what is missing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from prism_local.runtime.api_gateway.docs_site import ApiDocs
from prism_local.runtime.api_gateway.request_event import HttpRequest

if TYPE_CHECKING:
    from pathlib import Path

    from prism_local.runtime.api_gateway.responses import HttpResponse

DOCUMENT = {"openapi": "3.1.0", "info": {"title": "Prism", "version": "1"}, "paths": {}}


def get(docs: ApiDocs, path: str, method: str = "GET") -> HttpResponse:
    request = HttpRequest(method, path, (), b"", "127.0.0.1", 3000)
    assert docs.serves(request)
    return docs.respond(request)


def test_only_reads_under_the_docs_path_are_docs() -> None:
    docs = ApiDocs(None)

    def serves(method: str, path: str) -> bool:
        return docs.serves(HttpRequest(method, path, (), b"", "127.0.0.1", 3000))

    assert serves("GET", "/_docs")
    assert serves("HEAD", "/_docs/openapi.json")
    assert not serves("POST", "/_docs")
    assert not serves("GET", "/_documents")
    assert not serves("GET", "/customers")


def test_the_page_is_swagger_ui_over_the_document(tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(DOCUMENT))
    docs = ApiDocs(document)

    page = get(docs, "/_docs/")
    served = get(docs, "/_docs/openapi.json")
    script = get(docs, "/_docs/swagger-ui-bundle.min.js")
    style = get(docs, "/_docs/swagger-ui.min.css")

    assert page.status == 200
    assert b"SwaggerUIBundle" in page.body
    assert b"/_docs/openapi.json" in page.body
    assert (served.status, json.loads(served.body)) == (200, DOCUMENT)
    assert script.status == 200
    assert len(script.body) > 100_000
    assert dict(style.headers)["Content-Type"].startswith("text/css")


def test_a_missing_document_is_a_404_that_says_where_it_was_expected(tmp_path: Path) -> None:
    docs = ApiDocs(tmp_path / "openapi.json")

    page = get(docs, "/_docs")
    served = get(docs, "/_docs/openapi.json")

    assert page.status == served.status == 404
    assert str(tmp_path / "openapi.json") in json.loads(page.body)["message"]
    assert dict(page.headers)["Content-Type"] == "application/json"


def test_without_swagger_ui_the_page_lists_the_routes_of_the_document(tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(DOCUMENT))
    docs = ApiDocs(document, swagger_ui="a_package_that_is_not_installed")

    page = get(docs, "/_docs")

    assert page.status == 200
    assert b"SwaggerUIBundle" not in page.body
    assert b"doc.paths" in page.body
    assert get(docs, "/_docs/swagger-ui-bundle.min.js").status == 404


def test_an_unknown_docs_file_is_404() -> None:
    assert get(ApiDocs(None), "/_docs/nope.js").status == 404
