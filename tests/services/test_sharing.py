"""Portfolio, visibility, collections, share links, skills, LinkedIn, downloads (baked images,
PDF certificates), data export and account deletion, on SQLite and PostgreSQL, with
credentials issued by the real issuing service."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pypdf
import pypdfium2 as pdfium
import pytest
import zxingcpp
from services_support import MovableClock
from sharing_support import (
    SKILLED_ACHIEVEMENT,
    Seeder,
    issue,
    new_learner,
    put_in_wallet,
    seed_achievement,
    verifier,
)
from sqlalchemy import func, select

from merito.errors import Conflict, InvalidInput, NotFound
from merito.formats import baking
from merito.services import certificates, credentials, privacy, sharing, wallet
from merito.services.platform import Actor, Platform
from merito.storage.tables import AchievementVersionRow, CredentialRow, UserRow
from merito.storage.tables_sharing import HolderKeyRow, ShareLinkRow
from merito.storage.tables_wallet import WalletItemRow
from merito.verification import verify


def tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def baked(data: bytes) -> object:
    """The credential baked in an image: the JSON document, or the compact JWT."""
    extracted = baking.extract(data)
    return extracted.payload if extracted.kind == "ob3-jwt" else json.loads(extracted.payload)


# --- portfolio and visibility -------------------------------------------------------------


def test_the_portfolio_is_opt_in_and_shows_only_public_items(
    platform: Platform, seed_org: Seeder
) -> None:
    org, ada = seed_org(), new_learner(platform)
    shown = put_in_wallet(platform, ada, issue(platform, org))
    hidden = put_in_wallet(platform, ada, issue(platform, org, recipient="ada2@example.org"))
    settings = sharing.update_portfolio(
        platform, ada, handle="Ada-Lovelace", display_name="Ada Lovelace", headline="Analyst"
    )
    assert settings.handle == "ada-lovelace"
    assert not settings.enabled
    with pytest.raises(NotFound):
        sharing.public_portfolio(platform, "ada-lovelace")  # not enabled yet
    sharing.update_portfolio(platform, ada, enabled=True)
    assert sharing.public_portfolio(platform, "ada-lovelace").items == ()
    wallet.set_visibility(platform, ada, shown, "public")
    page = sharing.public_portfolio(platform, "ada-lovelace")
    assert [i.id for i in page.items] == [shown]
    assert hidden not in {i.id for i in page.items}
    assert page.display_name == "Ada Lovelace"
    assert page.url == "https://merito.test/p/ada-lovelace"
    sharing.update_portfolio(platform, ada, enabled=False)
    with pytest.raises(NotFound):
        sharing.public_portfolio(platform, "ada-lovelace")


def test_handles_are_unique_valid_and_not_reserved(platform: Platform) -> None:
    ada, bob = new_learner(platform), new_learner(platform)
    sharing.update_portfolio(platform, ada, handle="ada")
    with pytest.raises(Conflict):
        sharing.update_portfolio(platform, bob, handle="ADA")
    with pytest.raises(Conflict):
        sharing.update_portfolio(platform, bob, handle="admin")
    for bad in ("a", "-ab", "ab-", "a b", "ä-b", "x" * 41):
        with pytest.raises(InvalidInput):
            sharing.update_portfolio(platform, bob, handle=bad)
    with pytest.raises(InvalidInput):
        sharing.update_portfolio(platform, bob, enabled=True)  # no handle yet


def test_skills_count_only_credentials_that_stand(
    platform: Platform, seed_org: Seeder, clock: MovableClock
) -> None:
    org, ada = seed_org(), new_learner(platform)
    achievement = seed_achievement(platform, org.org_id)
    good = issue(platform, org, achievement_id=achievement)
    revoked = issue(platform, org, achievement_id=achievement, recipient="a2@example.org")
    expiring = issue(
        platform,
        org,
        achievement_id=achievement,
        recipient="a3@example.org",
        valid_until=clock.now() + timedelta(days=1),
    )
    unverified = issue(platform, org, achievement_id=achievement, recipient="a4@example.org")
    ids = [
        put_in_wallet(platform, ada, good, visibility="public"),
        put_in_wallet(platform, ada, revoked, visibility="public"),
        put_in_wallet(platform, ada, expiring, visibility="public"),
        put_in_wallet(platform, ada, unverified, visibility="public", verdict="invalid"),
    ]
    credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=revoked.id, reason="cheating"
    )
    sharing.update_portfolio(platform, ada, handle="ada", enabled=True)
    page = sharing.public_portfolio(platform, "ada")
    standing = {i.id: i.standing for i in page.items}
    assert standing == {ids[0]: "valid", ids[1]: "revoked", ids[2]: "valid", ids[3]: "invalid"}
    assert [(s.name, s.count) for s in page.skills] == [("Data modelling", 2), ("SQL", 2)]
    sql = next(s for s in page.skills if s.name == "SQL")
    assert sql.url == "http://data.europa.eu/esco/skill/sql"
    assert sql.framework == "ESCO"
    assert set(sql.item_ids) == {ids[0], ids[2]}
    clock.advance(days=2)
    page = sharing.public_portfolio(platform, "ada")
    assert {i.id: i.standing for i in page.items}[ids[2]] == "expired"
    assert [(s.name, s.count) for s in page.skills] == [("Data modelling", 1), ("SQL", 1)]


# --- collections ------------------------------------------------------------------------------


def test_collections_group_items_and_public_ones_show(platform: Platform, seed_org: Seeder) -> None:
    org, ada = seed_org(), new_learner(platform)
    a = put_in_wallet(platform, ada, issue(platform, org), visibility="public")
    b = put_in_wallet(platform, ada, issue(platform, org, recipient="b@example.org"))
    collection = sharing.create_collection(platform, ada, name=" Data ", item_ids=[a, b, a])
    assert collection.name == "Data"
    assert collection.item_ids == (a, b)
    sharing.remove_from_collection(platform, ada, collection_id=collection.id, item_id=b)
    again = sharing.add_to_collection(platform, ada, collection_id=collection.id, item_id=b)
    assert again.item_ids == (a, b)
    sharing.update_portfolio(platform, ada, handle="ada", enabled=True)
    assert sharing.public_portfolio(platform, "ada").collections == ()
    sharing.update_collection(platform, ada, collection_id=collection.id, public=True)
    (shown,) = sharing.public_portfolio(platform, "ada").collections
    # a private item stays private inside a public collection
    assert [i.id for i in shown.items] == [a]
    sharing.delete_collection(platform, ada, collection.id)
    assert sharing.list_collections(platform, ada) == []
    assert len(sharing.my_items(platform, ada)) == 2  # the items stay


def test_learners_cannot_touch_each_others_things(platform: Platform, seed_org: Seeder) -> None:
    org, ada, bob = seed_org(), new_learner(platform), new_learner(platform)
    item = put_in_wallet(platform, ada, issue(platform, org))
    collection = sharing.create_collection(platform, ada, name="Mine", item_ids=[item])
    link = sharing.create_share_link(platform, ada, target="item", item_id=item)
    attempts = [
        lambda: wallet.set_visibility(platform, bob, item, "public"),
        lambda: sharing.get_collection(platform, bob, collection.id),
        lambda: sharing.update_collection(platform, bob, collection_id=collection.id, name="x"),
        lambda: sharing.delete_collection(platform, bob, collection.id),
        lambda: sharing.add_to_collection(platform, bob, collection_id=collection.id, item_id=item),
        lambda: sharing.create_collection(platform, bob, name="steal", item_ids=[item]),
        lambda: sharing.create_share_link(platform, bob, target="item", item_id=item),
        lambda: sharing.create_share_link(
            platform, bob, target="collection", collection_id=collection.id
        ),
        lambda: sharing.revoke_share_link(platform, bob, link.id),
        lambda: sharing.linkedin_links(platform, bob, item),
        lambda: certificates.baked_image(platform, bob, item),
        lambda: certificates.certificate_pdf(platform, bob, item),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            attempt()
    assert sharing.list_share_links(platform, bob) == []
    assert sharing.list_collections(platform, bob) == []
    machine = Actor(kind="api_key", id="k", org_id=org.org_id)
    with pytest.raises(NotFound):
        sharing.my_items(platform, machine)
    # and ada's things are untouched
    assert sharing.get_collection(platform, ada, collection.id).name == "Mine"
    assert sharing.list_share_links(platform, ada)[0].revoked_at is None


# --- share links ------------------------------------------------------------------------------


def _token(url: str | None) -> str:
    assert url is not None
    return url.rsplit("/", 1)[1]


def test_share_links_count_views_expire_and_revoke(
    platform: Platform, seed_org: Seeder, clock: MovableClock
) -> None:
    org, ada = seed_org(), new_learner(platform)
    item = put_in_wallet(platform, ada, issue(platform, org))  # private: the link is consent
    link = sharing.create_share_link(
        platform, ada, target="item", item_id=item, expires_at=clock.now() + timedelta(days=7)
    )
    assert link.url is not None
    assert link.url.startswith("https://merito.test/s/")
    token = _token(link.url)
    with platform.reading() as session:
        stored = session.get(ShareLinkRow, link.id)
        assert stored is not None
        assert token not in stored.token_hash
    first = sharing.resolve_share_link(platform, token)
    assert first.item is not None
    assert first.item.id == item
    assert first.view_count == 1
    assert sharing.resolve_share_link(platform, token).view_count == 2
    (listed,) = sharing.list_share_links(platform, ada)
    assert listed.view_count == 2
    assert listed.url is None
    assert listed.last_viewed_at == clock.now()
    with pytest.raises(NotFound):
        sharing.resolve_share_link(platform, token + "x")
    clock.advance(days=8)
    with pytest.raises(NotFound):
        sharing.resolve_share_link(platform, token)
    other = sharing.create_share_link(platform, ada, target="item", item_id=item)
    assert sharing.resolve_share_link(platform, _token(other.url)).view_count == 1
    revoked = sharing.revoke_share_link(platform, ada, other.id)
    assert revoked.revoked_at == clock.now()
    assert sharing.revoke_share_link(platform, ada, other.id).revoked_at == revoked.revoked_at
    with pytest.raises(NotFound):
        sharing.resolve_share_link(platform, _token(other.url))
    with pytest.raises(InvalidInput):
        sharing.create_share_link(
            platform, ada, target="item", item_id=item, expires_at=clock.now()
        )
    with pytest.raises(InvalidInput):
        sharing.create_share_link(platform, ada, target="collection", item_id=item)


def test_collection_and_portfolio_links(platform: Platform, seed_org: Seeder) -> None:
    org, ada = seed_org(), new_learner(platform)
    a = put_in_wallet(platform, ada, issue(platform, org), visibility="public")
    b = put_in_wallet(platform, ada, issue(platform, org, recipient="b@example.org"))
    collection = sharing.create_collection(platform, ada, name="All", item_ids=[a, b])
    link = sharing.create_share_link(
        platform, ada, target="collection", collection_id=collection.id
    )
    view = sharing.resolve_share_link(platform, _token(link.url))
    assert view.collection is not None
    assert [i.id for i in view.collection.items] == [a, b]  # the link shares the whole collection
    assert {s.name for s in view.skills} == {"SQL", "Data modelling"}
    with pytest.raises(InvalidInput):
        sharing.create_share_link(platform, ada, target="portfolio")  # no portfolio yet
    sharing.update_portfolio(platform, ada, handle="ada")  # not listed publicly
    portfolio = sharing.create_share_link(platform, ada, target="portfolio")
    shown = sharing.resolve_share_link(platform, _token(portfolio.url))
    assert shown.portfolio is not None
    assert [i.id for i in shown.portfolio.items] == [a]
    sharing.delete_collection(platform, ada, collection.id)
    with pytest.raises(NotFound):
        sharing.resolve_share_link(platform, _token(link.url))


# --- LinkedIn -------------------------------------------------------------------------------


def test_linkedin_links_are_filled_from_the_credential(
    platform: Platform, seed_org: Seeder, clock: MovableClock
) -> None:
    org, ada = seed_org(), new_learner(platform)
    record = issue(platform, org, valid_until=clock.now() + timedelta(days=400))
    item = put_in_wallet(platform, ada, record)
    links = sharing.linkedin_links(platform, ada, item)
    add = urlsplit(links.add_to_profile)
    assert f"{add.scheme}://{add.netloc}{add.path}" == "https://www.linkedin.com/profile/add"
    query = {k: v[0] for k, v in parse_qs(add.query).items()}
    assert query == {
        "startTask": "CERTIFICATION_NAME",
        "name": "SQL Fundamentals",
        "organizationName": f"Org {org.slug}",
        "issueYear": "2026",
        "issueMonth": "1",
        "expirationYear": "2027",
        "expirationMonth": "2",
        "certUrl": record.credential_id,
        "certId": record.credential_id,
    }
    assert links.share is not None
    share = urlsplit(links.share)
    assert share.netloc == "www.linkedin.com"
    assert parse_qs(share.query) == {"url": [record.credential_id]}


# --- downloads ----------------------------------------------------------------------------


@pytest.mark.parametrize("proof_format", ["eddsa-rdfc-2022", "vc-jwt"])
def test_baked_svg_round_trips_and_verifies(
    platform: Platform, seed_org: Seeder, proof_format: str
) -> None:
    org, ada = seed_org(), new_learner(platform)
    record = issue(platform, org, proof_format=proof_format)
    item = put_in_wallet(platform, ada, record)
    download = certificates.baked_image(platform, ada, item)
    assert download.media_type == "image/svg+xml"
    assert download.filename == "sql-fundamentals.svg"
    extracted = baked(download.data)
    assert extracted == record.serialized
    assert verify(extracted, options=verifier(platform)).verified  # type: ignore[arg-type]


def test_baked_png_of_the_achievement_image_round_trips(
    platform: Platform, seed_org: Seeder
) -> None:
    org, ada = seed_org(), new_learner(platform)
    achievement = seed_achievement(platform, org.org_id)
    png = tiny_png()
    with platform.transaction() as session:
        version = session.scalars(
            select(AchievementVersionRow).where(AchievementVersionRow.achievement_id == achievement)
        ).one()
        version.document = {
            **SKILLED_ACHIEVEMENT,
            "image": {
                "id": "data:image/png;base64," + base64.b64encode(png).decode(),
                "type": "Image",
            },
        }
    record = issue(platform, org, achievement_id=achievement)
    item = put_in_wallet(platform, ada, record)
    download = certificates.baked_image(platform, ada, item)
    assert download.media_type == "image/png"
    assert download.data.startswith(png[:16])  # the achievement's own picture (same IHDR)
    assert baked(download.data) == record.document
    assert verify(record.document, options=verifier(platform)).verified
    svg = certificates.baked_image(platform, ada, item, kind="svg")
    assert baked(svg.data) == record.document


def test_pdf_certificate_prints_links_and_attaches_the_credential(
    platform: Platform, seed_org: Seeder
) -> None:
    org, ada = seed_org(), new_learner(platform)
    record = issue(platform, org)
    item = put_in_wallet(platform, ada, record)
    download = certificates.certificate_pdf(platform, ada, item)
    assert download.media_type == "application/pdf"
    assert download.data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(download.data))
    text = reader.pages[0].extract_text()
    for expected in ("SQL Fundamentals", f"Org {org.slug}", "15 January 2026"):
        assert expected in text, (expected, text)
    assert record.credential_id in text.replace("\n", "")
    assert reader.metadata is not None
    assert reader.metadata.title == "SQL Fundamentals"
    attachments = reader.attachments
    assert list(attachments) == ["credential.json"]
    attached = json.loads(attachments["credential.json"][0])
    assert attached == record.document
    assert verify(attached, options=verifier(platform)).verified
    # the QR code, rendered as printed and decoded, is the credential's public page
    assert certificates.verification_url(platform, record.credential_id) == record.credential_id
    document = pdfium.PdfDocument(download.data)
    try:
        page = document[0]
        image = page.render(scale=3).to_pil()
        page.close()
    finally:
        document.close()
    codes = zxingcpp.read_barcodes(image)
    assert [(c.format, c.text) for c in codes] == [
        (zxingcpp.BarcodeFormat.QRCode, record.credential_id)
    ]


def test_pdf_of_an_unlinked_credential_points_to_the_verifier(platform: Platform) -> None:
    assert certificates.verification_url(platform, "urn:uuid:1") == "https://merito.test/verify"
    assert certificates.verification_url(platform, None) == "https://merito.test/verify"


# --- export and deletion ------------------------------------------------------------------------


def test_export_holds_all_the_learners_data(platform: Platform, seed_org: Seeder) -> None:
    org, ada = seed_org(), new_learner(platform, "ada@example.org")
    record = issue(platform, org)
    item = put_in_wallet(platform, ada, record)
    sharing.update_portfolio(platform, ada, handle="ada", enabled=True, headline="Hi")
    sharing.create_collection(platform, ada, name="C", item_ids=[item])
    link = sharing.create_share_link(platform, ada, target="item", item_id=item)
    from merito.services import presentations

    did = presentations.holder_key(platform, ada).did
    data = privacy.export_my_data(platform, ada)
    json.dumps(data)  # JSON-ready
    assert data["account"]["email"] == "ada@example.org"
    assert data["wallet"][0]["document"] == record.document
    assert data["portfolio"]["headline"] == "Hi"
    assert data["collections"][0]["item_ids"] == [item]
    assert data["share_links"][0]["id"] == link.id
    assert _token(link.url) not in json.dumps(data)
    assert data["holder_key"]["did"] == did
    assert "d" not in data["holder_key"]["public_jwk"]
    assert {a["action"] for a in data["activity"]} >= {"share_link.created", "portfolio.updated"}


def test_deleting_the_account_removes_the_person_and_leaves_revocation(
    platform: Platform, seed_org: Seeder
) -> None:
    org, ada = seed_org(), new_learner(platform, "ada@example.org")
    record = issue(platform, org)
    item = put_in_wallet(platform, ada, record)
    sharing.update_portfolio(platform, ada, handle="ada", enabled=True)
    sharing.create_collection(platform, ada, name="C", item_ids=[item])
    link = sharing.create_share_link(platform, ada, target="item", item_id=item)
    from merito.services import presentations

    presentations.holder_key(platform, ada)
    with pytest.raises(InvalidInput):
        privacy.delete_account(platform, ada, confirm_email="bob@example.org")
    privacy.delete_account(platform, ada, confirm_email=" Ada@Example.org ")
    with platform.reading() as session:
        assert session.get(UserRow, ada.user_id) is None
        for table in (WalletItemRow, ShareLinkRow, HolderKeyRow):
            n = session.scalar(
                select(func.count()).select_from(table).where(table.user_id == ada.user_id)
            )
            assert n == 0, table
        assert session.get(CredentialRow, record.id) is not None
    with pytest.raises(NotFound):
        sharing.public_portfolio(platform, "ada")
    with pytest.raises(NotFound):
        sharing.resolve_share_link(platform, _token(link.url))
    # the issuer keeps its record and can still revoke it
    revoked = credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="error"
    )
    assert revoked.state == "revoked"


def test_the_last_owner_of_an_organisation_cannot_vanish(
    platform: Platform, seed_org: Seeder
) -> None:
    org = seed_org()
    with platform.reading() as session:
        user = session.get(UserRow, org.user_id)
        assert user is not None
        email = user.email
    with pytest.raises(Conflict):
        privacy.delete_account(platform, org.actor, confirm_email=email)


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_a_baked_download_imports_back_into_a_wallet(
    platform: Platform, seed_org: Seeder, kind: str
) -> None:
    """Bake on download, extract on upload: the wallet's import reads the same credential."""
    org, ada, bob = seed_org(), new_learner(platform), new_learner(platform)
    achievement = seed_achievement(platform, org.org_id)
    with platform.transaction() as session:
        version = session.scalars(
            select(AchievementVersionRow).where(AchievementVersionRow.achievement_id == achievement)
        ).one()
        version.document = {
            **SKILLED_ACHIEVEMENT,
            "image": {
                "id": "data:image/png;base64," + base64.b64encode(tiny_png()).decode(),
                "type": "Image",
            },
        }
    record = issue(platform, org, achievement_id=achievement)
    item = put_in_wallet(platform, ada, record)
    download = certificates.baked_image(platform, ada, item, kind=kind)  # type: ignore[arg-type]
    imported = wallet.import_credential(
        platform, bob, data=download.data, filename=download.filename
    )
    assert imported.document == record.document
    assert imported.verdict == "valid"


def test_pdf_certificate_prints_any_script(platform: Platform, seed_org: Seeder) -> None:
    org, ada = seed_org(), new_learner(platform)
    name = "Анализ данных — 数据分析"
    record = issue(platform, org, achievement_id=seed_achievement(platform, org.org_id, name=name))
    with platform.transaction() as session:
        session.add(
            WalletItemRow(
                id="00000000-0000-4000-8000-0000000000aa",
                user_id=ada.user_id,
                credential_row_id=record.id,
                source="claimed",
                format="ob3",
                document=record.document,
                content_hash="a" * 64,
                credential_id=record.credential_id,
                name=name,
                visibility="private",
            )
        )
    download = certificates.certificate_pdf(platform, ada, "00000000-0000-4000-8000-0000000000aa")
    reader = pypdf.PdfReader(io.BytesIO(download.data))
    assert "Анализ данных" in reader.pages[0].extract_text()
    assert json.loads(reader.attachments["credential.json"][0]) == record.document
