"""The wallet on SQLite and PostgreSQL: claim by email link and by DID, import of every format
(real fixtures, valid and tampered), re-verification on view, visibility, isolation, audit."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from services_support import START, SeededOrg
from sqlalchemy import select

from merito.domain.ports import FetchResponse, SystemClock
from merito.errors import Conflict, FetchError, InvalidInput, NotFound, PermissionDenied, ProofError
from merito.formats import baking
from merito.formats.did_key import create_did_key
from merito.net.mailer import MemoryMailer
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.services import credentials, outbox, wallet
from merito.services.platform import Actor, Platform
from merito.storage.tables import AchievementRow, AchievementVersionRow, AuditLogRow, UserRow
from merito.storage.tables_issuance import CredentialClaimRow
from merito.storage.tables_wallet import WalletItemRow

FIXTURES = Path(__file__).parents[1] / "fixtures"
OB2 = FIXTURES / "ob2-examples/validator-ob20"
BLOCKCERTS = FIXTURES / "blockcerts/cert-verifier-js/fixtures"
W3C = FIXTURES / "w3c-vc-di-eddsa/TestVectors"
OB3 = FIXTURES / "ob3-examples/validator-ob30"

ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/sql",
    "type": ["Achievement"],
    "achievementType": "Badge",
    "name": "SQL Fundamentals",
    "description": "Writes correct SELECT, JOIN and aggregate queries.",
    "criteria": {"narrative": "Scored at least 80% on the proctored SQL exam."},
}


def learner(platform: Platform, email: str | None = None) -> Actor:
    user_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(UserRow(id=user_id, email=email or f"{user_id}@example.org", password_hash="!"))
    return Actor(kind="user", id=user_id, user_id=user_id)


def seed_achievement(platform: Platform, org_id: str) -> str:
    achievement_id, version_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            AchievementRow(
                id=achievement_id,
                org_id=org_id,
                status="published",
                current_version=1,
                name="SQL Fundamentals",
            )
        )
        session.flush()
        session.add(
            AchievementVersionRow(
                id=version_id,
                org_id=org_id,
                achievement_id=achievement_id,
                version=1,
                document=ACHIEVEMENT,
            )
        )
    return achievement_id


def issue(
    platform: Platform, org: SeededOrg, recipient: str, **options: Any
) -> credentials.CredentialRecord:
    return credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=seed_achievement(platform, org.org_id),
        recipient=recipient,
        **options,
    )


def claim_url(platform: Platform, mailer: MemoryMailer, to: str) -> str:
    """Deliver the outbox, then read the claim link from the email the learner received."""
    # the outbox stamps available_at with the database's time, not the test clock's
    outbox.deliver_due(replace(platform, clock=SystemClock()), worker_id="test")
    [email] = [m for m in mailer.sent if m.to == to]
    return next(word for word in email.text.split() if "/claim/" in word)


class FixtureFetcher:
    """Serves the 1EdTech OB 2.0 validator's documents at their https://example.org URLs."""

    def __init__(self, overrides: dict[str, bytes | Exception] | None = None) -> None:
        self.overrides = overrides or {}
        self.fetched: list[str] = []

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.fetched.append(url)
        if url in self.overrides:
            found = self.overrides[url]
            if isinstance(found, Exception):
                raise found
            return FetchResponse(status=200, body=found, url=url)
        name = url.rsplit("/", 1)[-1]
        for folder in (OB2 / "assets", OB2):
            if (
                url.startswith(("https://example.org/", "http://example.org/"))
                and (folder / name).is_file()
            ):
                return FetchResponse(status=200, body=(folder / name).read_bytes(), url=url)
        raise FetchError(f"fetching {url} failed: HTTP 404 Not Found")


def with_fetcher(platform: Platform, fetcher: Any) -> Platform:
    return replace(platform, fetcher=fetcher)


def audit_actions(platform: Platform, actor: Actor) -> list[str]:
    with platform.reading() as session:
        return list(
            session.scalars(
                select(AuditLogRow.action)
                .where(AuditLogRow.actor == actor.audit_name)
                .order_by(AuditLogRow.id)
            )
        )


# --- claim by email link -------------------------------------------------------------------------


