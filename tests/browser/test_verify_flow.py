"""The verify page and a credential's public page, in Chromium: valid, tampered, revoked,
a baked PNG, a pasted VC-JWT, a QR link (``/verify?url=``), and the same page without JS."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from browser_support import assert_accessible, screenshot
from playwright.sync_api import expect

from merito.formats.baking import bake_png
from merito.services import credentials
from merito.services.platform import Actor


def tiny_png() -> bytes:
    """A valid 1x1 PNG (made here: the test needs no image file)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x2a\x3f\xbf")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def outcomes(page: Any) -> dict[str, str]:
    items = page.locator("[data-check]")
    return {
        items.nth(i).get_attribute("data-check"): items.nth(i).get_attribute("data-outcome")
        for i in range(items.count())
    }


def verdict(page: Any) -> str:
    banner = page.locator(".verdict")
    expect(banner).to_be_visible()
    classes = banner.get_attribute("class") or ""
    return re.search(r"verdict-(valid|invalid|unknown)", classes).group(1)  # type: ignore[union-attr]


def presented(record: Any) -> str:
    """What a holder hands over: the JWT of a VC-JWT, else the signed JSON."""
    return record.jwt if record.jwt is not None else json.dumps(record.document)


def paste_and_verify(page: Any, text: str) -> None:
    page.get_by_label("Or paste the credential").fill(text)
    page.get_by_role("button", name="Verify", exact=True).click()


