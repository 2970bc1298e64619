"""``/_docs``: Swagger UI over the project's OpenAPI document, served by ``prism start-api`` without internet.

The Swagger UI bundle comes from Powertools, which the layer already pins (``shared/requirements.txt``) and
which ships it for ``enable_swagger`` (``aws_lambda_powertools/event_handler/openapi/swagger_ui``); no CDN and
no extra package. If that package data is missing, ``/_docs`` falls back to a plain page that lists the routes
of the document. The document is read on every request, so a regenerated file shows without a restart.
"""

from __future__ import annotations

import importlib.resources
import json
import threading
from typing import TYPE_CHECKING, Final

from prism_local.runtime.api_gateway.responses import HttpResponse

if TYPE_CHECKING:
    from pathlib import Path

    from prism_local.runtime.api_gateway.request_event import HttpRequest

DOCS_PATH: Final = "/_docs"
SWAGGER_UI_PACKAGE: Final = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
_ASSETS: Final = {
    "swagger-ui-bundle.min.js": "application/javascript; charset=utf-8",
    "swagger-ui.min.css": "text/css; charset=utf-8",
}

_SWAGGER_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Prism API (local)</title>
  <link rel="stylesheet" href="/_docs/swagger-ui.min.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/_docs/swagger-ui-bundle.min.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/_docs/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
  </script>
</body>
</html>
"""

_ROUTE_LIST_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Prism API (local)</title></head>
<body>
  <h1 id="title">Prism API (local)</h1>
  <p>Swagger UI is not installed here; the routes of <a href="/_docs/openapi.json">openapi.json</a>:</p>
  <ul id="routes"></ul>
  <script>
    fetch("/_docs/openapi.json").then((response) => response.json()).then((doc) => {
      document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
      const list = document.getElementById("routes");
      for (const [path, operations] of Object.entries(doc.paths || {})) {
        for (const [method, operation] of Object.entries(operations)) {
          const item = document.createElement("li");
          item.textContent = method.toUpperCase() + " " + path + (operation.summary ? ": " + operation.summary : "");
          list.appendChild(item);
        }
      }
    });
  </script>
</body>
</html>
"""


def _json(status: int, document: object) -> HttpResponse:
    return HttpResponse(status, (("Content-Type", "application/json"),), json.dumps(document).encode())


class ApiDocs:
    """Serves the docs pages for GET and HEAD under ``/_docs``; ``swagger_ui`` names the package holding the
    Swagger UI bundle (None for the plain route list)."""

    def __init__(self, openapi_file: Path | None, *, swagger_ui: str | None = SWAGGER_UI_PACKAGE) -> None:
        self.openapi_file = openapi_file
        self._swagger_ui = swagger_ui
        self._lock = threading.Lock()
        self._assets: dict[str, bytes] | None = None

    def serves(self, request: HttpRequest) -> bool:
        path = request.path.rstrip("/")
        return request.method in ("GET", "HEAD") and (path == DOCS_PATH or path.startswith(f"{DOCS_PATH}/"))

    def respond(self, request: HttpRequest) -> HttpResponse:
        name = request.path.rstrip("/").removeprefix(DOCS_PATH).lstrip("/")
        if name == "openapi.json":
            return self._document()
        if name in _ASSETS:
            asset = self.assets().get(name)
            if asset is None:
                return _json(404, {"message": f"{name} is not installed (Swagger UI comes with Powertools)"})
            return HttpResponse(200, (("Content-Type", _ASSETS[name]), ("Cache-Control", "max-age=3600")), asset)
        if name:
            return _json(404, {"message": f"{DOCS_PATH}/{name} does not exist"})
        found = self._document_file()
        if isinstance(found, HttpResponse):
            return found
        page = _SWAGGER_PAGE if self.assets() else _ROUTE_LIST_PAGE
        return HttpResponse(200, (("Content-Type", "text/html; charset=utf-8"),), page.encode())

    def assets(self) -> dict[str, bytes]:
        """The Swagger UI files, read once; empty when the package does not ship them."""
        with self._lock:
            if self._assets is None:
                self._assets = self._read_assets()
            return self._assets

    def _read_assets(self) -> dict[str, bytes]:
        if self._swagger_ui is None:
            return {}
        try:
            folder = importlib.resources.files(self._swagger_ui)
            return {name: folder.joinpath(name).read_bytes() for name in _ASSETS}
        except (ModuleNotFoundError, FileNotFoundError):
            return {}

    def _document_file(self) -> Path | HttpResponse:
        """The OpenAPI file, or the 404 that says why there is none."""
        if self.openapi_file is None:
            return _json(404, {"message": "no OpenAPI document was given to this server"})
        if not self.openapi_file.is_file():
            return _json(404, {"message": f"no OpenAPI document at {self.openapi_file}: generate it first"})
        return self.openapi_file

    def _document(self) -> HttpResponse:
        found = self._document_file()
        if isinstance(found, HttpResponse):
            return found
        return HttpResponse(200, (("Content-Type", "application/json"),), found.read_bytes())