def test_claim_by_email_link_puts_the_credential_in_the_wallet(
    platform: Platform, seed_org: Callable[..., SeededOrg], mailer: MemoryMailer
) -> None:
    org = seed_org()
    record = issue(platform, org, "ada@example.org")
    url = claim_url(platform, mailer, "ada@example.org")
    assert url.startswith("https://merito.test/claim/")
    ada = learner(platform, "ada.lovelace@example.net")  # another address: the link is the proof
    item = wallet.claim(platform, ada, url.rsplit("/", 1)[1])
    assert item.created
    assert (item.source, item.format, item.credential_row_id) == ("claimed", "ob3", record.id)
    assert item.verdict == "valid", item.summary
    assert item.name == "SQL Fundamentals"
    assert item.credential_id == record.credential_id
    assert item.visibility == "private"
    with platform.reading() as session:
        claim_row = session.scalars(select(CredentialClaimRow)).one()
        assert claim_row.claimed_at == platform.clock.now()
        entry = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "wallet.claim_link_redeemed")
        ).one()
    assert entry.actor == ada.audit_name
    assert entry.details["recipient"] == "ada@example.org"
    assert entry.details["account_email"] == "ada.lovelace@example.net"
    assert [i.id for i in wallet.list_items(platform, ada)] == [item.id]


def test_claiming_twice_is_idempotent_and_another_account_is_refused(
    platform: Platform, seed_org: Callable[..., SeededOrg], mailer: MemoryMailer
) -> None:
    org = seed_org()
    issue(platform, org, "bo@example.org", proof_format="vc-jwt")
    token = claim_url(platform, mailer, "bo@example.org").rsplit("/", 1)[1]
    bo, eve = learner(platform), learner(platform)
    first = wallet.claim(platform, bo, token)
    assert first.format == "vc-jwt"
    assert first.raw is not None
    assert first.verdict == "valid"
    again = wallet.claim(platform, bo, token)
    assert (again.id, again.created) == (first.id, False)
    with pytest.raises(Conflict, match="already claimed by another account"):
        wallet.claim(platform, eve, token)
    assert wallet.list_items(platform, eve) == []
    # deleting it and claiming again restores it (the link stays the owner's)
    wallet.delete_item(platform, bo, first.id)
    assert wallet.claim(platform, bo, token).created
    with pytest.raises(Conflict):
        wallet.claim(platform, eve, token)


def test_unknown_or_revoked_claim_links_are_refused(
    platform: Platform, seed_org: Callable[..., SeededOrg], mailer: MemoryMailer
) -> None:
    org = seed_org()
    record = issue(platform, org, "cy@example.org")
    token = claim_url(platform, mailer, "cy@example.org").rsplit("/", 1)[1]
    cy = learner(platform)
    with pytest.raises(NotFound, match="claim link is not valid"):
        wallet.claim(platform, cy, token[:-2] + "xx")
    credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="error"
    )
    with pytest.raises(wallet.CredentialRevoked, match="revoked"):
        wallet.claim(platform, cy, token)


def test_machine_credentials_have_no_wallet(platform: Platform) -> None:
    robot = Actor(kind="api_key", id="k1", org_id="o1")
    with pytest.raises(PermissionDenied, match="signed-in learner"):
        wallet.list_items(platform, robot)


# --- re-verification on view ---------------------------------------------------------------------


def test_viewing_re_verifies_and_records_a_revocation(
    platform: Platform, seed_org: Callable[..., SeededOrg], mailer: MemoryMailer
) -> None:
    org = seed_org()
    record = issue(platform, org, "di@example.org")
    di = learner(platform)
    item = wallet.claim(
        platform, di, claim_url(platform, mailer, "di@example.org").rsplit("/", 1)[1]
    )
    assert wallet.get_item(platform, di, item.id).verdict == "valid"
    credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="exam fraud"
    )
    assert wallet.list_items(platform, di)[0].verdict == "valid"  # the stored report
    viewed = wallet.get_item(platform, di, item.id)
    assert viewed.verdict == "invalid"
    assert viewed.verification is not None
    status = next(c for c in viewed.verification["checks"] if c["id"] == "status")
    assert status["outcome"] == "fail"
    assert "revoked" in status["message"].lower()
    assert wallet.list_items(platform, di)[0].verdict == "invalid"
    assert "wallet.item_reverified" in audit_actions(platform, di)


