"""Swagger UI at ``/docs``, served entirely by the app: no CDN, no inline script.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script; that
leaks every visitor to a third party and needs a loose Content-Security-Policy. Here the
assets come from the ``swagger-ui-py`` package's copy of Swagger UI (5.x: OpenAPI 3.1), the
starter script is a route of its own, and the page's CSP allows only 'self' (``headers.py``).
"""

from __future__ import annotations

import html
import importlib.util
from functools import cache
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response

DOCS_PATH: Final = "/docs"
#: the only Swagger UI files served (the package also ships the editor and source maps)
_ASSETS: Final = frozenset(
    {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"}
)

# validatorUrl null: Swagger UI would otherwise send the spec to validator.swagger.io
_STARTER_JS: Final = """\
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""

router = APIRouter(include_in_schema=False)


@cache
def assets_dir() -> Path:
    """Swagger UI's static folder inside the installed ``swagger_ui`` package (not imported:
    its handlers pull in web frameworks we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _page(*, openapi_url: str, base: str, title: str) -> str:
    q = html.escape
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{q(title)}</title>
<link rel="stylesheet" href="{q(base)}/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{q(base)}/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{q(openapi_url)}"></div>
<script src="{q(base)}/assets/swagger-ui-bundle.js"></script>
<script src="{q(base)}/swagger-init.js"></script>
</body>
</html>
"""


@router.get(DOCS_PATH)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    openapi_url = request.app.openapi_url or "/openapi.json"
    page = _page(
        openapi_url=root + openapi_url,
        base=root + DOCS_PATH,
        title=f"{request.app.title} — API reference",
    )
    return HTMLResponse(page)


@router.get(DOCS_PATH + "/swagger-init.js")
async def swagger_starter() -> Response:
    return Response(_STARTER_JS, media_type="text/javascript")


@router.get(DOCS_PATH + "/assets/{name}")
async def swagger_asset(name: str) -> FileResponse:
    if name not in _ASSETS:
        raise HTTPException(404)
    return FileResponse(assets_dir() / name, headers={"Cache-Control": "public, max-age=86400"})
