"""Workforce pages through the composed app: the employer's page (invite, inventory, gaps,
demand, sponsor), the emailed accept link and the employee's consent and voucher page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_support import Browser, demo_site

from merito.services import demo
from merito.services.platform import Platform
from merito.storage.tables import OutboxRow

Site = tuple[Any, demo.DemoSeed, Platform]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    with demo_site(tmp_path_factory.mktemp("workforce"), sqlite_template) as built:
        yield built


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_invite_accept_consent_and_the_employer_page(site: Site) -> None:
    app, seed, platform = site
    owner = Browser(app)
    owner.log_in(seed.owner_email)
    page = f"/studio/{seed.org_slug}/workforce"
    shown = owner.get(page)
    assert shown.status_code == 200, shown.text
    assert 'aria-current="page">Workforce' in shown.text
    assert "Skills in demand" in shown.text

    learner = seed.learners[0]
    invited = owner.post(
        page + "/invite",
        data={"csrf_token": _token(shown.text), "email": learner, "team": "Data"},
    )
    assert invited.status_code == 303
    bad = owner.post(page + "/invite", data={"csrf_token": _token(shown.text), "email": "x"})
    assert bad.status_code == 422
    assert "email must be an email address" in bad.text

    with platform.reading() as session:
        (text,) = [
            p["text"]
            for p in session.scalars(
                select(OutboxRow.payload).where(OutboxRow.topic == "email.workforce_invitation")
            )
            if p["to"] == learner
        ]
    link = "/workforce/invitations/" + text.split("/workforce/invitations/")[1].split()[0]
    employee = Browser(app)
    employee.log_in(learner)
    preview = employee.get(link)
    assert preview.status_code == 200
    assert "Nothing is shared when you accept" in preview.text
    joined = employee.post(link, data={"csrf_token": _token(preview.text)})
    assert joined.status_code == 303
    mine = employee.get("/me/employers")
    assert seed.org_slug.replace("-", " ").lower() in mine.text.lower() or "Data" in mine.text
    job_id = re.search(r'name="employment_id" value="([^"]+)"', mine.text)
    assert job_id is not None
    saved = employee.post(
        "/me/employers/consent",
        data={"csrf_token": _token(mine.text), "employment_id": job_id.group(1), "share": "all"},
    )
    assert saved.status_code == 303
    assert "checked" in employee.get("/me/employers").text
    wrong = employee.post(
        "/me/employers/redeem", data={"csrf_token": _token(mine.text), "code": "MRT-XXXX"}
    )
    assert wrong.status_code == 404
    assert "no such voucher code" in wrong.text

    form = owner.get(page)
    assert seed.achievements[0].name in form.text  # every published achievement is offered
    sponsored = owner.post(
        page + "/sponsor",
        data={
            "csrf_token": _token(form.text),
            "achievement_id": seed.achievements[0].id,
            "vouchers": "2",
            "expires_at": "2099-12-31",
        },
    )
    assert sponsored.status_code == 200
    codes = re.findall(r"<code>(MRT-[A-Z0-9-]+)</code>", sponsored.text)
    assert len(codes) == 2
    past = owner.post(
        page + "/sponsor",
        data={
            "csrf_token": _token(form.text),
            "achievement_id": seed.achievements[0].id,
            "vouchers": "1",
            "expires_at": "2000-01-01",
        },
    )
    assert past.status_code == 422
    assert "expires_at must be in the future" in past.text
    redeemed = employee.post(
        "/me/employers/redeem", data={"csrf_token": _token(mine.text), "code": codes[0]}
    )
    assert redeemed.status_code == 303
    assert seed.achievements[0].name in employee.get("/me/employers").text

    employees = owner.get(page)
    assert learner in employees.text
    assert "All verified credentials" in employees.text
    # one consenting employee, below k: the inventory says so instead of counting
    assert "Nothing to show yet" in employees.text