# --- DID claims ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_challenge(key: Any, kid: str, payload: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": key.algorithm, "kid": kid}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = key.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{_b64(signature)}"


def test_claim_by_did_after_a_signed_challenge(
    platform: Platform, seed_org: Callable[..., SeededOrg], clock: Any
) -> None:
    key = generate_key("Ed25519", seed=bytes(32))
    did = create_did_key(key.public_key.to_multibase())
    kid = f"{did}#{did.removeprefix('did:key:')}"
    org = seed_org()
    issued = issue(platform, org, did, notify=False)
    issue(platform, org, "someone@example.org", notify=False)  # not theirs
    ed, eve = learner(platform), learner(platform)
    challenge = wallet.did_challenge(platform, ed, did)
    payload = {"nonce": challenge.challenge, "aud": challenge.audience}
    proof = sign_challenge(key, kid, payload)
    # a proof made for Ed's account is useless to Eve
    with pytest.raises(ProofError, match="another account"):
        wallet.claim_did(platform, eve, proof=proof)
    [item] = wallet.claim_did(platform, ed, proof=proof)
    assert (item.source, item.credential_row_id, item.verdict) == ("claimed", issued.id, "valid")
    [again] = wallet.claim_did(platform, ed, proof=proof)
    assert (again.id, again.created) == (item.id, False)
    # a wrong key, a wrong audience, an expired challenge
    other = generate_key("Ed25519", seed=bytes([1]) * 32)
    with pytest.raises(ProofError, match="does not verify"):
        wallet.claim_did(platform, ed, proof=sign_challenge(other, kid, payload))
    with pytest.raises(ProofError, match="aud"):
        wallet.claim_did(
            platform, ed, proof=sign_challenge(key, kid, {**payload, "aud": "https://evil.test"})
        )
    clock.advance(minutes=11)
    with pytest.raises(ProofError, match="expired"):
        wallet.claim_did(platform, ed, proof=proof)
    with pytest.raises(InvalidInput, match="did:key"):
        wallet.did_challenge(platform, ed, "did:web:example.org")
    assert "wallet.did_proven" in audit_actions(platform, ed)


# --- import: credentials Merito issued, exported and import --------------------------------------


@pytest.mark.parametrize("proof_format", ["eddsa-rdfc-2022", "eddsa-jcs-2022", "vc-jwt"])
def test_import_of_an_ob3_credential_and_its_tampered_copy(
    platform: Platform, seed_org: Callable[..., SeededOrg], proof_format: str
) -> None:
    org = seed_org()
    record = issue(platform, org, "fa@example.org", proof_format=proof_format, notify=False)
    fa = learner(platform)
    serialized = record.jwt or json.dumps(record.document)
    item = wallet.import_credential(platform, fa, data=serialized.encode())
    assert item.created
    assert item.source == "imported"
    assert item.format == ("vc-jwt" if proof_format == "vc-jwt" else "ob3")
    assert item.verdict == "valid", item.summary
    assert item.credential_row_id is None
    again = wallet.import_credential(platform, fa, data=serialized.encode())
    assert (again.id, again.created) == (item.id, False)
    if proof_format == "vc-jwt":
        header, payload, signature = serialized.split(".")
        forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    else:
        document = copy.deepcopy(record.document)
        document["credentialSubject"]["achievement"]["name"] = "SQL Grandmaster"
        forged = json.dumps(document)
    with pytest.raises(wallet.SignatureInvalid) as caught:
        wallet.import_credential(platform, fa, data=forged.encode())
    assert caught.value.code == "signature-invalid"
    assert len(wallet.list_items(platform, fa)) == 1


