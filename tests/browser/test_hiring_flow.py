"""The employer's hiring flow in Chromium: post a role with the skills picker, rank the
discoverable candidates, open a score's explanation and a gap analysis; the learner sees the
same explanation. Screenshots at desktop and phone width, axe-core on each page."""

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


def test_employer_posts_a_role_ranks_and_opens_an_explanation(pages: Any, site: Any) -> None:
    seed = site.seed
    page = pages.new()
    _log_in(page, seed.owner_email, f"/studio/{seed.org_slug}")
    page.get_by_role("navigation", name="Studio").get_by_role(
        "link", name="Roles and candidates"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Roles")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "hiring-roles")

    page.get_by_role("link", name="Post a role").click()
    page.get_by_label("Title").fill("SQL analyst (browser)")
    # the picker searches as one types (htmx) and offers skills to tick
    page.get_by_label("Search skills").fill("SQL")
    first = page.locator("#skill-results input[type=checkbox]").first
    expect(first).to_be_visible(timeout=60_000)
    first.check()
    assert_accessible(page)
    screenshot(page, "hiring-role-form")
    page.get_by_role("button", name="Create the role").click()
    expect(page.get_by_role("status")).to_contain_text("The role is saved.")
    expect(page.locator("select[name='req-0-required']")).to_have_value("required")

    page.get_by_role("link", name="Rank candidates").click()
    page.get_by_role("button", name="Rank candidates").click()
    expect(page.get_by_role("heading", name=re.compile("discoverable learners"))).to_be_visible()
    candidate = page.locator("[data-candidate]").first
    candidate.get_by_text("Why this score").click()
    table = candidate.locator("table.explanation")
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader", name="Proved by")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "hiring-candidates")

    candidate.get_by_role("link", name=re.compile("Gap analysis")).click()
    expect(page.get_by_role("heading", name="What is missing")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "hiring-gap-analysis")

    # the learner ranked first sees the explanation the employer saw
    email = page.get_by_role("heading", level=1).inner_text().split(": ", 1)[-1].strip()
    learner = pages.new()
    _log_in(learner, email, "/me/rankings")
    learner.get_by_role("link", name="SQL analyst (browser)").click()
    expect(learner.get_by_text("This is the explanation the employer sees")).to_be_visible()
    assert_accessible(learner)
    screenshot(learner, "learner-ranking-explanation")