def test_the_verify_page_checks_a_pasted_valid_credential_in_place(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/verify")
    assert_accessible(page)
    screenshot(page, "verify")
    document = site.seed.credentials[0].document
    paste_and_verify(page, json.dumps(document))
    expect(page.get_by_role("heading", name="Valid credential")).to_be_visible()
    assert verdict(page) == "valid"
    checks = outcomes(page)
    # anchoring is an extra: pending right after issuing, or not configured
    assert checks.pop("anchored") in ("warning", "skipped")
    assert checks == {
        "parse": "pass",
        "format": "pass",
        "context": "pass",
        "schema": "pass",
        "proof": "pass",
        "issuer": "pass",
        "validity": "pass",
        "status": "pass",
        # the page checks the issuer against Merito's registry and its did:web domain linkage
        "trust": "pass",
        "domain_linkage": "pass",
        "endorsements": "skipped",
    }
    # htmx swapped the result in: still the same page, focus moved to the verdict
    assert page.url.endswith("/verify")
    assert page.evaluate("document.activeElement.id") == "verdict-heading"
    card = page.locator(".badge-card")
    expect(card).to_contain_text(document["credentialSubject"]["achievement"]["name"])
    expect(card).to_contain_text("Example Academy")
    assert_accessible(page)
    screenshot(page, "verify-valid")


def test_a_tampered_credential_fails_its_signature(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/verify")
    document = json.loads(json.dumps(site.seed.credentials[0].document))
    document["credentialSubject"]["achievement"]["name"] = "Brain Surgery (Honours)"
    paste_and_verify(page, json.dumps(document))
    expect(page.get_by_role("heading", name="Not valid")).to_be_visible()
    assert verdict(page) == "invalid"
    assert outcomes(page)["proof"] == "fail"
    expect(page.locator('[data-check="proof"]')).to_contain_text(
        "the credential was changed after it was issued"
    )
    assert_accessible(page)
    screenshot(page, "verify-tampered")


def test_a_revoked_credential_fails_its_status(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/verify")
    paste_and_verify(page, presented(site.seed.revoked))
    expect(page.get_by_role("heading", name="Not valid")).to_be_visible()
    checks = outcomes(page)
    assert checks["status"] == "fail"
    assert checks["proof"] == "pass"
    expect(page.locator('[data-check="status"]')).to_contain_text("revoked or suspended it")
    screenshot(page, "verify-revoked")


def test_a_baked_png_is_dropped_in_and_verified(pages: Any, site: Any, tmp_path: Path) -> None:
    image = tmp_path / "badge.png"
    image.write_bytes(bake_png(tiny_png(), site.seed.credentials[1].document))
    page = pages.new()
    page.goto("/verify")
    page.locator("#file").set_input_files(str(image))
    expect(page.locator("[data-file-name]")).to_have_text("badge.png")
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", name="Valid credential")).to_be_visible()
    expect(page.locator(".verdict-source")).to_have_text("From the badge image badge.png")
    assert outcomes(page)["proof"] == "pass"
    screenshot(page, "verify-baked-png")


def test_an_image_without_a_badge_is_a_clear_form_error(pages: Any, tmp_path: Path) -> None:
    image = tmp_path / "plain.png"
    image.write_bytes(tiny_png())
    page = pages.new()
    page.goto("/verify")
    page.locator("#file").set_input_files(str(image))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("This image carries no credential")


def test_a_pasted_vc_jwt_is_verified(pages: Any, site: Any) -> None:
    seed = site.seed
    owner = Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)
    record = credentials.issue_credential(
        site.platform,
        owner,
        org_id=seed.org_id,
        achievement_id=seed.achievements[0].id,
        recipient="did:example:learner-jwt",
        proof_format="vc-jwt",
        notify=False,
    )
    assert record.jwt is not None
    page = pages.new()
    page.goto("/verify")
    paste_and_verify(page, record.jwt)
    expect(page.get_by_role("heading", name="Valid credential")).to_be_visible()
    expect(page.locator(".badge-card")).to_contain_text("did:example:learner-jwt")
    screenshot(page, "verify-jwt")


def test_a_qr_link_verifies_at_once_and_works_without_javascript(
    browser: Any, pages: Any, site: Any
) -> None:
    credential_url = site.seed.credentials[0].credential_id
    page = pages.new(java_script_enabled=False)
    page.goto("/verify?url=" + credential_url)
    assert verdict(page) == "valid"
    assert outcomes(page)["status"] == "pass"
    expect(page.locator(".verdict-source")).to_have_text(f"From {credential_url}")
    expect(page.get_by_label("Or its web address")).to_have_value(credential_url)
    # the plain form post, no htmx: the whole page comes back with the result
    page.get_by_label("Or its web address").fill("")
    page.get_by_label("Or paste the credential").fill(presented(site.seed.revoked))
    page.get_by_role("button", name="Verify", exact=True).click()
    assert verdict(page) == "invalid"
    assert outcomes(page)["status"] == "fail"


def test_an_address_the_guard_refuses_is_a_form_error(pages: Any) -> None:
    page = pages.new()
    page.goto("/verify?url=http://169.254.169.254/latest/meta-data")
    expect(page.get_by_role("alert")).to_contain_text("That address could not be read")


def test_a_credential_public_page(pages: Any, site: Any) -> None:
    record = site.seed.credentials[0]
    page = pages.new()
    # the credential's own URL: a browser gets the page, at the same address
    response = page.goto(record.credential_id)
    assert response is not None
    assert response.url == record.credential_id
    assert response.headers["x-robots-tag"] == "noindex"
    expect(page.get_by_role("heading", level=1)).to_have_text(
        record.document["credentialSubject"]["achievement"]["name"]
    )
    expect(page.locator(".alert-success")).to_contain_text("Active")
    assert verdict(page) == "valid"
    assert_accessible(page)
    screenshot(page, "credential")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the credential").click()
    downloaded = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert downloaded == record.document
    page.get_by_role("link", name="Verify it again").click()
    expect(page).to_have_url(re.compile(r"/verify\?url="))
    assert verdict(page) == "valid"


def test_a_revoked_credential_page_says_so(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto(site.seed.revoked.credential_id)
    expect(page.locator(".alert-error")).to_contain_text("Revoked")
    assert verdict(page) == "invalid"
    assert outcomes(page)["status"] == "fail"
    assert_accessible(page)
    screenshot(page, "credential-revoked")


def test_an_unknown_credential_is_a_404_page(pages: Any) -> None:
    page = pages.new()
    response = page.goto("/credentials/00000000-0000-0000-0000-000000000000")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("There is nothing here")
    assert_accessible(page)
    screenshot(page, "not-found")
    # a dead link anywhere else on the site is the same page, not a JSON problem
    response = page.goto("/no/such/page")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("There is nothing here")


def test_programs_still_get_json_at_the_credential_url(pages: Any, site: Any) -> None:
    page = pages.new()
    record = site.seed.credentials[0]
    response = page.request.get(record.credential_id, headers={"Accept": "application/ld+json"})
    assert response.status == 200
    assert response.json() == record.document


def test_the_verify_form_works_with_the_keyboard_alone(pages: Any, site: Any) -> None:
    page = pages.new()
    page.goto("/verify")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # skip link
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.type"))
    # the checkbox: check the issuer against Merito's trust registry
    assert order == ["file", "text", "url", "checkbox", "submit"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")  # back to the URL field
    page.keyboard.type(site.seed.credentials[0].credential_id)
    page.keyboard.press("Enter")  # submits the form from the field
    expect(page.get_by_role("heading", name="Valid credential")).to_be_focused()