@pytest.mark.parametrize("image", ["png", "svg"])
def test_baked_badge_round_trip_through_import(
    platform: Platform, seed_org: Callable[..., SeededOrg], image: str
) -> None:
    org = seed_org()
    record = issue(platform, org, "gu@example.org", notify=False)
    if image == "png":
        baked = baking.bake_png((OB2 / "assets/robotics-badge.png").read_bytes(), record.document)
    else:
        svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>'
        baked = baking.bake_svg(svg, record.document)
    gu = learner(platform)
    item = wallet.import_credential(
        platform, gu, data=baked, filename=f"badge.{image}", content_type=f"image/{image}"
    )
    assert (item.format, item.verdict, item.credential_id) == ("ob3", "valid", record.credential_id)
    with pytest.raises(wallet.NotABadge, match="image"):
        wallet.import_credential(
            platform, gu, data=(OB2 / "assets/robotics-badge.png").read_bytes()
        )


def test_not_a_badge_messages(platform: Platform) -> None:
    ha = learner(platform)
    for data, words in [
        (b"", "empty"),
        (b"hello", "neither JSON"),
        (b'{"name": "x"}', "not a badge"),
        (b"\xff\xfe\x00", "neither text"),
        (b"[1, 2]", "neither JSON"),
    ]:
        with pytest.raises(wallet.NotABadge, match=words):
            wallet.import_credential(platform, ha, data=data)
    with pytest.raises(InvalidInput, match="either a file or a URL"):
        wallet.import_credential(platform, ha)


# --- import: third-party fixtures ----------------------------------------------------------------


def test_w3c_vectors_verify_but_their_issuer_does_not_own_the_key(platform: Platform) -> None:
    ia = learner(platform)
    with pytest.raises(wallet.IssuerMismatch):
        wallet.import_credential(
            platform, ia, data=(W3C / "eddsa-rdfc-2022/signedDataInt.json").read_bytes()
        )


def test_unknown_context_is_an_unsupported_format(platform: Platform) -> None:
    ia = learner(platform)
    with pytest.raises(wallet.UnsupportedFormat, match="context"):
        wallet.import_credential(
            platform, ia, data=(W3C / "eddsa-rdfc-2022/employ/signedDataInt.json").read_bytes()
        )


def test_ob3_key_that_cannot_be_fetched_is_unreachable(platform: Platform) -> None:
    ia = learner(platform)
    offline = with_fetcher(platform, FixtureFetcher())
    with pytest.raises(wallet.SourceUnreachable):
        wallet.import_credential(offline, ia, data=(OB3 / "simple.json").read_bytes())


def test_ob2_signed_assertions(platform: Platform) -> None:
    ja = learner(platform)
    fetcher = FixtureFetcher()
    online = with_fetcher(platform, fetcher)
    item = wallet.import_credential(online, ja, data=(OB2 / "simple.jwt").read_bytes())
    assert (item.format, item.verdict) == ("ob2-signed", "valid"), item.summary
    assert item.name == "Awesome Robotics Badge"
    assert item.issuer_id == "https://example.org/organization.json"
    assert item.issuer_name == "An Example Badge Issuer"
    assert "http://example.org/key1.json" in fetcher.fetched
    with pytest.raises(wallet.CredentialRevoked, match="A good reason, for sure"):
        wallet.import_credential(online, ja, data=(OB2 / "simple-revoked.jwt").read_bytes())
    # any change to the payload breaks the RS256 signature
    header, payload, signature = (OB2 / "simple.jwt").read_text().strip().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["issuedOn"] = "2017-01-01T00:00:00Z"
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(wallet.SignatureInvalid, match="signature is invalid"):
        wallet.import_credential(online, ja, data=forged.encode())
    # the key's server is down
    down = with_fetcher(
        platform,
        FixtureFetcher(
            {
                f"http://example.org/key{n}.json": FetchError("could not fetch: timed out")
                for n in (1, 2, 3)
            }
        ),
    )
    with pytest.raises(wallet.SourceUnreachable, match="timed out"):
        wallet.import_credential(down, ja, data=(OB2 / "simple-not-revoked.jwt").read_bytes())


