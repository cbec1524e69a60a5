"""The pages through the composed app (``merito.asgi``), in-process: security headers, CSRF,
the shared session, redirects, the verify form's edge cases, static files, languages."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import BASE, PASSWORD, Browser

from merito.asgi import create_app
from merito.config import Settings
from merito.domain.ports import SystemClock
from merito.formats.baking import bake_svg
from merito.net.mailer import MemoryMailer
from merito.services import demo
from merito.services.platform import Platform
from merito.storage import KeyStore, create_engine_for, session_factory
from merito.web.rendering import PAGE_CSP


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    database = tmp_path_factory.mktemp("web") / "merito.db"
    shutil.copyfile(sqlite_template, database)
    engine = create_engine_for(f"sqlite:///{database}")
    sessions = session_factory(engine)
    clock = SystemClock()
    platform = Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, b"\x44" * 32, clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url=BASE,
        status_list_size=1024,
    )
    seed = demo.seed_demo(platform, password=PASSWORD)
    app = create_app(settings=Settings(base_url=BASE), platform=platform)
    yield app, seed
    engine.dispose()


@pytest.fixture
def browser(site: Any) -> Browser:
    return Browser(site[0])


@pytest.fixture
def seed(site: Any) -> demo.DemoSeed:
    return site[1]


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/verify", "/c/nope"])
def test_pages_carry_the_page_policy_and_no_inline_script(browser: Browser, path: str) -> None:
    response = browser.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert "unsafe-inline" not in PAGE_CSP
    assert "script-src 'self'" in PAGE_CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    # every script is a file of this site; no inline handler or style attribute
    assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", response.text) == []
    assert not re.search(r"\son[a-z]+=", response.text)
    assert " style=" not in response.text


def test_the_api_keeps_its_own_policy(browser: Browser) -> None:
    response = browser.get("/api/v1/health")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_login_without_the_forms_token_is_refused(browser: Browser, seed: demo.DemoSeed) -> None:
    response = browser.post("/login", data={"email": seed.owner_email, "password": PASSWORD})
    assert response.status_code == 403
    assert "merito_session" not in browser.cookies
    other = Browser(browser.app)  # another browser's token is no good either
    token = other.csrf()
    response = browser.post(
        "/login", data={"email": seed.owner_email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403
    assert "This form has expired" in response.text


def test_the_login_session_is_the_apis_and_logout_needs_the_token(
    browser: Browser, seed: demo.DemoSeed
) -> None:
    response = browser.log_in(seed.owner_email)
    assert response.status_code == 303
    assert response.headers["location"] == "/home"
    cookie = response.headers["set-cookie"]
    assert "merito_session=" in cookie
    for attribute in ("HttpOnly", "SameSite=lax", "Secure", "Path=/"):
        assert attribute.lower() in cookie.lower()
    me = browser.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["email"] == seed.owner_email
    home = browser.get("/home")
    assert seed.org_slug in home.text
    # a cross-site form cannot log anyone out: no token, nothing happens
    refused = browser.post("/logout", data={})
    assert refused.status_code == 403
    assert browser.get("/api/v1/auth/me").status_code == 200
    token = browser.csrf("/home")
    out = browser.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert "merito_session" not in browser.cookies
    assert browser.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(
    "next_url", ["//evil.example/x", "https://evil.example/", "/\\evil.example", ""]
)
def test_login_never_redirects_off_site(
    browser: Browser, seed: demo.DemoSeed, next_url: str
) -> None:
    response = browser.post(
        "/login",
        data={
            "email": seed.owner_email,
            "password": PASSWORD,
            "csrf_token": browser.csrf(),
            "next": next_url,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/home"


def test_login_keeps_a_local_next(browser: Browser, seed: demo.DemoSeed) -> None:
    response = browser.post(
        "/login",
        data={
            "email": seed.owner_email,
            "password": PASSWORD,
            "csrf_token": browser.csrf(),
            "next": "/verify?url=x",
        },
    )
    assert response.headers["location"] == "/verify?url=x"


def test_a_taken_email_is_a_field_error_and_the_input_is_kept(
    browser: Browser, seed: demo.DemoSeed
) -> None:
    response = browser.post(
        "/signup",
        data={
            "email": seed.owner_email,
            "password": PASSWORD,
            "password_again": PASSWORD,
            "csrf_token": browser.csrf("/signup"),
        },
    )
    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert 'aria-describedby="email-error"' in response.text
    assert f'value="{seed.owner_email}"' in response.text
    assert PASSWORD not in response.text  # a password is never echoed back


def test_verify_without_input_is_a_form_error(browser: Browser) -> None:
    response = browser.post("/verify", data={})
    assert response.status_code == 422
    assert "Choose a file, paste a credential" in response.text


def test_a_broken_multipart_body_is_a_form_error_not_a_500(browser: Browser) -> None:
    response = browser.post(
        "/verify",
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 422
    assert "The form could not be read" in response.text


def test_an_oversized_upload_is_refused_before_it_is_read(browser: Browser) -> None:
    response = browser.post("/verify", files={"file": ("big.json", b"{" + b" " * 5_100_000 + b"}")})
    assert response.status_code == 422
    assert "too large" in response.text


def test_htmx_gets_the_result_fragment_only(browser: Browser, seed: demo.DemoSeed) -> None:
    document = json.dumps(seed.credentials[0].document)
    response = browser.post("/verify", data={"text": document}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'class="verdict verdict-valid"' in response.text
    error = browser.post("/verify", data={}, headers={"HX-Request": "true"})
    assert error.status_code == 200  # htmx swaps 2xx only: the error must show
    assert 'role="alert"' in error.text


def test_a_pasted_url_is_fetched_and_this_sites_credentials_are_read_locally(
    browser: Browser, seed: demo.DemoSeed
) -> None:
    response = browser.post("/verify", data={"text": seed.credentials[0].credential_id})
    assert 'class="verdict verdict-valid"' in response.text
    assert 'data-check="status" data-outcome="pass"' in response.text


def test_the_credential_url_negotiates(browser: Browser, seed: demo.DemoSeed) -> None:
    record = seed.credentials[0]
    path = record.credential_id.removeprefix(BASE)
    machine = browser.get(path, headers={"Accept": "application/ld+json"})
    assert machine.headers["content-type"].startswith("application/ld+json")
    assert machine.json() == record.document
    person = browser.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert person.headers["content-type"].startswith("text/html")
    assert person.headers["content-security-policy"] == PAGE_CSP
    assert person.headers["x-robots-tag"] == "noindex"
    assert "Accept" in person.headers["vary"]
    assert 'class="verdict verdict-valid"' in person.text
    download = browser.get(f"/c/{record.id}/download")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.json() == record.document


def test_static_files_are_served_with_a_lifetime(browser: Browser) -> None:
    script = browser.get("/static/vendor/htmx.min.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "public, max-age=3600"
    assert browser.get("/static/merito.css").status_code == 200
    assert browser.get("/static/../pages.py").status_code == 404


def test_a_chosen_language_is_remembered(browser: Browser) -> None:
    response = browser.get("/?lang=fr")
    assert '<html lang="fr">' in response.text
    assert "merito_lang=fr" in response.headers["set-cookie"]
    assert '<html lang="fr">' in browser.get("/login").text
    assert '<html lang="en">' in Browser(browser.app).get("/login").text
    french = Browser(browser.app).get("/login", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert "Se connecter" in french.text


def test_a_dead_link_is_a_page_for_people_and_a_problem_for_programs(browser: Browser) -> None:
    person = browser.get("/no/such/page", headers={"Accept": "text/html"})
    assert person.status_code == 404
    assert "There is nothing here" in person.text
    program = browser.get("/no/such/page", headers={"Accept": "application/json"})
    assert program.status_code == 404
    assert program.headers["content-type"].startswith("application/problem+json")
    api = browser.get("/api/v1/no-such-route", headers={"Accept": "text/html"})
    assert api.headers["content-type"].startswith("application/problem+json")


def test_a_baked_svg_upload_is_verified(browser: Browser, seed: demo.DemoSeed) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    baked = bake_svg(svg, seed.credentials[0].document)
    response = browser.post("/verify", files={"file": ("badge.svg", baked, "image/svg+xml")})
    assert response.status_code == 200
    assert 'class="verdict verdict-valid"' in response.text
    plain = browser.post("/verify", files={"file": ("plain.svg", svg, "image/svg+xml")})
    assert plain.status_code == 422
    assert "This image carries no credential" in plain.text
