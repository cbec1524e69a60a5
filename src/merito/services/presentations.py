"""Presentations: a learner's holder key (did:key), Verifiable Presentations, and CLR 2.0.

The holder key is an Ed25519 key made on first use, named by its did:key (so any verifier
resolves it offline) and kept sealed by the key store under the context
``["holder-key", user_id, did]``: the database alone never reveals it, and a sealed key
copied to another learner's row does not open.

``create_presentation`` signs a W3C VC 2.0 ``VerifiablePresentation`` of chosen wallet items
with the holder key, proof purpose ``authentication`` and the verifier's ``challenge`` and
``domain`` (VC Data Integrity 1.0 §2.1): the verifier knows it is fresh and meant for it.

``export_clr`` issues the learner's whole record as a CLR 2.0 ``ClrCredential``. CLR 2.0 §4
lets the publisher of a CLR be any party that assembles the learner's achievements; here the
publisher is the learner's wallet itself, so the CLR is issued and signed by the holder's
did:key: it proves the learner assembled it, and each embedded AchievementCredential keeps its
own issuer's proof (the credential that carries the trust). Merito has no platform-wide
signing key, and signing with an issuer's key would claim that issuer vouches for
achievements from others.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

from sqlalchemy import select

from merito.domain.ports_storage import SealedSecret
from merito.errors import Conflict, InvalidInput, NotFound
from merito.formats.did_key import create_did_key
from merito.formats.ob3 import VC2_CONTEXT
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key, private_key_from_jwk, private_key_to_jwk
from merito.services import analytics
from merito.services.platform import Actor, Platform, audit, new_id
from merito.services.sharing import require_user, wallet_item_row
from merito.storage.tables import UserRow
from merito.storage.tables_sharing import HolderKeyRow, PortfolioRow
from merito.storage.tables_wallet import WalletItemRow

__all__ = [
    "CLR_CONTEXT",
    "MAX_PRESENTED",
    "HolderKey",
    "create_presentation",
    "export_clr",
    "holder_key",
    "holder_signer",
]

CLR_CONTEXT: Final = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
OB3_CONTEXT_FOR_CLR: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MAX_PRESENTED: Final = 100
_MAX_CHALLENGE: Final = 500
Suite = Literal["eddsa-jcs-2022", "eddsa-rdfc-2022"]


@dataclass(frozen=True, slots=True)
class HolderKey:
    did: str
    verification_method: str
    public_key_multibase: str


def _context(user_id: str, did: str) -> list[str]:
    return ["holder-key", user_id, did]


def _key(row: HolderKeyRow) -> HolderKey:
    return HolderKey(
        did=row.did,
        verification_method=row.verification_method,
        public_key_multibase=row.verification_method.split("#", 1)[1],
    )


def _row(platform: Platform, user_id: str) -> HolderKeyRow:
    """The learner's holder key row, made (and committed) on first use."""
    with platform.reading() as session:
        row = session.scalars(
            select(HolderKeyRow).where(HolderKeyRow.user_id == user_id)
        ).one_or_none()
        if row is not None:
            return row
    key = generate_key("Ed25519")
    multikey = key.public_key.to_multibase()
    did = create_did_key(multikey)
    sealed = platform.keystore.seal(
        json.dumps(private_key_to_jwk(key), sort_keys=True).encode(),
        context=_context(user_id, did),
    )
    try:
        with platform.transaction() as session:
            if session.get(UserRow, user_id) is None:
                raise NotFound("no such user", property="user")
            row = HolderKeyRow(
                id=new_id(),
                user_id=user_id,
                did=did,
                verification_method=f"{did}#{multikey}",
                algorithm=key.algorithm,
                public_jwk=key.public_key.to_jwk(),
                encrypted_private_key=sealed.ciphertext,
                nonce=sealed.nonce,
                master_key_id=sealed.master_key_id,
                created_at=platform.clock.now(),
            )
            session.add(row)
            session.flush()
            audit(
                session,
                Actor.system(),
                action="holder_key.created",
                org_id=None,
                target=did,
                at=platform.clock.now(),
                details={"user_id": user_id, "reason": "first use"},
            )
            session.expunge(row)
            return row
    except Conflict:
        # a concurrent first use made it: use that one
        with platform.reading() as session:
            found = session.scalars(
                select(HolderKeyRow).where(HolderKeyRow.user_id == user_id)
            ).one_or_none()
        if found is None:
            raise
        return found


def holder_key(platform: Platform, actor: Actor) -> HolderKey:
    """The learner's holder DID and key (made on first use)."""
    return _key(_row(platform, require_user(actor)))


def holder_signer(platform: Platform, actor: Actor) -> Signer:
    """The signer of the learner's holder key; the private key is unsealed only here."""
    user_id = require_user(actor)
    row = _row(platform, user_id)
    plaintext = platform.keystore.unseal(
        SealedSecret(
            ciphertext=bytes(row.encrypted_private_key),
            nonce=bytes(row.nonce),
            master_key_id=row.master_key_id,
        ),
        context=_context(user_id, row.did),
    )
    key = private_key_from_jwk(json.loads(plaintext))
    if key.public_key.to_jwk() != row.public_jwk:
        raise InvalidInput("the holder key does not match its public key", property="holder_key")
    return Signer(key=key, verification_method=row.verification_method)


def _presented(row: WalletItemRow) -> dict[str, Any]:
    """The credential as presented: an embedded-proof document, or a VC-JWT enveloped
    (VC 2.0 §4.13: ``EnvelopedVerifiableCredential`` with a ``data:`` URL)."""
    if row.raw is not None and row.format == "vc-jwt":
        return {
            "@context": VC2_CONTEXT,
            "id": "data:application/vc+jwt," + quote(row.raw, safe=".-_~"),
            "type": "EnvelopedVerifiableCredential",
        }
    return dict(row.document)