def test_ob2_hosted_assertion_from_json_and_its_hosted_copy(platform: Platform) -> None:
    ka = learner(platform)
    hosted = (OB2 / "basic-assertion.json").read_bytes()
    url = "https://example.org/beths-robotics-badge.json"
    fetcher = FixtureFetcher({url: hosted})
    item = wallet.import_credential(with_fetcher(platform, fetcher), ka, data=hosted)
    assert (item.format, item.verdict) == ("ob2-hosted", "valid"), item.summary
    assert fetcher.fetched[0] == url  # the hosted copy is the authority
    # withdrawn by the issuer (410 Gone): revoked
    gone = FixtureFetcher({url: FetchError(f"fetching {url} failed: HTTP 410 Gone")})
    with pytest.raises(wallet.CredentialRevoked, match="withdrawn"):
        wallet.import_credential(with_fetcher(platform, gone), ka, data=hosted)
    # the copy at its id says it lives elsewhere: refused
    moved = FixtureFetcher({url: hosted.replace(url.encode(), b"https://example.org/x.json")})
    with pytest.raises(wallet.SignatureInvalid, match="not the URL it was fetched from"):
        wallet.import_credential(with_fetcher(platform, moved), ka, data=hosted)


def test_blockcerts_v2_and_v3_anchor_is_not_checked_offline(platform: Platform) -> None:
    la = learner(platform)
    for name, fmt in [
        ("v2/mocknet-valid-2.0.json", "blockcerts-v2"),
        ("v2/testnet-valid-2.0.json", "blockcerts-v2"),
        ("v3/testnet-v3-did.json", "blockcerts-v3"),
    ]:
        item = wallet.import_credential(platform, la, data=(BLOCKCERTS / name).read_bytes())
        assert (item.format, item.verdict) == (fmt, "indeterminate"), name
        assert item.verification is not None
        anchored = next(c for c in item.verification["checks"] if c["id"] == "anchored")
        assert anchored["outcome"] == "warning"
        assert anchored["message"].startswith("not checked (offline)")
        proof = next(c for c in item.verification["checks"] if c["id"] == "proof")
        assert proof["outcome"] == "pass"
    with pytest.raises(wallet.SignatureInvalid, match="changed"):
        wallet.import_credential(
            platform, la, data=(BLOCKCERTS / "v3/testnet-v3--tampered.json").read_bytes()
        )
    document = json.loads((BLOCKCERTS / "v2/mocknet-valid-2.0.json").read_text())
    document["recipientProfile"]["name"] = "Someone Else"
    with pytest.raises(wallet.SignatureInvalid, match="changed"):
        wallet.import_credential(platform, la, data=json.dumps(document).encode())


def test_vc_1_1_credential_signed_by_its_did_key_issuer(platform: Platform) -> None:
    # no published VC 1.1 vector verifies offline (1EdTech's need their issuers' servers):
    # a VC 1.1 document signed here with eddsa-rdfc-2022, then one changed byte
    key = generate_key("Ed25519", seed=bytes([7]) * 32)
    did = create_did_key(key.public_key.to_multibase())
    signer = Signer(key=key, verification_method=f"{did}#{did.removeprefix('did:key:')}")
    document = {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/data-integrity/v2",
        ],
        "id": "urn:uuid:5b1c3f0e-8f5e-4d0b-9a53-2f0d3c7d9e11",
        "type": ["VerifiableCredential"],
        "issuer": did,
        "issuanceDate": "2025-06-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:learner"},
    }
    signed = data_integrity.sign(document, signer=signer, created=START)
    ma = learner(platform)
    item = wallet.import_credential(platform, ma, data=json.dumps(signed).encode())
    assert (item.format, item.verdict, item.issuer_id) == ("vc1.1", "valid", did), item.summary
    assert item.verification is not None
    assert item.verification["data_model"] == "1.1"
    signed["issuanceDate"] = "2025-06-02T00:00:00Z"
    with pytest.raises(wallet.SignatureInvalid):
        wallet.import_credential(platform, ma, data=json.dumps(signed).encode())


# --- visibility, deletion, isolation -------------------------------------------------------------


