"""The studio's analytics page through the composed app, on the demo: totals, charts with their
data tables, the range and achievement filters, form errors, CSV links, French, access."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import Browser, demo_site

from merito.services import credentials, demo
from merito.services.platform import Actor, Platform

Site = tuple[Any, demo.DemoSeed, Platform]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    with demo_site(tmp_path_factory.mktemp("analytics"), sqlite_template) as built:
        yield built


def _stat(html: str, label: str) -> int:
    match = re.search(
        r'<span class="stat-value">(\d+)</span> <span class="stat-label">' + label + "<", html
    )
    assert match is not None, label
    return int(match.group(1))


def test_the_demo_dashboard_shows_its_totals_charts_and_csv(site: Site) -> None:
    app, seed, platform = site
    owner_actor = Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)
    issued = credentials.list_credentials(platform, owner_actor, org_id=seed.org_id, limit=1).total
    assert issued >= len(seed.credentials)  # the demo pathway may have awarded one more
    owner = Browser(app)
    owner.log_in(seed.owner_email)
    page = f"/studio/{seed.org_slug}/analytics"
    shown = owner.get(page)
    assert shown.status_code == 200, shown.text
    html = shown.text
    assert 'aria-current="page">Analytics' in html
    assert _stat(html, "Issuances") == issued
    assert _stat(html, "Revocations") == 1
    assert _stat(html, "Claims") >= len(seed.wallet_items)
    assert _stat(html, "Shares") == 1
    assert _stat(html, "Verifications") == 5
    assert html.count('role="img"') >= 2  # activity and top skills
    assert "<summary>Show the data</summary>" in html
    assert ' style="' not in html  # the CSP forbids inline style
    assert 'id="activity-title">Activity per day (UTC)</title>' in html

    link = re.search(r'href="(/api/v1/orgs/[^"]+/activity\.csv\?[^"]+)"', html)
    assert link is not None
    exported = owner.get(link.group(1).replace("&amp;", "&"))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["date", "issued", "claimed", "shared", "verified", "revoked"]
    assert len(rows) == 31
    assert sum(int(r[1]) for r in rows[1:]) == issued

    one = seed.achievements[0]
    filtered = owner.get(page, params={"range": "7", "achievement_id": one.id}).text
    assert f'<option value="{one.id}" selected>' in filtered
    assert '<option value="7" selected>Last 7 days</option>' in filtered
    assert _stat(filtered, "Issuances") < issued
    assert "Pathway completion" in filtered


def test_bad_ranges_are_form_errors_and_strangers_see_nothing(site: Site) -> None:
    app, seed, _ = site
    owner = Browser(app)
    owner.log_in(seed.owner_email)
    page = f"/studio/{seed.org_slug}/analytics"
    bad = owner.get(page, params={"range": "custom", "start": "2026-02-31"})
    assert bad.status_code == 422
    assert 'aria-invalid="true" aria-describedby="start-error"' in bad.text
    assert "The range could not be used" in bad.text
    assert owner.get(page, params={"range": "9"}).status_code == 422
    assert owner.get(page, params={"achievement_id": "nope"}).status_code == 404
    french = owner.get(page, params={"lang": "fr"}).text
    assert "<h1>Statistiques</h1>" in french
    assert "Afficher les données" in french

    stranger = Browser(app)
    assert stranger.get(page).status_code == 303  # log in first
    stranger.log_in(seed.learners[1])
    assert stranger.get(page).status_code == 404
