"""The assessment flow in Chromium: the studio writes a rubric and opens an achievement; a
learner applies with a link and submits; the owner scores the rubric and awards; a claim code
and its public page. Screenshots and axe-core on each page."""

from __future__ import annotations

import re
from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from playwright.sync_api import expect

from merito.services import catalog
from merito.services.platform import Actor

RUBRIC = "# Analysis\n0 | Novice | Restates the data\n2 | Expert | Explains the trend\n"


def _log_in(page: Any, email: str, next_path: str) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_rubric_apply_review_and_claim_code(pages: Any, site: Any) -> None:
    owner_actor = Actor(kind="user", id=site.seed.owner_user_id, user_id=site.seed.owner_user_id)
    made = catalog.create_achievement(
        site.platform,
        owner_actor,
        org_id=site.seed.org_id,
        fields={
            "name": "Assessed Storytelling",
            "description": "Tells a true story with data.",
            "criteria": {"narrative": "A piece assessed against the rubric."},
        },
    )
    catalog.publish_achievement(
        site.platform, owner_actor, org_id=site.seed.org_id, achievement_id=made.id
    )
    studio = f"/studio/{site.seed.org_slug}"
    owner = pages.new()
    _log_in(owner, site.seed.owner_email, f"{studio}/assessment/achievements/{made.id}")
    expect(owner.get_by_role("heading", level=1)).to_contain_text("Assessed Storytelling")
    owner.get_by_label("Open for application").check()
    owner.get_by_label("Rubric", exact=True).fill(RUBRIC)
    owner.get_by_role("button", name="Save").click()
    expect(owner.get_by_role("status")).to_contain_text("Saved.")
    screenshot(owner, "assessment-setup")
    assert_accessible(owner)

    learner = pages.new()
    _log_in(learner, site.seed.learners[2], "/wallet/applications")
    expect(learner.get_by_role("heading", level=1, name="My applications")).to_be_visible()
    learner.get_by_role("button", name="Apply for Assessed Storytelling").click()
    expect(learner.get_by_role("heading", level=1)).to_have_text("Assessed Storytelling")
    learner.get_by_label("How your work meets the criteria").fill("My dashboard tells it.")
    learner.get_by_role("button", name="Save the narrative").click()
    learner.get_by_label("Title", exact=True).fill("Dashboard")
    learner.get_by_label("Web address").fill("https://dash.example.org/story")
    learner.get_by_role("button", name="Add the link").click()
    expect(learner.get_by_role("link", name="https://dash.example.org/story")).to_be_visible()
    screenshot(learner, "assessment-application")
    assert_accessible(learner)
    learner.get_by_role("button", name="Submit for assessment").click()
    expect(learner.get_by_role("status")).to_contain_text("Your application is submitted")

    owner.goto(f"{studio}/assessment")
    expect(owner.get_by_role("heading", level=1, name="Review queue")).to_be_visible()
    screenshot(owner, "assessment-queue")
    assert_accessible(owner)
    owner.get_by_role("link", name=site.seed.learners[2]).click()
    owner.get_by_label(re.compile(r"^Expert")).check()
    owner.get_by_label("Award", exact=True).check()
    owner.get_by_label("Comment").fill("Clear and well argued.")
    screenshot(owner, "assessment-review")
    assert_accessible(owner)
    owner.get_by_role("button", name="Record the review").click()
    expect(owner.get_by_role("status")).to_contain_text("The application is awarded")

    owner.goto(f"{studio}/claim-codes")
    owner.get_by_label("Achievement", exact=True).select_option(label="Assessed Storytelling")
    owner.get_by_label("Event name").fill("Open day")
    owner.get_by_role("button", name="Create the code").click()
    code = owner.locator("h2 code").first.inner_text()
    expect(owner.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    screenshot(owner, "assessment-claim-codes")
    assert_accessible(owner)

    visitor = pages.new()
    visitor.goto(f"/claim-code/{code}")
    expect(visitor.get_by_role("heading", level=1)).to_contain_text("Assessed Storytelling")
    visitor.get_by_label("Your email address").fill("visitor@example.org")
    visitor.get_by_role("button", name="Email me the claim link").click()
    expect(visitor.get_by_role("status")).to_contain_text("We sent a link to visitor@example.org")
    screenshot(visitor, "assessment-claim-code")
    assert_accessible(visitor)
