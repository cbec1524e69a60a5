"""The trust pages through the whole web app: the studio's endorsements and trust registries
(request, accept, decline, import with a form error), and the verify page's trust and quality
sections (Merito's registry chosen, the endorsement shown, a member's verification counted)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import Browser, demo_site

from merito.services import endorsements, trust
from merito.services.platform import Actor, Platform
from merito.storage.tables import MembershipRow, OrganisationRow


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Any, Any, Platform]]:
    with demo_site(tmp_path_factory.mktemp("trust"), sqlite_template) as built:
        yield built


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _second_org(platform: Platform, seed: Any) -> tuple[str, Actor]:
    """Another organisation, whose admin is the demo owner too (so one browser does both)."""
    org_id = "7" * 36
    with platform.transaction() as session:
        if session.get(OrganisationRow, org_id) is None:
            session.add(OrganisationRow(id=org_id, slug="guild", name="Trade Guild", kind="issuer"))
            session.flush()
            session.add(MembershipRow(org_id=org_id, user_id=seed.owner_user_id, role="owner"))
    return org_id, Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)


def test_request_accept_and_registries_in_the_studio(site: tuple[Any, Any, Platform]) -> None:
    app, seed, platform = site
    guild_id, owner = _second_org(platform, seed)
    browser = Browser(app)
    browser.log_in(seed.owner_email)
    page = browser.get(f"/studio/{seed.org_slug}/trust")
    assert page.status_code == 200
    assert "Endorsements and trust" in page.text
    achievement_id = seed.achievements[0].id
    asked = browser.post(
        f"/studio/{seed.org_slug}/trust",
        data={
            "csrf_token": _token(page.text),
            "action": "request",
            "endorser": "guild",
            "achievement_id": achievement_id,
            "message": "Please endorse.",
        },
    )
    assert asked.status_code == 303
    guild = browser.get("/studio/guild/trust")
    assert "asks you to endorse" in guild.text
    [request] = endorsements.list_requests(platform, owner, org_id=guild_id)
    empty = browser.post(
        "/studio/guild/trust",
        data={"csrf_token": _token(guild.text), "action": "accept", "id": request.id},
    )
    assert empty.status_code == 422
    assert "comment must not be empty" in empty.text
    accepted = browser.post(
        "/studio/guild/trust",
        data={
            "csrf_token": _token(guild.text),
            "action": "accept",
            "id": request.id,
            "comment": "Meets the trade's standard.",
        },
    )
    assert accepted.status_code == 303
    assert "Meets the trade" in browser.get(f"/studio/{seed.org_slug}/trust").text
    bad = browser.post(
        "/studio/guild/trust",
        data={"csrf_token": _token(guild.text), "action": "import", "document": "{not json"},
    )
    assert bad.status_code == 422
    assert "not JSON" in bad.text
    registry = trust.platform_registry(platform).document
    imported = browser.post(
        "/studio/guild/trust",
        data={
            "csrf_token": _token(guild.text),
            "action": "import",
            "document": json.dumps(registry),
        },
    )
    assert imported.status_code == 303
    assert "Merito issuers" in browser.get("/studio/guild/trust").text

    # the verify page: Merito's registry chosen, the endorsement shown, quality in words
    credential = seed.credentials[0].document
    form = browser.get("/verify")
    assert 'value="merito" checked' in form.text
    assert "Trade Guild" in form.text  # the guild's imported registry is offered
    result = browser.post(
        "/verify",
        data={
            "text": json.dumps(credential),
            "registry": ["merito"],
            "verify_as": guild_id,
            "csrf_token": _token(form.text),
        },
    )
    assert result.status_code == 200
    assert 'data-check="trust" data-outcome="pass"' in result.text
    assert "How it is used" in result.text
    assert "fewer than 5" in result.text
    achievement_url = credential["credentialSubject"]["achievement"]["id"]
    signals = trust.signals_for(platform, achievement_url.rsplit("/", 1)[1])
    assert signals.verifier_orgs_text == "fewer than 5"
    page_of_credential = Browser(app).get(f"/c/{seed.credentials[0].id}")
    assert page_of_credential.status_code == 200
    assert "How it is used" in page_of_credential.text
    assert 'data-check="endorsements"' in page_of_credential.text
    anonymous = Browser(app).post("/verify", data={"text": json.dumps(credential)})
    assert anonymous.status_code == 200
    assert 'data-check="trust" data-outcome="skipped"' in anonymous.text