def _check_option(value: str | None, prop: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_CHALLENGE:
        raise InvalidInput(f"{prop} must be 1 to {_MAX_CHALLENGE} characters", property=prop)
    return value


def create_presentation(
    platform: Platform,
    actor: Actor,
    *,
    item_ids: Sequence[str],
    challenge: str | None,
    domain: str | None,
    cryptosuite: Suite = "eddsa-jcs-2022",
) -> dict[str, Any]:
    """A VP of the learner's items, signed by their holder key for ``challenge``/``domain``.

    eddsa-jcs-2022 by default: it signs the JSON as is, so credentials with contexts of their
    own travel unchanged; eddsa-rdfc-2022 is available for verifiers that want RDF.
    """
    user_id = require_user(actor)
    challenge = _check_option(challenge, "challenge")
    domain = _check_option(domain, "domain")
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise InvalidInput("choose at least one credential to present", property="item_ids")
    if len(ids) > MAX_PRESENTED:
        raise InvalidInput(
            f"at most {MAX_PRESENTED} credentials in one presentation", property="item_ids"
        )
    if cryptosuite not in ("eddsa-jcs-2022", "eddsa-rdfc-2022"):
        raise InvalidInput(
            "cryptosuite must be eddsa-jcs-2022 or eddsa-rdfc-2022", property="cryptosuite"
        )
    with platform.reading() as session:
        rows = [wallet_item_row(session, user_id, i) for i in ids]
        for row in rows:
            if not row.format.startswith(("ob3", "vc")):
                raise InvalidInput(
                    f"{row.name!r} is a {row.format} badge, not a W3C verifiable credential: "
                    "it cannot go in a presentation (share a link to it instead)",
                    property="item_ids",
                )
        credentials = [_presented(row) for row in rows]
        presented_ids = [row.credential_id for row in rows]
    signer = holder_signer(platform, actor)
    presentation: dict[str, Any] = {
        "@context": [VC2_CONTEXT],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiablePresentation"],
        "holder": signer.controller,
        "verifiableCredential": credentials,
    }
    signed = data_integrity.sign(
        presentation,
        signer=signer,
        cryptosuite=cryptosuite,
        created=platform.clock.now(),
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )
    with platform.transaction() as session:
        audit(
            session,
            actor,
            action="presentation.created",
            org_id=None,
            target=signed["id"],
            at=platform.clock.now(),
            details={"items": ids, "domain": domain, "holder": signer.controller},
        )
    for credential_id in presented_ids:  # the issuers' dashboards: a share
        analytics.record_share(platform, credential_id)
    return signed


# --- CLR 2.0 -----------------------------------------------------------------------------------


def _achievement_of(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    subject = document.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if isinstance(achievement, Mapping):
        return achievement
    return None


def export_clr(
    platform: Platform, actor: Actor, *, item_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """The learner's record (every Open Badges item, or ``item_ids``) as a signed
    ``ClrCredential`` (CLR 2.0 §B.1.3), issued by the holder's did:key.

    Only OB 3.0 credentials with embedded proofs are included (``ClrSubject.verifiableCredential``
    holds AchievementCredentials, CLR 2.0 §B.1.4); the achievements are listed beside them.
    """
    user_id = require_user(actor)
    with platform.reading() as session:
        if item_ids is None:
            rows = list(
                session.scalars(
                    select(WalletItemRow)
                    .where(WalletItemRow.user_id == user_id)
                    .order_by(WalletItemRow.created_at, WalletItemRow.id)
                )
            )
        else:
            rows = [wallet_item_row(session, user_id, i) for i in dict.fromkeys(item_ids)]
        portfolio = session.get(PortfolioRow, user_id)
        learner_name = portfolio.display_name if portfolio and portfolio.display_name else None
    included = [
        dict(r.document)
        for r in rows
        if r.format == "ob3" and r.raw is None and "proof" in r.document
    ]
    if not included:
        raise InvalidInput(
            "your wallet has no Open Badges 3.0 credential to put in a CLR", property="item_ids"
        )
    signer = holder_signer(platform, actor)
    now = platform.clock.now()
    achievements: list[dict[str, Any]] = []
    seen: set[str] = set()
    for document in included:
        achievement = _achievement_of(document)
        if achievement is None:
            continue
        key = str(achievement.get("id") or json.dumps(achievement, sort_keys=True))
        if key not in seen:
            seen.add(key)
            achievements.append(dict(achievement))
    issuer: dict[str, Any] = {"id": signer.controller, "type": ["Profile"]}
    issuer["name"] = learner_name or "Learner wallet (Merito)"
    clr: dict[str, Any] = {
        "@context": [VC2_CONTEXT, CLR_CONTEXT, OB3_CONTEXT_FOR_CLR],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": issuer,
        "name": f"Comprehensive Learner Record of {learner_name}"
        if learner_name
        else "Comprehensive Learner Record",
        "description": f"{len(included)} achievement credential"
        f"{'s' if len(included) != 1 else ''} assembled by the learner's wallet.",
        "validFrom": data_integrity.format_datetime(now),
        "credentialSubject": {
            "id": signer.controller,
            "type": ["ClrSubject"],
            "verifiableCredential": included,
            "achievement": achievements,
        },
    }
    signed = data_integrity.sign(clr, signer=signer, cryptosuite="eddsa-rdfc-2022", created=now)
    with platform.transaction() as session:
        audit(
            session,
            actor,
            action="clr.exported",
            org_id=None,
            target=signed["id"],
            at=now,
            details={"credentials": len(included)},
        )
    return signed
