"""Pathways through the composed app: the studio designs one with the no-JavaScript form
(refused trees keep what was typed and say why), publishes it, awards the learners who
qualify and shows the funnel; a learner's /wallet/pathways shows what is done and left."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import Browser, demo_site

from merito.services import catalog, demo
from merito.services.platform import Actor, Platform


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Any, demo.DemoSeed, Platform]]:
    with demo_site(tmp_path_factory.mktemp("pathways"), sqlite_template) as built:
        yield built


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_design_publish_award_and_progress(site: tuple[Any, demo.DemoSeed, Platform]) -> None:
    app, seed, platform = site
    owner = Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)
    stacked = catalog.create_achievement(
        platform,
        owner,
        org_id=seed.org_id,
        fields={
            "name": "Data Practitioner",
            "description": "Python analysis and SQL.",
            "criteria": {"narrative": "Earn both."},
        },
    )
    catalog.publish_achievement(platform, owner, org_id=seed.org_id, achievement_id=stacked.id)
    python, sql, web = (a.id for a in seed.achievements)
    browser = Browser(app)
    browser.log_in(seed.owner_email)
    studio = f"/studio/{seed.org_slug}"

    listing = browser.get(f"{studio}/pathways")
    assert listing.status_code == 200
    assert 'href="/studio/example-academy/pathways" aria-current="page"' in listing.text
    form = browser.get(f"{studio}/pathways/new")
    assert form.status_code == 200
    assert '<label for="root_kind">' in form.text
    token = _token(form.text)

    # N greater than the number of children: refused next to the field, what was typed kept
    bad = browser.post(
        f"{studio}/pathways/new",
        data={
            "csrf_token": token,
            "achievement_id": stacked.id,
            "root_kind": "n_of",
            "root_n": "5",
            "root_ids": [python, sql],
            "policy": "revoke",
        },
    )
    assert bad.status_code == 422
    assert 'id="root_n-error"' in bad.text
    assert 'value="5"' in bad.text
    assert 'id="policy-revoke" name="policy" value="revoke" checked' in bad.text
    empty = browser.post(
        f"{studio}/pathways/new",
        data={"csrf_token": token, "achievement_id": stacked.id, "root_kind": "all"},
    )
    assert empty.status_code == 422
    assert 'id="root_ids-error"' in empty.text

    made = browser.post(
        f"{studio}/pathways/new",
        data={
            "csrf_token": token,
            "achievement_id": stacked.id,
            "root_kind": "all",
            "root_ids": [python, sql],
            "g0_kind": "any",
            "g0_ids": [web],
            "g0_min_hours": "",
            "policy": "flag",
        },
    )
    assert made.status_code == 303, made.text
    page_url = made.headers["location"].split("?")[0]
    page = browser.get(page_url)
    assert "Data Practitioner" in page.text
    assert 'name="g0_ids" value="' + web + '" checked' in page.text
    # drop the group: Python and SQL are enough
    saved = browser.post(
        page_url,
        data={"csrf_token": token, "root_kind": "all", "root_ids": [python, sql], "policy": "flag"},
    )
    assert saved.status_code == 303, saved.text
    assert browser.post(f"{page_url}/publish", data={"csrf_token": token}).status_code == 303
    awarded = browser.post(f"{page_url}/award", data={"csrf_token": token})
    assert awarded.status_code == 303
    # ada and grace hold Python and SQL (linus's SQL credential was revoked)
    assert awarded.headers["location"].endswith("notice=awarded-2")
    funnel = browser.get(page_url).text
    assert "Completion funnel" in funnel
    assert re.search(r"<dt>Awarded</dt><dd>2</dd>", funnel)

    ada = Browser(app)
    ada.log_in(seed.learners[0])
    assert 'href="/wallet/pathways"' in ada.get("/wallet").text
    mine = ada.get("/wallet/pathways")
    assert mine.status_code == 200
    assert "Data Practitioner" in mine.text
    assert "See the credential" in mine.text
    alan = Browser(app)
    alan.log_in(seed.learners[2])  # Python only
    partway = alan.get("/wallet/pathways").text
    assert "1 of 2 requirements met." in partway
    assert "Still to earn:</strong> SQL Fundamentals" in partway
    assert Browser(app).get("/wallet/pathways").status_code == 303  # signed out
