"""The analytics dashboard in Chromium: the demo issuer opens it from the studio nav, picks a
range with the keyboard, opens a chart's data table and downloads the CSV; screenshots at
desktop and phone width (no sideways scrolling) and axe-core."""

from __future__ import annotations

import csv
import io
from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from playwright.sync_api import expect


def test_the_issuer_reads_the_dashboard_and_downloads_its_csv(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto(f"/login?next=/studio/{site.seed.org_slug}")
    page.get_by_label("Email address").fill(site.seed.owner_email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Studio").get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    activity = page.get_by_role("img", name="Activity per day (UTC)")
    expect(activity).to_be_visible()
    box = activity.bounding_box()
    assert box is not None
    assert box["height"] > 100  # the viewBox gives it a height: it is drawn, not collapsed
    screenshot(page, "analytics-dashboard")
    assert_accessible(page)

    page.get_by_label("Period", exact=True).select_option("7")
    page.get_by_role("button", name="Show").press("Enter")
    expect(page.get_by_label("Period", exact=True)).to_have_value("7")
    page.locator("#activity").get_by_text("Show the data").click()
    table = page.locator("#activity table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(7)
    screenshot(page, "analytics-week-with-table")
    assert_accessible(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the daily figures (CSV)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("merito-activity-")
    path = download.path()
    assert path is not None
    with open(path, encoding="utf-8") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    assert rows[0] == ["date", "issued", "claimed", "shared", "verified", "revoked"]
    assert len(rows) == 8