def test_visibility_delete_and_other_users_get_not_found(platform: Platform) -> None:
    na, eve = learner(platform), learner(platform)
    item = wallet.import_credential(
        platform, na, data=(BLOCKCERTS / "v2/mocknet-valid-2.0.json").read_bytes()
    )
    for call in (
        lambda: wallet.get_item(platform, eve, item.id),
        lambda: wallet.set_visibility(platform, eve, item.id, "public"),
        lambda: wallet.delete_item(platform, eve, item.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert wallet.set_visibility(platform, na, item.id, "public").visibility == "public"
    with pytest.raises(InvalidInput, match="visibility"):
        wallet.set_visibility(platform, na, item.id, "friends")
    # the same certificate in two wallets is two items
    other = wallet.import_credential(
        platform, eve, data=(BLOCKCERTS / "v2/mocknet-valid-2.0.json").read_bytes()
    )
    assert other.id != item.id
    assert other.created
    wallet.delete_item(platform, na, item.id)
    assert wallet.list_items(platform, na) == []
    with platform.reading() as session:
        assert session.get(WalletItemRow, other.id) is not None
    assert audit_actions(platform, na) == [
        "wallet.item_imported",
        "wallet.visibility_changed",
        "wallet.item_deleted",
    ]


def test_the_demo_learner_has_claimed_credentials(platform: Platform) -> None:
    from merito.services import accounts, demo

    seed = demo.seed_demo(platform, password="demo password 1")
    ada_user = accounts.login(
        platform, email=demo.DEMO_LEARNERS[0], password="demo password 1", ip=None
    ).user
    ada = Actor(kind="user", id=ada_user.id, user_id=ada_user.id)
    items = wallet.list_items(platform, ada)
    assert sorted(i.id for i in items) == sorted(seed.wallet_items)
    assert len(items) == 3
    assert {i.format for i in items} == {"ob3", "vc-jwt"}
    assert {(i.source, i.verdict) for i in items} == {("claimed", "valid")}
    again = demo.seed_demo(platform, password="demo password 1")
    assert again.wallet_items == seed.wallet_items
    assert len(wallet.list_items(platform, ada)) == 3
    with pytest.raises(PermissionDenied, match="only the system"):
        wallet.claim_for_recipient_account(platform, ada, credential_row_id=seed.credentials[0].id)


def test_ob2_baked_png_and_svg_from_the_validator(platform: Platform) -> None:
    oa = learner(platform)
    png = (OB2 / "simple-badge.png").read_bytes()
    hosted = baking.extract(png).payload.encode()
    url = json.loads(hosted)["id"]
    online = with_fetcher(platform, FixtureFetcher({url: hosted}))
    item = wallet.import_credential(online, oa, data=png, content_type="image/png")
    assert (item.format, item.verdict) == ("ob2-hosted", "valid"), item.summary
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org">'
        b'<openbadges:assertion verify="'
        + url.encode()
        + b'"><![CDATA['
        + hosted
        + b"]]></openbadges:assertion></svg>"
    )
    other = learner(platform)
    from_svg = wallet.import_credential(online, other, data=svg, content_type="image/svg+xml")
    assert (from_svg.format, from_svg.verdict) == ("ob2-hosted", "valid"), from_svg.summary


def test_1edtech_baked_vc_jwt_signed_by_a_key_in_its_own_header(platform: Platform) -> None:
    pa = learner(platform)
    with pytest.raises(wallet.IssuerMismatch, match="its own header"):
        wallet.import_credential(
            platform, pa, data=(OB3 / "simple-jwt.png").read_bytes(), content_type="image/png"
        )


def test_import_by_the_public_url_of_a_merito_credential(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    record = issue(platform, org, "qi@example.org", notify=False)
    qi = learner(platform)
    # answered from this platform's database: no network (the platform has no fetcher)
    item = wallet.import_credential(platform, qi, url=record.credential_id)
    assert (item.format, item.verdict, item.credential_id) == ("ob3", "valid", record.credential_id)
    with pytest.raises(wallet.SourceUnreachable, match="HTTP 404"):
        wallet.import_credential(platform, qi, url=platform.url("/credentials/nope"))
    with pytest.raises(wallet.SourceUnreachable, match="does not fetch other sites"):
        wallet.import_credential(platform, qi, url="https://elsewhere.example/badge.json")


def test_an_oversized_credential_is_refused_before_verification(platform: Platform) -> None:
    ra = learner(platform)
    document = json.loads((BLOCKCERTS / "v2/mocknet-valid-2.0.json").read_text())
    document["padding"] = "x" * wallet.MAX_DOCUMENT_CHARS
    with pytest.raises(InvalidInput, match="the limit is 1,000,000"):
        wallet.import_credential(platform, ra, data=json.dumps(document).encode())
