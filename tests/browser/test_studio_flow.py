"""The issuer's flow in Chromium: design an achievement (with the skills picker), publish it,
issue it to a learner, see it listed, revoke another one; bulk CSV with live progress."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from playwright.sync_api import expect

from merito.services import credentials
from merito.services.platform import Actor


def _log_in(page: Any, email: str) -> None:
    page.goto("/login?next=/studio")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_issuer_designs_publishes_and_issues_a_badge(pages: Any, site: Any) -> None:
    page = pages.new()
    _log_in(page, site.seed.owner_email)
    expect(page).to_have_url(re.compile(rf"/studio/{site.seed.org_slug}$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "studio-overview")

    page.get_by_role("link", name="Design an achievement").click()
    assert_accessible(page)
    page.get_by_label("Name").fill("Spreadsheet modelling")
    page.get_by_label("Description").fill("Builds financial models in spreadsheets.")
    page.get_by_label("Criteria", exact=True).fill("A model reviewed by a tutor.")
    page.get_by_label("Hours of learning (optional)").fill("8")
    page.get_by_label("How it is assessed").select_option("project")
    page.get_by_label("EQF level", exact=True).select_option("5")
    page.get_by_label("Credits available").fill("3")
    # the picker searches as one types (htmx) and offers skills to tick
    page.get_by_label("Search skills").fill("spreadsheet")
    first = page.locator("#skill-results input[type=checkbox]").first
    expect(first).to_be_visible(timeout=30_000)
    skill_name = page.locator("#skill-results label").first.inner_text().split("·")[0].strip()
    first.check()
    screenshot(page, "studio-achievement-form")
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("status")).to_contain_text("The draft is saved")
    expect(page.get_by_text(skill_name, exact=False).first).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Published")
    assert_accessible(page)
    screenshot(page, "studio-achievement-published")

    page.get_by_role("link", name="Issue it").click()
    page.get_by_label("Recipient", exact=True).fill("ada.browser@example.org")
    assert_accessible(page)
    screenshot(page, "studio-issue")
    page.get_by_role("button", name="Issue and sign").click()
    expect(page.get_by_role("status")).to_contain_text("Issued and signed")
    url = page.locator("table.facts a[href*='/credentials/']").get_attribute("href")
    assert url is not None

    page.get_by_role("navigation", name="Studio").get_by_role("link", name="Credentials").click()
    page.get_by_label("Recipient", exact=True).fill("ada.browser@example.org")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="ada.browser@example.org")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "studio-credentials")

    # the credential's public page verifies it in the browser
    page.goto(url)
    expect(page.locator(".verdict")).to_contain_text(re.compile("valid", re.I))
    expect(page.get_by_text("EQF level 5 of 8")).to_be_visible()


def test_issuer_revokes_with_a_reason(pages: Any, site: Any) -> None:
    page = pages.new()
    _log_in(page, site.seed.owner_email)
    seed = site.seed
    owner = Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)
    target = credentials.issue_credential(
        site.platform,
        owner,
        org_id=seed.org_id,
        achievement_id=seed.achievements[0].id,
        recipient="to.revoke@example.org",
        notify=False,
    )
    page.goto(f"/studio/{site.seed.org_slug}/credentials/{target.id}")
    page.get_by_role("button", name="Revoke for good").click()  # no reason: said by the field
    reason = page.get_by_label("Reason", exact=True)
    if page.locator("#reason-error").count() == 0:  # the browser's own required check
        assert reason.evaluate("el => el.validity.valueMissing")
    reason.fill("Issued by mistake")
    page.get_by_role("button", name="Revoke for good").click()
    expect(page.get_by_role("status")).to_contain_text("Revoked")
    assert_accessible(page)
    screenshot(page, "studio-revoked")


def test_bulk_csv_shows_progress_and_rejected_rows(pages: Any, site: Any, tmp_path: Path) -> None:
    achievement = site.seed.achievements[0].id
    rows = "".join(f"cohort{i}@example.org,{achievement}\n" for i in range(30))
    csv = tmp_path / "cohort.csv"
    csv.write_text(f"recipient,achievement_id\n{rows}oops,{achievement}\n", encoding="utf-8")
    page = pages.new()
    _log_in(page, site.seed.owner_email)
    page.goto(f"/studio/{site.seed.org_slug}/bulk")
    assert_accessible(page)
    page.get_by_label("CSV file (UTF-8, at most 10 MB)").set_input_files(str(csv))
    page.get_by_role("button", name="Start issuing").click()
    expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=90_000)
    expect(page.get_by_test_id("bulk-issued")).to_have_text("30")
    expect(page.get_by_test_id("bulk-rejected")).to_have_text("1")
    expect(page.get_by_role("cell", name="oops").first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "studio-bulk")
