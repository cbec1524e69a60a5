"""The wallet pages: the emailed claim link (login first, confirm, land in the wallet), the
wallet list with verdicts, importing a file, a refusal explained, French."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_support import BASE, PASSWORD, Browser

from merito.asgi import create_app
from merito.config import Settings
from merito.domain.ports import SystemClock
from merito.net.mailer import MemoryMailer
from merito.services import accounts, credentials, demo
from merito.services.platform import Actor, Platform
from merito.storage import KeyStore, create_engine_for, session_factory
from merito.storage.tables import OutboxRow
from merito.storage.tables_wallet import WalletItemRow

FIXTURES = Path(__file__).parents[2] / "fixtures"
BLOCKCERTS = FIXTURES / "blockcerts/cert-verifier-js/fixtures/v2/mocknet-valid-2.0.json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    database = tmp_path_factory.mktemp("wallet-web") / "merito.db"
    shutil.copyfile(sqlite_template, database)
    engine = create_engine_for(f"sqlite:///{database}")
    sessions = session_factory(engine)
    clock = SystemClock()
    platform = Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, b"\x45" * 32, clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url=BASE,
        status_list_size=1024,
    )
    seed = demo.seed_demo(platform, password=PASSWORD)
    app = create_app(settings=Settings(base_url=BASE), platform=platform)
    yield app, seed, platform
    engine.dispose()


def claim_path(platform: Platform, to: str) -> str:
    with platform.reading() as session:
        payloads = [
            row.payload
            for row in session.scalars(
                select(OutboxRow).where(OutboxRow.topic == "email.credential_issued")
            )
        ]
    # the demo's pathway award also emails its learner: pick the constituent's email
    [payload] = [
        p for p in payloads if p["to"] == to and "Web Data Practitioner" not in p["subject"]
    ]
    url = next(word for word in payload["text"].split() if "/claim/" in word)
    return url.removeprefix(BASE)


def test_the_emailed_link_claims_into_the_wallet(site: Any) -> None:
    app, seed, platform = site
    owner = Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)
    accounts.register(platform, email="mae@merito.test", password=PASSWORD, ip=None)
    credentials.issue_credential(
        platform,
        owner,
        org_id=seed.org_id,
        achievement_id=seed.achievements[1].id,
        recipient="mae@merito.test",
    )
    path = claim_path(platform, "mae@merito.test")
    browser = Browser(app)
    first = browser.request("GET", path)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=" + path
    browser.log_in("mae@merito.test")
    page = browser.request("GET", path)
    assert page.status_code == 200
    assert "Add it to my wallet" in page.text
    assert "SQL Fundamentals" in page.text
    assert "Issued by Example Academy." in page.text
    # a form without its token changes nothing
    assert browser.request("POST", path, data={}).status_code == 403
    claimed = browser.request("POST", path, data={"csrf_token": browser.csrf(path)})
    assert claimed.status_code == 303, claimed.text
    assert claimed.headers["location"].startswith("/wallet?added=")
    wallet_page = browser.request("GET", claimed.headers["location"])
    assert "The credential is in your wallet." in wallet_page.text
    assert "SQL Fundamentals" in wallet_page.text
    assert "pill-ok" in wallet_page.text
    # the issuer revokes it; checking again from the page shows it
    item_id = claimed.headers["location"].rsplit("=", 1)[1]
    with platform.reading() as session:
        row_id = session.scalars(
            select(WalletItemRow.credential_row_id).where(WalletItemRow.id == item_id)
        ).one()
    assert row_id is not None
    credentials.revoke(platform, owner, org_id=seed.org_id, credential_id=row_id, reason="typo")
    again = browser.request(
        "POST", f"/wallet/{item_id}/verify", data={"csrf_token": browser.csrf("/wallet")}
    )
    assert again.status_code == 303
    checked = browser.request("GET", again.headers["location"]).text
    assert "Checked just now." in checked
    assert "pill-bad" in checked
    # the demo learner's claimed link cannot be taken by this account
    ada_link = claim_path(platform, demo.DEMO_LEARNERS[0])
    refused = browser.request("POST", ada_link, data={"csrf_token": browser.csrf(ada_link)})
    assert refused.status_code == 409
    assert "already claimed by another account" in refused.text


def test_import_and_a_refusal_explained_in_french(site: Any) -> None:
    app, _, platform = site
    accounts.register(platform, email="noe@merito.test", password=PASSWORD, ip=None)
    browser = Browser(app)
    assert browser.request("GET", "/wallet").headers["location"] == "/login?next=/wallet"
    browser.log_in("noe@merito.test")
    assert "Your wallet is empty" in browser.request("GET", "/wallet").text
    imported = browser.request(
        "POST",
        "/wallet",
        data={"csrf_token": browser.csrf("/wallet")},
        files={"file": ("cert.json", BLOCKCERTS.read_bytes(), "application/json")},
    )
    assert imported.status_code == 303, imported.text
    listed = browser.request("GET", "/wallet").text
    assert "Not fully checked" in listed
    assert "not checked (offline)" in listed
    refused = browser.request(
        "POST",
        "/wallet?lang=fr",
        data={"csrf_token": browser.csrf("/wallet")},
        files={"file": ("note.txt", b"hello", "text/plain")},
    )
    assert refused.status_code == 422
    assert "Ce n&#39;est pas un badge que Merito sait lire." in refused.text
    assert "Mon portefeuille" in refused.text


def test_visibility_and_removal_from_the_page(site: Any) -> None:
    app, _, platform = site
    accounts.register(platform, email="ren@merito.test", password=PASSWORD, ip=None)
    browser = Browser(app)
    browser.log_in("ren@merito.test")
    browser.request(
        "POST",
        "/wallet",
        data={"csrf_token": browser.csrf("/wallet")},
        files={"file": ("cert.json", BLOCKCERTS.read_bytes(), "application/json")},
    )
    match = re.search(r'data-item="([^"]+)"', browser.request("GET", "/wallet").text)
    assert match is not None
    item = match.group(1)
    public = browser.request(
        "POST",
        f"/wallet/{item}/visibility",
        data={"csrf_token": browser.csrf("/wallet"), "visibility": "public"},
    )
    assert public.status_code == 303
    assert "Make private" in browser.request("GET", "/wallet").text
    # another learner's browser cannot touch it
    other = Browser(app)
    accounts.register(platform, email="sol@merito.test", password=PASSWORD, ip=None)
    other.log_in("sol@merito.test")
    refused = other.request(
        "POST", f"/wallet/{item}/delete", data={"csrf_token": other.csrf("/wallet")}
    )
    assert refused.status_code == 404
    assert browser.request("POST", f"/wallet/{item}/delete", data={}).status_code == 403
    removed = browser.request(
        "POST", f"/wallet/{item}/delete", data={"csrf_token": browser.csrf("/wallet")}
    )
    assert removed.headers["location"] == "/wallet?removed=1"
    assert "Your wallet is empty" in browser.request("GET", "/wallet").text
