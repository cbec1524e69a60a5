"""Swagger UI and the OpenAPI document are served by the app itself; the meta endpoints."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from asgi_client import ApiClient

from merito import __version__
from merito.formats.contexts import CREDENTIALS_V2, OB_V3P0, bundled_urls


class _Refs(HTMLParser):
    """Every URL the page makes the browser load, and inline scripts/styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "data-openapi-url"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if "style" in values or tag == "style":
            self.inline.append(tag)
        self._in_script_without_src = tag == "script" and not values.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script_without_src and data.strip():
            self.inline.append("script")

    def handle_endtag(self, tag: str) -> None:
        self._in_script_without_src = False


def test_the_docs_page_loads_nothing_from_outside_the_app(client: ApiClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    refs = _Refs()
    refs.feed(response.text)
    assert refs.urls, "the page must reference Swagger UI's assets"
    assert not re.search(r"(?i)\b(?:https?:)?//", response.text), "an absolute URL in /docs"
    assert refs.inline == [], "inline script/style would need a looser CSP"
    for url in refs.urls:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    starter = client.get("/docs/swagger-init.js").text
    assert "validatorUrl: null" in starter  # else Swagger UI posts the spec to swagger.io
    assert "http" not in starter


def test_the_docs_page_policy_allows_only_self(client: ApiClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    for name in ("default-src", "script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", name
    assert "http" not in csp
    assert "unsafe" not in csp


def test_swagger_ui_is_version_5_for_openapi_3_1(client: ApiClient) -> None:
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    # Swagger UI 4 cannot render OpenAPI 3.1; the bundle's own version string says 5.x
    assert re.search(rb'"5\.\d+\.\d+"', bundle.content)


def test_the_openapi_document_describes_errors_as_problems(client: ApiClient) -> None:
    spec = client.get("/openapi.json").json()
    verify = spec["paths"]["/api/v1/verify"]["post"]
    assert set(verify["requestBody"]["content"]) >= {
        "application/json",
        "application/vc+ld+json",
        "application/vc+jwt",
    }
    for status in ("413", "415", "422", "4XX"):
        content = verify["responses"][status]["content"]
        assert list(content) == ["application/problem+json"], status
    assert "Problem" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    internal = {"/docs", "/docs/swagger-init.js", "/docs/assets/{name}"}
    assert internal.isdisjoint(spec["paths"])


def test_health_and_version(client: ApiClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert client.get("/api/v1/version").json() == {
        "name": "merito",
        "version": __version__,
        "api": "v1",
    }


def test_contexts_lists_every_bundled_context(client: ApiClient) -> None:
    listed = client.get("/api/v1/contexts").json()["contexts"]
    assert listed == sorted(bundled_urls())
    assert {CREDENTIALS_V2, OB_V3P0} <= set(listed)
