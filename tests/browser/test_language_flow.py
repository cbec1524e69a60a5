"""Switching the pages to French: the switcher, the remembered choice, Accept-Language."""

from __future__ import annotations

import json
from typing import Any

from browser_support import assert_accessible, screenshot
from playwright.sync_api import expect


def test_the_language_switcher_turns_the_site_french_and_remembers(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
    expect(page.get_by_label("Adresse e-mail")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "login-fr")
    # remembered: the next page is French without ?lang=
    page.goto("/verify")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifier une attestation")
    page.get_by_label("Ou collez l'attestation").fill(json.dumps(site.seed.credentials[0].document))
    page.get_by_role("button", name="Vérifier", exact=True).click()
    expect(page.get_by_role("heading", name="Attestation valide")).to_be_visible()
    expect(page.locator('[data-check="proof"]')).to_contain_text("La signature est intacte")
    assert_accessible(page)
    screenshot(page, "verify-valid-fr")
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_a_french_browser_gets_french_first(pages: Any, site: Any) -> None:
    page = pages.new(locale="fr-FR")
    page.goto(site.seed.credentials[0].credential_id)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("link", name="Télécharger l'attestation")).to_be_visible()
    screenshot(page, "credential-fr")
