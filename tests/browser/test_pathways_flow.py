"""Pathways in Chromium: the studio's pathway list, the demo pathway's page (editor, funnel,
awards) and the new-pathway form; a learner's progress from the wallet. Every page is checked
with axe-core and at phone width."""

from __future__ import annotations

import re
from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from playwright.sync_api import expect


def _log_in(page: Any, email: str, next_path: str) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_studio_pathway_pages_and_learner_progress(pages: Any, site: Any) -> None:
    studio = f"/studio/{site.seed.org_slug}"
    page = pages.new()
    _log_in(page, site.seed.owner_email, studio)
    expect(page).to_have_url(re.compile(rf"{studio}$"))
    page.get_by_role("navigation", name="Studio").get_by_role("link", name="Pathways").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pathways")
    assert_accessible(page)
    screenshot(page, "studio-pathways")

    page.get_by_role("link", name="Web Data Practitioner").click()
    expect(page.get_by_role("heading", name="Completion funnel")).to_be_visible()
    # ada completed it; the requirement form shows the three achievements ticked
    expect(page.get_by_role("checkbox", name="SQL Fundamentals").first).to_be_checked()
    assert_accessible(page)
    screenshot(page, "studio-pathway")

    page.goto(f"{studio}/pathways/new")
    page.get_by_label("Learners need").first.select_option("n_of")
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("alert")).to_contain_text("The pathway was not saved")
    assert_accessible(page)
    screenshot(page, "studio-pathway-refused")

    learner = pages.new()
    _log_in(learner, site.seed.learners[1], "/wallet")  # grace: two of three
    learner.get_by_role("link", name="My pathways").click()
    expect(learner.get_by_role("heading", name="Web Data Practitioner")).to_be_visible()
    expect(learner.get_by_text("2 of 3 requirements met.")).to_be_visible()
    expect(learner.get_by_text("Still to earn:")).to_be_visible()
    assert_accessible(learner)
    screenshot(learner, "wallet-pathways")
