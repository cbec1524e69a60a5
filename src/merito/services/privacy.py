"""A learner's data: everything Merito holds about them as JSON, and deleting their account.

``export_my_data`` returns the account, memberships, the whole wallet (each credential as
received), the portfolio, collections, share links (never their tokens: only hashes are
kept), the public half of the holder key and the learner's own audit trail.

``delete_account`` removes the person: the user row goes, and with it (foreign keys cascade)
their sessions, OAuth grants, memberships, wallet, portfolio, collections, share links and
holder key. What an issuer issued stays with the issuer (``credentials`` rows belong to the
organisation): the issuer can still revoke it, and its status list keeps answering verifiers.
The append-only audit log keeps the pseudonymous user id, not the email. A learner who is
the last owner of an organisation must hand it over first (Conflict), or it would be left
with no one able to manage it.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import func, select

from merito.errors import Conflict, InvalidInput, NotFound
from merito.services.platform import Actor, Platform, audit
from merito.services.sharing import require_user
from merito.storage.tables import AuditLogRow, MembershipRow, OrganisationRow, UserRow
from merito.storage.tables_sharing import (
    CollectionItemRow,
    CollectionRow,
    HolderKeyRow,
    PortfolioRow,
    ShareLinkRow,
)
from merito.storage.tables_wallet import WalletItemRow

__all__ = ["EXPORT_FORMAT", "delete_account", "export_my_data"]

EXPORT_FORMAT: Final = "merito-learner-export/1"
_MAX_AUDIT: Final = 10_000


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_my_data(platform: Platform, actor: Actor) -> dict[str, Any]:
    """Every piece of the learner's data, JSON-ready (GDPR Art. 15 and 20)."""
    user_id = require_user(actor)
    with platform.reading() as session:
        user = session.get(UserRow, user_id)
        if user is None:
            raise NotFound("no such user", property="user")
        memberships = session.execute(
            select(MembershipRow, OrganisationRow)
            .join(OrganisationRow, OrganisationRow.id == MembershipRow.org_id)
            .where(MembershipRow.user_id == user_id)
            .order_by(OrganisationRow.slug)
        ).all()
        items = session.scalars(
            select(WalletItemRow)
            .where(WalletItemRow.user_id == user_id)
            .order_by(WalletItemRow.created_at, WalletItemRow.id)
        ).all()
        portfolio = session.get(PortfolioRow, user_id)
        collections = session.scalars(
            select(CollectionRow)
            .where(CollectionRow.user_id == user_id)
            .order_by(CollectionRow.created_at, CollectionRow.id)
        ).all()
        members = {
            c.id: [
                i.wallet_item_id
                for i in session.scalars(
                    select(CollectionItemRow)
                    .where(CollectionItemRow.collection_id == c.id)
                    .order_by(CollectionItemRow.position)
                )
            ]
            for c in collections
        }
        links = session.scalars(
            select(ShareLinkRow)
            .where(ShareLinkRow.user_id == user_id)
            .order_by(ShareLinkRow.created_at, ShareLinkRow.id)
        ).all()
        key = session.scalars(
            select(HolderKeyRow).where(HolderKeyRow.user_id == user_id)
        ).one_or_none()
        trail = session.scalars(
            select(AuditLogRow)
            .where(AuditLogRow.actor == actor.audit_name)
            .order_by(AuditLogRow.at, AuditLogRow.id)
            .limit(_MAX_AUDIT)
        ).all()
        return {
            "format": EXPORT_FORMAT,
            "exported_at": _iso(platform.clock.now()),
            "account": {
                "id": user.id,
                "email": user.email,
                "created_at": _iso(user.created_at),
                "is_platform_admin": user.is_platform_admin,
            },
            "memberships": [
                {"org_id": o.id, "slug": o.slug, "name": o.name, "role": m.role}
                for m, o in memberships
            ],
            "wallet": [
                {
                    "id": i.id,
                    "source": i.source,
                    "format": i.format,
                    "name": i.name,
                    "issuer_id": i.issuer_id,
                    "issuer_name": i.issuer_name,
                    "credential_id": i.credential_id,
                    "visibility": i.visibility,
                    "verdict": i.verdict,
                    "verified_at": _iso(i.verified_at),
                    "created_at": _iso(i.created_at),
                    "document": i.document,
                    "raw": i.raw,
                    "verification": i.verification,
                }
                for i in items
            ],
            "portfolio": None
            if portfolio is None
            else {
                "handle": portfolio.handle,
                "enabled": portfolio.enabled,
                "display_name": portfolio.display_name,
                "headline": portfolio.headline,
                "url": platform.url(f"/p/{portfolio.handle}"),
            },
            "collections": [
                {
                    "id": c.id,
                    "name": c.name,
                    "description": c.description,
                    "public": c.public,
                    "item_ids": members[c.id],
                    "created_at": _iso(c.created_at),
                }
                for c in collections
            ],
            "share_links": [
                {
                    "id": link.id,
                    "target": link.target,
                    "wallet_item_id": link.wallet_item_id,
                    "collection_id": link.collection_id,
                    "label": link.label,
                    "created_at": _iso(link.created_at),
                    "expires_at": _iso(link.expires_at),
                    "revoked_at": _iso(link.revoked_at),
                    "view_count": link.view_count,
                    "last_viewed_at": _iso(link.last_viewed_at),
                }
                for link in links
            ],
            "holder_key": None
            if key is None
            else {
                "did": key.did,
                "verification_method": key.verification_method,
                "public_jwk": key.public_jwk,
                "created_at": _iso(key.created_at),
            },
            "activity": [
                {
                    "at": _iso(a.at),
                    "action": a.action,
                    "target": a.target,
                    "org_id": a.org_id,
                    "details": a.details,
                }
                for a in trail
            ],
        }


def delete_account(platform: Platform, actor: Actor, *, confirm_email: str) -> None:
    """Deletes the learner's account and personal data; ``confirm_email`` must be theirs.

    The credentials issued to them stay with their issuers, revocable as before.
    """
    user_id = require_user(actor)
    with platform.transaction() as session:
        user = session.get(UserRow, user_id, with_for_update=True)
        if user is None:
            raise NotFound("no such user", property="user")
        if confirm_email.strip().lower() != user.email:
            raise InvalidInput(
                "type your account's email address to confirm the deletion",
                property="confirm_email",
            )
        owned = session.scalars(
            select(MembershipRow.org_id).where(
                MembershipRow.user_id == user_id, MembershipRow.role == "owner"
            )
        ).all()
        for org_id in owned:
            owners = session.scalar(
                select(func.count())
                .select_from(MembershipRow)
                .where(MembershipRow.org_id == org_id, MembershipRow.role == "owner")
            )
            if (owners or 0) <= 1:
                org = session.get(OrganisationRow, org_id)
                slug = org.slug if org is not None else org_id
                raise Conflict(
                    f"you are the last owner of the organisation {slug!r}: make someone else "
                    "an owner (or delete the organisation) first",
                    property="organisation",
                )
        items = session.scalar(
            select(func.count()).select_from(WalletItemRow).where(WalletItemRow.user_id == user_id)
        )
        # the audit entry names the id only: the email is the personal data being removed
        audit(
            session,
            actor,
            action="account.deleted",
            org_id=None,
            target=f"user:{user_id}",
            at=platform.clock.now(),
            details={"wallet_items": int(items or 0)},
        )
        session.delete(user)
