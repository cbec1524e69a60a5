"""Sign up, log in, log out and the keyboard path through the login form, in Chromium."""

from __future__ import annotations

import re
import secrets
from typing import Any

from browser_support import PASSWORD, assert_accessible, screenshot
from playwright.sync_api import expect


def test_landing_page_says_what_merito_is_and_is_accessible(pages: Any) -> None:
    page = pages.new()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Credentials anyone can check")
    for audience in ("Issuers", "Learners", "Employers"):
        expect(page.get_by_role("heading", name=audience)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "landing")


def test_sign_up_log_out_and_log_in_again(pages: Any) -> None:
    email = f"learner-{secrets.token_hex(4)}@example.org"
    page = pages.new()
    page.goto("/signup")
    assert_accessible(page)
    screenshot(page, "signup")

    # a mistake first: the form comes back with the email kept and the error by the field
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password, again").fill("short")
    page.get_by_role("button", name="Create my account").click()
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password-error")).to_contain_text("at least 12 characters")
    described = password.get_attribute("aria-describedby") or ""
    assert "password-error" in described.split()
    expect(page.get_by_label("Email address")).to_have_value(email)
    assert_accessible(page)
    screenshot(page, "signup-error")

    password.fill(PASSWORD)
    page.get_by_label("Password, again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(re.compile(r"/home\?welcome=1$"))
    expect(page.get_by_role("status")).to_contain_text("Your account is ready")
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "home")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/\?signed_out=1$"))
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    page.goto("/home")  # signed out: back to the login page, which returns here afterwards
    expect(page).to_have_url(re.compile(r"/login\?next=/home$"))

    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#password-error")).to_contain_text("The email or the password is wrong")
    expect(page.get_by_label("Email address")).to_have_value(email)
    assert_accessible(page)
    screenshot(page, "login-error")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def test_the_demo_owner_sees_their_organisation(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/login")
    page.get_by_label("Email address").fill(site.seed.owner_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    table = page.get_by_role("table")
    expect(table).to_contain_text(site.seed.org_slug)
    expect(table).to_contain_text("owner")


def test_the_login_form_works_with_the_keyboard_alone(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/login")
    assert_accessible(page)
    screenshot(page, "login")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(site.seed.owner_email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Log in"
    # the focus ring is visible (an outline, not only a colour change)
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/home$"))


def test_login_is_rate_limited_and_says_so(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/login")
    email = f"nobody-{secrets.token_hex(4)}@example.org"
    for _ in range(12):
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill("wrong password 123")
        page.get_by_role("button", name="Log in").click()
        if page.locator("#form-error").count():
            break
    expect(page.locator("#form-error")).to_contain_text("Too many attempts")
