"""The sharing API end to end on both databases: portfolio and share links (public routes),
collections, presentations signed over the API and checked by POST /verify/presentation,
downloads, export and account deletion; all through real sessions."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
from accounts_support import Session, World, accounts_world
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.config import Settings
from merito.formats import baking
from merito.services import catalog, credentials, issuers
from merito.services.platform import Actor
from merito.storage.tables_wallet import WalletItemRow

ACHIEVEMENT = {
    "name": "Spreadsheet Modelling",
    "description": "Builds models that others can audit.",
    "criteria": {"narrative": "Passed the practical."},
    "alignment": [
        {
            "targetName": "use spreadsheets software",
            "targetUrl": "http://data.europa.eu/esco/skill/1973c966-f236-40c9-b2d4-5d71a89019be",
            "targetFramework": "ESCO",
        }
    ],
}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as built:
        platform = built.platform
        # the verifier knows the DID documents this platform serves (offline otherwise)
        built.client = ApiClient(
            create_app(
                settings=built.client.app.state.settings,
                platform=platform,
                verify_options_factory=lambda: bootstrap.verify_options(
                    Settings(), documents=issuers.did_documents(platform), clock=built.clock
                ),
            )
        )
        yield built


def _learner(world: World, email: str) -> tuple[Session, Actor]:
    user_id = world.register(email)
    return world.login(email), Actor(kind="user", id=user_id, user_id=user_id)


def _credential_in_wallet(world: World, learner: Actor, *, recipient: str) -> tuple[str, dict]:
    email = f"issuer-{uuid.uuid4().hex[:8]}@example.org"
    world.register(email)
    session = world.login(email)
    org_id = world.create_org(session, f"org-{uuid.uuid4().hex[:8]}")
    owner = Actor(
        kind="user",
        id="-",
        user_id=world.call("GET", "/api/v1/auth/me", auth=session).json()["user"]["id"],
    )
    achievement = catalog.create_achievement(
        world.platform, owner, org_id=org_id, fields=ACHIEVEMENT
    )
    catalog.publish_achievement(world.platform, owner, org_id=org_id, achievement_id=achievement.id)
    record = credentials.issue_credential(
        world.platform,
        owner,
        org_id=org_id,
        achievement_id=achievement.id,
        recipient=recipient,
        notify=False,
    )
    item_id = str(uuid.uuid4())
    with world.platform.transaction() as db:
        db.add(
            WalletItemRow(
                id=item_id,
                user_id=learner.user_id,
                credential_row_id=record.id,
                source="claimed",
                format="ob3",
                document=record.document,
                content_hash=hashlib.sha256(record.credential_id.encode()).hexdigest(),
                credential_id=record.credential_id,
                name=ACHIEVEMENT["name"],
                issuer_id=record.document["issuer"]["id"],
                issuer_name=record.document["issuer"]["name"],
                verdict="valid",
                visibility="public",
            )
        )
    return item_id, record.document


def test_portfolio_and_share_links_over_http(world: World) -> None:
    session, ada = _learner(world, "ada@example.org")
    item, _ = _credential_in_wallet(world, ada, recipient="ada@example.org")
    assert world.call("GET", "/api/v1/me/portfolio").status_code == 401
    put = world.call(
        "PUT",
        "/api/v1/me/portfolio",
        auth=session,
        json={"handle": "ada", "display_name": "Ada", "enabled": True},
    )
    assert put.status_code == 200, put.text
    assert put.json()["url"] == "https://merito.test/p/ada"
    page = world.call("GET", "/p/ada")
    assert page.status_code == 200, page.text
    body = page.json()
    assert [i["id"] for i in body["items"]] == [item]
    assert body["skills"][0]["name"] == "use spreadsheets software"
    preview = world.call("GET", "/api/v1/me/portfolio/preview", auth=session)
    assert preview.json()["items"] == body["items"]
    created = world.call(
        "POST", "/api/v1/me/share-links", auth=session, json={"target": "item", "item_id": item}
    )
    assert created.status_code == 201, created.text
    url = created.json()["url"]
    path = url.removeprefix("https://merito.test")
    shown = world.call("GET", path)
    assert shown.status_code == 200
    assert shown.headers["x-robots-tag"] == "noindex"
    assert shown.json()["item"]["id"] == item
    assert shown.json()["view_count"] == 1
    listed = world.call("GET", "/api/v1/me/share-links", auth=session).json()["share_links"]
    assert listed[0]["view_count"] == 1
    assert listed[0]["url"] is None
    revoked = world.call("DELETE", f"/api/v1/me/share-links/{listed[0]['id']}", auth=session)
    assert revoked.status_code == 200
    gone = world.call("GET", path)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    # a mutation without the CSRF token is refused
    refused = world.call(
        "POST", "/api/v1/me/collections", auth=session, csrf=False, json={"name": "x"}
    )
    assert refused.status_code == 403


def test_a_presentation_made_over_http_verifies_over_http(world: World) -> None:
    session, ada = _learner(world, "ada@example.org")
    did = world.call("GET", "/api/v1/me/holder-key", auth=session).json()["did"]
    item, _ = _credential_in_wallet(world, ada, recipient=did)
    made = world.call(
        "POST",
        "/api/v1/me/presentations",
        auth=session,
        json={"item_ids": [item], "challenge": "abc123", "domain": "hr.example.com"},
    )
    assert made.status_code == 200, made.text
    vp = made.json()
    ok = world.call(
        "POST",
        "/api/v1/verify/presentation",
        json={"presentation": vp, "challenge": "abc123", "domain": "hr.example.com"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["verified"] is True, ok.json()
    assert ok.json()["summary"] == "The presentation is valid."
    replay = world.call(
        "POST",
        "/api/v1/verify/presentation",
        json={"presentation": vp, "challenge": "other", "domain": "hr.example.com"},
    )
    assert replay.status_code == 200
    assert replay.json()["verified"] is False
    checks = {c["id"]: c["outcome"] for c in replay.json()["checks"]}
    assert checks["challenge"] == "fail"
    for bad in (b"", b"[]", b'{"presentation": 1}', b'{"presentation": {}, "x": 1}', b"{"):
        response = world.call(
            "POST",
            "/api/v1/verify/presentation",
            content=bad,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, (bad, response.text)


def test_downloads_export_and_deletion_over_http(world: World) -> None:
    session, ada = _learner(world, "ada@example.org")
    item, document = _credential_in_wallet(world, ada, recipient="ada@example.org")
    pdf = world.call("GET", f"/api/v1/me/wallet/items/{item}/certificate", auth=session)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert json.loads(reader.attachments["credential.json"][0]) == document
    baked = world.call("GET", f"/api/v1/me/wallet/items/{item}/baked", auth=session)
    assert baked.status_code == 200
    assert "attachment" in baked.headers["content-disposition"]
    assert json.loads(baking.extract(baked.content).payload) == document
    linkedin = world.call("GET", f"/api/v1/me/wallet/items/{item}/linkedin", auth=session)
    assert linkedin.json()["add_to_profile"].startswith("https://www.linkedin.com/profile/add?")
    clr = world.call("POST", "/api/v1/me/clr", auth=session, json={})
    assert clr.status_code == 200, clr.text
    assert clr.json()["type"] == ["VerifiableCredential", "ClrCredential"]
    exported = world.call("GET", "/api/v1/me/export", auth=session)
    assert exported.json()["account"]["email"] == "ada@example.org"
    assert exported.json()["wallet"][0]["document"] == document
    wrong = world.call(
        "POST", "/api/v1/me/delete-account", auth=session, json={"confirm_email": "x@example.org"}
    )
    assert wrong.status_code == 422
    deleted = world.call(
        "POST",
        "/api/v1/me/delete-account",
        auth=session,
        json={"confirm_email": "ada@example.org"},
    )
    assert deleted.status_code == 204, deleted.text
    # the session went with the account
    assert world.call("GET", "/api/v1/me/portfolio", auth=session).status_code == 401


def test_browsers_get_pages_at_the_same_addresses(world: World) -> None:
    from merito.asgi import create_app as create_site

    session, ada = _learner(world, "ada@example.org")
    item, _ = _credential_in_wallet(world, ada, recipient="ada@example.org")
    world.call(
        "PUT",
        "/api/v1/me/portfolio",
        auth=session,
        json={"handle": "ada", "display_name": "Ada <Lovelace>", "enabled": True},
    )
    link = world.call(
        "POST", "/api/v1/me/share-links", auth=session, json={"target": "item", "item_id": item}
    ).json()
    site = ApiClient(create_site(settings=world.client.app.state.settings, platform=world.platform))
    html = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
    page = site.request("GET", "/p/ada", headers=html)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-robots-tag"] == "noindex"
    assert "Ada &lt;Lovelace&gt;" in page.text  # escaped
    assert "Spreadsheet Modelling" in page.text
    assert "use spreadsheets software" in page.text
    assert 'class="pill pill-ok"' in page.text
    french = site.request("GET", "/p/ada?lang=fr", headers=html)
    assert "Compétences" in french.text
    assert site.request("GET", "/p/ada").json()["handle"] == "ada"  # programs: JSON
    token_path = link["url"].removeprefix("https://merito.test")
    shared = site.request("GET", token_path, headers=html)
    assert shared.status_code == 200
    assert "Spreadsheet Modelling" in shared.text
    listed = world.call("GET", "/api/v1/me/share-links", auth=session).json()["share_links"]
    assert listed[0]["view_count"] == 1  # the page view counted
    missing = site.request("GET", "/p/nobody", headers=html)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert site.request("GET", "/s/not-a-token", headers=html).status_code == 404


def test_post_verify_recognises_a_presentation(world: World) -> None:
    session, ada = _learner(world, "ada@example.org")
    did = world.call("GET", "/api/v1/me/holder-key", auth=session).json()["did"]
    item, _ = _credential_in_wallet(world, ada, recipient=did)
    vp = world.call(
        "POST",
        "/api/v1/me/presentations",
        auth=session,
        json={"item_ids": [item], "challenge": "n", "domain": "d.example"},
    ).json()
    response = world.call("POST", "/api/v1/verify", json=vp)
    assert response.status_code == 200
    body = response.json()
    assert body["verified"] is True, body
    assert body["format"] == "vp"
    checks = {c["id"]: c["outcome"] for c in body["checks"]}
    assert checks["challenge"] == "warning"  # nothing expected: freshness unknown
    assert checks["credentials"] == "pass"
    assert body["summary"].startswith("The presentation is valid")


def test_the_sharing_page_sets_up_the_portfolio_and_links(world: World) -> None:
    import re

    from merito.asgi import create_app as create_site

    session, ada = _learner(world, "ada@example.org")
    item, _ = _credential_in_wallet(world, ada, recipient="ada@example.org")
    site = ApiClient(create_site(settings=world.client.app.state.settings, platform=world.platform))
    cookie = {"Cookie": f"merito_session={session.token}"}
    assert site.request("GET", "/sharing").status_code == 303  # log in first
    page = site.request("GET", "/sharing", headers=cookie)
    assert page.status_code == 200
    assert f"/api/v1/me/wallet/items/{item}/certificate" in page.text
    form = {"csrf_token": session.csrf, "handle": "ada", "display_name": "Ada", "enabled": "on"}
    refused = site.request(
        "POST", "/sharing/portfolio", headers=cookie, data={**form, "csrf_token": "x"}
    )
    assert refused.status_code == 403
    saved = site.request("POST", "/sharing/portfolio", headers=cookie, data=form)
    assert saved.status_code == 303, saved.text
    assert world.call("GET", "/p/ada").json()["display_name"] == "Ada"
    bad = site.request("POST", "/sharing/portfolio", headers=cookie, data={**form, "handle": "A"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text or "field-invalid" in bad.text
    made = site.request(
        "POST", "/sharing/links", headers=cookie, data={"csrf_token": session.csrf, "item_id": item}
    )
    assert made.status_code == 201
    match = re.search(r'<code id="new-link">https://merito.test(/s/[^<]+)</code>', made.text)
    assert match is not None
    assert world.call("GET", match.group(1)).status_code == 200
    (link,) = world.call("GET", "/api/v1/me/share-links", auth=session).json()["share_links"]
    revoked = site.request(
        "POST",
        f"/sharing/links/{link['id']}/revoke",
        headers=cookie,
        data={"csrf_token": session.csrf},
    )
    assert revoked.status_code == 303
    assert world.call("GET", match.group(1)).status_code == 404
    assert "Partage" in site.request("GET", "/sharing?lang=fr", headers=cookie).text
