"""The workforce flow in Chromium: an employer invites an employee from the studio, the
employee accepts the emailed link and shares their verified credentials; the employer's page
with its inventory, demand charts and data tables; screenshots and axe-core."""

from __future__ import annotations

import re
from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from playwright.sync_api import expect
from sqlalchemy import select

from merito.storage.tables import OutboxRow


def _log_in(page: Any, email: str, next_path: str) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_employer_invites_and_the_employee_chooses_what_to_share(pages: Any, site: Any) -> None:
    workforce_path = f"/studio/{site.seed.org_slug}/workforce"
    employer = pages.new()
    _log_in(employer, site.seed.owner_email, workforce_path)
    expect(employer.get_by_role("heading", level=1, name="Workforce")).to_be_visible()
    learner = site.seed.learners[1]
    employer.locator("#invite-email").fill(learner)
    employer.locator("#invite-team").fill("Data")
    employer.get_by_role("button", name="Send the invitation").click()
    expect(employer.get_by_role("status")).to_contain_text("Done.")

    with site.platform.reading() as session:
        texts = [
            p["text"]
            for p in session.scalars(
                select(OutboxRow.payload).where(OutboxRow.topic == "email.workforce_invitation")
            )
            if p["to"] == learner
        ]
    token = re.search(r"/workforce/invitations/(\S+)", texts[-1])
    assert token is not None
    employee = pages.new()
    _log_in(employee, learner, f"/workforce/invitations/{token.group(1)}")
    expect(employee.get_by_role("heading", level=1)).to_have_text("Employer invitation")
    assert_accessible(employee)
    employee.get_by_role("button", name="Accept").click()
    expect(employee).to_have_url(re.compile(r"/me/employers\?notice=joined$"))
    employee.get_by_label("All my verified credentials").check()
    employee.get_by_role("button", name="Save my choice").click()
    expect(employee.get_by_label("All my verified credentials")).to_be_checked()
    screenshot(employee, "workforce-employee")
    assert_accessible(employee)

    employer.goto(workforce_path)
    expect(employer.get_by_role("cell", name=learner, exact=True)).to_be_visible()
    expect(employer.locator("figure").first).to_be_visible()
    screenshot(employer, "workforce-employer")
    assert_accessible(employer)
