"""A learner's public portfolio and a share link's page, in Chromium: what is shown, the
standing of each credential, the skills; screenshots at two widths and axe-core."""

from __future__ import annotations

from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from sqlalchemy import select

from merito.services import sharing, wallet
from merito.services.platform import Actor
from merito.storage.tables import UserRow


def _learner(site: Any) -> Actor:
    with site.platform.reading() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == site.seed.learners[0]))
    assert user_id is not None
    return Actor(kind="user", id=user_id, user_id=user_id)


def test_the_public_portfolio_and_a_share_link(pages: Any, site: Any) -> None:
    learner = _learner(site)
    assert site.seed.wallet_items, "the demo claims credentials into the first learner's wallet"
    first, *rest = site.seed.wallet_items
    wallet.set_visibility(site.platform, learner, first, "public")
    sharing.update_portfolio(
        site.platform,
        learner,
        handle="demo-learner",
        display_name="Demo Learner",
        headline="Learning data skills, one badge at a time",
        enabled=True,
    )
    page = pages.new()
    page.goto("/p/demo-learner")
    assert page.locator("h1").inner_text() == "Demo Learner"
    assert page.locator(".badge-card").count() == 1
    assert page.locator(".pill-ok").count() >= 1
    screenshot(page, "portfolio")
    assert_accessible(page)

    link = sharing.create_share_link(
        site.platform, learner, target="item", item_id=rest[0] if rest else first
    )
    assert link.url is not None
    shared = pages.new()
    shared.goto(link.url.removeprefix(site.url))
    assert shared.locator(".badge-card").count() == 1
    screenshot(shared, "share-link")
    assert_accessible(shared)
    sharing.revoke_share_link(site.platform, learner, link.id)
    gone = pages.new()
    response = gone.goto(link.url.removeprefix(site.url))
    assert response is not None
    assert response.status == 404


def test_the_sharing_page(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/login?next=/sharing")
    page.get_by_label("Email address").fill(site.seed.learners[0])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/sharing")
    page.get_by_label("Portfolio address").fill("browser-learner")
    page.get_by_label("Show my portfolio to anyone with its address").check()
    page.get_by_role("button", name="Save the portfolio settings").click()
    page.wait_for_url("**/sharing?saved=1")
    page.get_by_role("button", name="Create a link").first.click()
    assert page.locator("#new-link").inner_text().startswith(site.url + "/s/")
    screenshot(page, "sharing")
    assert_accessible(page)
