"""Sharing a learner's wallet: the public portfolio, collections, share links, skills, LinkedIn.

Everything here is the learner's own: the actor must be a user, and another learner's
collection, link or wallet item is NotFound (never PermissionDenied). Nothing is public until
the learner says so: the portfolio page is off until enabled, and it shows only the wallet
items marked ``public`` and the collections marked public. A share link is the learner's
explicit consent for what it names (one item, one collection, or the portfolio page, even when
that page is not listed); it keeps only the SHA-256 of its token, can expire, can be revoked,
and counts its views.

The skill summary counts only credentials that stand today: the last verification said
``valid``, the issuer has not revoked or suspended it (read live for credentials Merito issued)
and it has not expired. A skill is an OB 3.0 ``alignment`` of the credential's achievement.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlencode, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from merito.errors import Conflict, InvalidInput, NotFound
from merito.services.platform import Actor, Platform, audit, new_id
from merito.storage.tables import CredentialRow
from merito.storage.tables_sharing import (
    CollectionItemRow,
    CollectionRow,
    PortfolioRow,
    ShareLinkRow,
)
from merito.storage.tables_wallet import WalletItemRow
from merito.verification.pipeline import parse_datetime

__all__ = [
    "MAX_COLLECTION_ITEMS",
    "Collection",
    "LinkedInLinks",
    "Portfolio",
    "PortfolioSettings",
    "PublicPortfolio",
    "ShareLink",
    "SharedItem",
    "SharedView",
    "Skill",
    "add_to_collection",
    "create_collection",
    "create_share_link",
    "delete_collection",
    "get_collection",
    "get_portfolio_settings",
    "item_standing",
    "linkedin_links",
    "list_collections",
    "list_share_links",
    "my_items",
    "preview_portfolio",
    "public_portfolio",
    "remove_from_collection",
    "require_user",
    "resolve_share_link",
    "revoke_share_link",
    "skill_summary",
    "update_collection",
    "update_portfolio",
    "wallet_item_row",
]

MAX_COLLECTION_ITEMS: Final = 500
MAX_LINKS: Final = 500
_HANDLE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
#: handles that would read as Merito's own pages
_RESERVED: Final = frozenset(
    {"admin", "api", "app", "help", "login", "logout", "me", "merito", "settings", "support"}
)
_LINKEDIN_ADD: Final = "https://www.linkedin.com/profile/add"
_LINKEDIN_SHARE: Final = "https://www.linkedin.com/sharing/share-offsite/"
ShareTarget = Literal["item", "collection", "portfolio"]
Standing = Literal["valid", "revoked", "suspended", "expired", "unverified", "invalid"]


# --- values handed to adapters -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SharedItem:
    """A wallet item as shown to its owner or, when shared, to anyone."""

    id: str
    name: str
    issuer_name: str | None
    issuer_id: str | None
    format: str
    credential_id: str | None
    visibility: str
    #: the last verification's verdict (valid, invalid, indeterminate) and when
    verdict: str | None
    verified_at: datetime | None
    #: whether it stands today (revocation and expiry read now), see ``item_standing``
    standing: Standing
    document: dict[str, Any]
    #: the compact JWT when it came as one
    raw: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Skill:
    """A skill (an achievement alignment) and the standing credentials that attest it."""

    name: str
    url: str | None
    code: str | None
    framework: str | None
    count: int
    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PortfolioSettings:
    handle: str | None
    enabled: bool
    display_name: str | None
    headline: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    name: str
    description: str | None
    public: bool
    item_ids: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PublicCollection:
    id: str
    name: str
    description: str | None
    items: tuple[SharedItem, ...]


@dataclass(frozen=True, slots=True)
class PublicPortfolio:
    """What the public page (and a portfolio share link) shows."""

    handle: str
    display_name: str | None
    headline: str | None
    url: str
    items: tuple[SharedItem, ...]
    collections: tuple[PublicCollection, ...]
    skills: tuple[Skill, ...]


#: the owner's own portfolio view is the same shape
Portfolio = PublicPortfolio


@dataclass(frozen=True, slots=True)
class ShareLink:
    id: str
    target: ShareTarget
    wallet_item_id: str | None
    collection_id: str | None
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    view_count: int
    last_viewed_at: datetime | None
    #: only when the link is created: the token is never stored
    url: str | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class SharedView:
    """What a share link shows: exactly one of ``item``, ``collection``, ``portfolio``."""

    target: ShareTarget
    view_count: int
    item: SharedItem | None = None
    collection: PublicCollection | None = None
    portfolio: PublicPortfolio | None = None
    skills: tuple[Skill, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class LinkedInLinks:
    """LinkedIn's "Add to profile" (a certification) and "share" URLs, filled from the item."""

    add_to_profile: str
    share: str | None
    cert_url: str | None


# --- helpers -----------------------------------------------------------------------------------


def require_user(actor: Actor) -> str:
    """The learner's user id; machine credentials have no wallet (NotFound, like any other)."""
    if actor.kind != "user" or actor.user_id is None:
        raise NotFound("only a signed-in learner has a wallet", property="user")
    return actor.user_id


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: str | None, prop: str, *, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise InvalidInput(f"{prop} is longer than {limit} characters", property=prop)
    return value


def wallet_item_row(session: Session, user_id: str, item_id: str) -> WalletItemRow:
    """The learner's wallet item; another learner's is NotFound."""
    row = session.get(WalletItemRow, item_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no wallet item {item_id!r}", property="item_id")
    return row


def _collection_row(session: Session, user_id: str, collection_id: str) -> CollectionRow:
    row = session.get(CollectionRow, collection_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no collection {collection_id!r}", property="collection_id")
    return row


def _expiry(document: Mapping[str, Any]) -> datetime | None:
    value = document.get("validUntil", document.get("expirationDate"))
    return parse_datetime(value) if value is not None else None


def item_standing(row: WalletItemRow, issued: CredentialRow | None, now: datetime) -> Standing:
    """Whether the credential stands now: verified, not revoked or suspended, not expired.

    For a credential Merito issued, ``issued`` is its row: revocation is read live rather than
    from the last verification report.
    """
    if issued is not None:
        if issued.revoked_at is not None:
            return "revoked"
        if issued.suspended:
            return "suspended"
        if issued.valid_until is not None and issued.valid_until <= now:
            return "expired"
    expiry = _expiry(row.document)
    if expiry is not None and expiry <= now:
        return "expired"
    if row.verdict is None:
        return "unverified"
    if row.verdict != "valid":
        return "invalid"
    return "valid"


def _items(session: Session, rows: Sequence[WalletItemRow], now: datetime) -> list[SharedItem]:
    ids = [r.credential_row_id for r in rows if r.credential_row_id is not None]
    issued = (
        {c.id: c for c in session.scalars(select(CredentialRow).where(CredentialRow.id.in_(ids)))}
        if ids
        else {}
    )
    return [
        SharedItem(
            id=r.id,
            name=r.name,
            issuer_name=r.issuer_name,
            issuer_id=r.issuer_id,
            format=r.format,
            credential_id=r.credential_id,
            visibility=r.visibility,
            verdict=r.verdict,
            verified_at=r.verified_at,
            standing=item_standing(
                r, issued.get(r.credential_row_id) if r.credential_row_id else None, now
            ),
            document=dict(r.document),
            raw=r.raw,
            created_at=r.created_at,
        )
        for r in rows
    ]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _achievements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = []
    for subject in _as_list(document.get("credentialSubject")):
        if isinstance(subject, Mapping) and isinstance(subject.get("achievement"), Mapping):
            out.append(subject["achievement"])
    return out


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def skill_summary(items: Iterable[SharedItem]) -> tuple[Skill, ...]:
    """Skills attested by the items that stand (``valid``), most attested first.

    Two alignments are one skill when they share a ``targetUrl``, else a framework and
    ``targetCode``, else a name (case-insensitive). Pure: no I/O.
    """
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.standing != "valid":
            continue
        for achievement in _achievements(item.document):
            for alignment in _as_list(achievement.get("alignment")):
                if not isinstance(alignment, Mapping):
                    continue
                name = _str(alignment.get("targetName"))
                url = _str(alignment.get("targetUrl"))
                code = _str(alignment.get("targetCode"))
                framework = _str(alignment.get("targetFramework"))
                if name is None:
                    continue
                if url is not None:
                    key = "url:" + url
                elif code is not None:
                    key = f"code:{(framework or '').lower()}:{code}"
                else:
                    key = "name:" + name.casefold()
                entry = found.setdefault(
                    key,
                    {"name": name, "url": url, "code": code, "framework": framework, "items": []},
                )
                if item.id not in entry["items"]:
                    entry["items"].append(item.id)
    skills = [
        Skill(
            name=e["name"],
            url=e["url"],
            code=e["code"],
            framework=e["framework"],
            count=len(e["items"]),
            item_ids=tuple(e["items"]),
        )
        for e in found.values()
    ]
    return tuple(sorted(skills, key=lambda s: (-s.count, s.name.casefold())))


# --- wallet items: what the learner sees and shows (visibility is merito.services.wallet's) ----


def my_items(platform: Platform, actor: Actor) -> list[SharedItem]:
    """Every item of the learner's wallet, newest first, with its standing today."""
    user_id = require_user(actor)
    with platform.reading() as session:
        rows = list(
            session.scalars(
                select(WalletItemRow)
                .where(WalletItemRow.user_id == user_id)
                .order_by(WalletItemRow.created_at.desc(), WalletItemRow.id)
            )
        )
        return _items(session, rows, platform.clock.now())


# --- the portfolio ---------------------------------------------------------------------------


def _settings(platform: Platform, row: PortfolioRow | None) -> PortfolioSettings:
    if row is None:
        return PortfolioSettings(
            handle=None, enabled=False, display_name=None, headline=None, url=None
        )
    return PortfolioSettings(
        handle=row.handle,
        enabled=row.enabled,
        display_name=row.display_name,
        headline=row.headline,
        url=platform.url(f"/p/{row.handle}"),
    )


def get_portfolio_settings(platform: Platform, actor: Actor) -> PortfolioSettings:
    user_id = require_user(actor)
    with platform.reading() as session:
        return _settings(platform, session.get(PortfolioRow, user_id))


def _check_handle(handle: str) -> str:
    handle = handle.strip().lower()
    if not _HANDLE.match(handle):
        raise InvalidInput(
            "handle must be 3 to 40 lower-case letters, digits or hyphens, "
            "starting and ending with a letter or digit",
            property="handle",
        )
    if handle in _RESERVED:
        raise Conflict(f"the handle {handle!r} is reserved", property="handle")
    return handle


def update_portfolio(
    platform: Platform,
    actor: Actor,
    *,
    handle: str | None = None,
    enabled: bool | None = None,
    display_name: str | None = None,
    headline: str | None = None,
) -> PortfolioSettings:
    """Sets the portfolio's handle, name, headline, and turns the public page on or off.

    Enabling needs a handle (the page's URL). A taken handle is a Conflict.
    """
    user_id = require_user(actor)
    with platform.transaction() as session:
        row = session.get(PortfolioRow, user_id)
        new_handle = _check_handle(handle) if handle is not None else None
        if row is None:
            if new_handle is None:
                raise InvalidInput("choose a handle for your portfolio first", property="handle")
            row = PortfolioRow(user_id=user_id, handle=new_handle, enabled=False)
            session.add(row)
        elif new_handle is not None:
            row.handle = new_handle
        if new_handle is not None:
            taken = session.scalar(
                select(PortfolioRow.user_id).where(
                    PortfolioRow.handle == new_handle, PortfolioRow.user_id != user_id
                )
            )
            if taken is not None:
                raise Conflict(f"the handle {new_handle!r} is taken", property="handle")
        if enabled is not None:
            row.enabled = enabled
        if display_name is not None:
            row.display_name = _text(display_name, "display_name", limit=200)
        if headline is not None:
            row.headline = _text(headline, "headline", limit=300)
        row.updated_at = platform.clock.now()
        session.flush()
        audit(
            session,
            actor,
            action="portfolio.updated",
            org_id=None,
            target=f"portfolio:{row.handle}",
            at=platform.clock.now(),
            details={"enabled": row.enabled, "handle": row.handle},
        )
        return _settings(platform, row)


def _portfolio_view(session: Session, platform: Platform, row: PortfolioRow) -> PublicPortfolio:
    now = platform.clock.now()
    items = _items(
        session,
        list(
            session.scalars(
                select(WalletItemRow)
                .where(WalletItemRow.user_id == row.user_id, WalletItemRow.visibility == "public")
                .order_by(WalletItemRow.created_at.desc(), WalletItemRow.id)
            )
        ),
        now,
    )
    collections = []
    for collection in session.scalars(
        select(CollectionRow)
        .where(CollectionRow.user_id == row.user_id, CollectionRow.public.is_(True))
        .order_by(CollectionRow.created_at, CollectionRow.id)
    ):
        collections.append(_public_collection(session, collection, now, public_only=True))
    return PublicPortfolio(
        handle=row.handle,
        display_name=row.display_name,
        headline=row.headline,
        url=platform.url(f"/p/{row.handle}"),
        items=tuple(items),
        collections=tuple(collections),
        skills=skill_summary(items),
    )


def public_portfolio(platform: Platform, handle: str) -> PublicPortfolio:
    """``GET /p/{handle}``: the enabled portfolio's public items, collections and skills."""
    with platform.reading() as session:
        row = session.scalars(
            select(PortfolioRow).where(PortfolioRow.handle == handle.strip().lower())
        ).one_or_none()
        if row is None or not row.enabled:
            raise NotFound(f"no public portfolio {handle!r}", property="handle")
        return _portfolio_view(session, platform, row)


def preview_portfolio(platform: Platform, actor: Actor) -> PublicPortfolio:
    """Exactly what the public page shows (or would show, once enabled): the learner checks
    what is public before, and after, turning it on."""
    user_id = require_user(actor)
    with platform.reading() as session:
        row = session.get(PortfolioRow, user_id)
        if row is None:
            raise NotFound("you have no portfolio yet: choose a handle", property="handle")
        return _portfolio_view(session, platform, row)


# --- collections ---------------------------------------------------------------------------


def _collection_items(session: Session, collection_id: str) -> list[WalletItemRow]:
    return list(
        session.scalars(
            select(WalletItemRow)
            .join(CollectionItemRow, CollectionItemRow.wallet_item_id == WalletItemRow.id)
            .where(CollectionItemRow.collection_id == collection_id)
            .order_by(CollectionItemRow.position, WalletItemRow.id)
        )
    )


def _collection(session: Session, row: CollectionRow) -> Collection:
    return Collection(
        id=row.id,
        name=row.name,
        description=row.description,
        public=row.public,
        item_ids=tuple(i.id for i in _collection_items(session, row.id)),
        created_at=row.created_at,
    )


def _public_collection(
    session: Session, row: CollectionRow, now: datetime, *, public_only: bool
) -> PublicCollection:
    rows = _collection_items(session, row.id)
    if public_only:  # on the portfolio page a private item stays private inside a collection
        rows = [r for r in rows if r.visibility == "public"]
    return PublicCollection(
        id=row.id,
        name=row.name,
        description=row.description,
        items=tuple(_items(session, rows, now)),
    )


def create_collection(
    platform: Platform,
    actor: Actor,
    *,
    name: str,
    description: str | None = None,
    public: bool = False,
    item_ids: Sequence[str] = (),
) -> Collection:
    user_id = require_user(actor)
    clean = _text(name, "name", limit=200)
    if clean is None:
        raise InvalidInput("a collection needs a name", property="name")
    with platform.transaction() as session:
        row = CollectionRow(
            id=new_id(),
            user_id=user_id,
            name=clean,
            description=_text(description, "description", limit=5000),
            public=public,
            created_at=platform.clock.now(),
        )
        session.add(row)
        session.flush()
        for position, item_id in enumerate(dict.fromkeys(item_ids)):
            wallet_item_row(session, user_id, item_id)
            session.add(
                CollectionItemRow(collection_id=row.id, wallet_item_id=item_id, position=position)
            )
        session.flush()
        audit(
            session,
            actor,
            action="collection.created",
            org_id=None,
            target=f"collection:{row.id}",
            at=platform.clock.now(),
        )
        return _collection(session, row)


def list_collections(platform: Platform, actor: Actor) -> list[Collection]:
    user_id = require_user(actor)
    with platform.reading() as session:
        rows = session.scalars(
            select(CollectionRow)
            .where(CollectionRow.user_id == user_id)
            .order_by(CollectionRow.created_at, CollectionRow.id)
        )
        return [_collection(session, r) for r in rows]


def get_collection(platform: Platform, actor: Actor, collection_id: str) -> Collection:
    user_id = require_user(actor)
    with platform.reading() as session:
        return _collection(session, _collection_row(session, user_id, collection_id))


def update_collection(
    platform: Platform,
    actor: Actor,
    *,
    collection_id: str,
    name: str | None = None,
    description: str | None = None,
    public: bool | None = None,
) -> Collection:
    user_id = require_user(actor)
    with platform.transaction() as session:
        row = _collection_row(session, user_id, collection_id)
        if name is not None:
            clean = _text(name, "name", limit=200)
            if clean is None:
                raise InvalidInput("a collection needs a name", property="name")
            row.name = clean
        if description is not None:
            row.description = _text(description, "description", limit=5000)
        if public is not None:
            row.public = public
        audit(
            session,
            actor,
            action="collection.updated",
            org_id=None,
            target=f"collection:{row.id}",
            at=platform.clock.now(),
        )
        session.flush()
        return _collection(session, row)


def delete_collection(platform: Platform, actor: Actor, collection_id: str) -> None:
    """Deletes the collection (its share links stop working); the wallet items stay."""
    user_id = require_user(actor)
    with platform.transaction() as session:
        row = _collection_row(session, user_id, collection_id)
        session.delete(row)
        audit(
            session,
            actor,
            action="collection.deleted",
            org_id=None,
            target=f"collection:{collection_id}",
            at=platform.clock.now(),
        )


def add_to_collection(
    platform: Platform, actor: Actor, *, collection_id: str, item_id: str
) -> Collection:
    user_id = require_user(actor)
    with platform.transaction() as session:
        row = _collection_row(session, user_id, collection_id)
        wallet_item_row(session, user_id, item_id)
        existing = session.get(CollectionItemRow, (collection_id, item_id))
        if existing is None:
            count, last = session.execute(
                select(func.count(), func.max(CollectionItemRow.position)).where(
                    CollectionItemRow.collection_id == collection_id
                )
            ).one()
            if count >= MAX_COLLECTION_ITEMS:
                raise Conflict(
                    f"a collection holds at most {MAX_COLLECTION_ITEMS} items",
                    property="item_id",
                )
            session.add(
                CollectionItemRow(
                    collection_id=collection_id,
                    wallet_item_id=item_id,
                    position=(last if last is not None else -1) + 1,
                )
            )
            session.flush()
        return _collection(session, row)


def remove_from_collection(
    platform: Platform, actor: Actor, *, collection_id: str, item_id: str
) -> Collection:
    user_id = require_user(actor)
    with platform.transaction() as session:
        row = _collection_row(session, user_id, collection_id)
        wallet_item_row(session, user_id, item_id)
        existing = session.get(CollectionItemRow, (collection_id, item_id))
        if existing is not None:  # removing an item that is not there is done already
            session.delete(existing)
            session.flush()
        return _collection(session, row)


# --- share links -------------------------------------------------------------------------------


def _link(row: ShareLinkRow, url: str | None = None) -> ShareLink:
    target: ShareTarget = (
        "item"
        if row.target == "item"
        else "collection"
        if row.target == "collection"
        else "portfolio"
    )
    return ShareLink(
        id=row.id,
        target=target,
        wallet_item_id=row.wallet_item_id,
        collection_id=row.collection_id,
        label=row.label,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        view_count=row.view_count,
        last_viewed_at=row.last_viewed_at,
        url=url,
    )


def create_share_link(
    platform: Platform,
    actor: Actor,
    *,
    target: str,
    item_id: str | None = None,
    collection_id: str | None = None,
    expires_at: datetime | None = None,
    label: str | None = None,
) -> ShareLink:
    """A new link to an item, a collection or the portfolio; its ``url`` is shown only now."""
    user_id = require_user(actor)
    now = platform.clock.now()
    if target not in ("item", "collection", "portfolio"):
        raise InvalidInput("target must be 'item', 'collection' or 'portfolio'", property="target")
    if (target == "item") != (item_id is not None):
        raise InvalidInput("give item_id exactly when target is 'item'", property="item_id")
    if (target == "collection") != (collection_id is not None):
        raise InvalidInput(
            "give collection_id exactly when target is 'collection'", property="collection_id"
        )
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone", property="expires_at")
        if expires_at <= now:
            raise InvalidInput("expires_at must be in the future", property="expires_at")
    with platform.transaction() as session:
        if item_id is not None:
            wallet_item_row(session, user_id, item_id)
        if collection_id is not None:
            _collection_row(session, user_id, collection_id)
        if target == "portfolio" and session.get(PortfolioRow, user_id) is None:
            raise InvalidInput(
                "set up your portfolio (choose a handle) before sharing it", property="target"
            )
        live = session.scalar(
            select(func.count())
            .select_from(ShareLinkRow)
            .where(ShareLinkRow.user_id == user_id, ShareLinkRow.revoked_at.is_(None))
        )
        if (live or 0) >= MAX_LINKS:
            raise Conflict(f"at most {MAX_LINKS} live share links; revoke some", property="target")
        token = secrets.token_urlsafe(24)
        row = ShareLinkRow(
            id=new_id(),
            user_id=user_id,
            token_hash=_token_hash(token),
            target=target,
            wallet_item_id=item_id,
            collection_id=collection_id,
            label=_text(label, "label", limit=200),
            created_at=now,
            expires_at=expires_at,
            view_count=0,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="share_link.created",
            org_id=None,
            target=f"share-link:{row.id}",
            at=now,
            details={
                "target": target,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
        return _link(row, platform.url(f"/s/{token}"))


def list_share_links(platform: Platform, actor: Actor) -> list[ShareLink]:
    user_id = require_user(actor)
    with platform.reading() as session:
        rows = session.scalars(
            select(ShareLinkRow)
            .where(ShareLinkRow.user_id == user_id)
            .order_by(ShareLinkRow.created_at.desc(), ShareLinkRow.id)
        )
        return [_link(r) for r in rows]


def revoke_share_link(platform: Platform, actor: Actor, link_id: str) -> ShareLink:
    """Stops the link from working (idempotent: revoking twice keeps the first time)."""
    user_id = require_user(actor)
    with platform.transaction() as session:
        row = session.get(ShareLinkRow, link_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"no share link {link_id!r}", property="link_id")
        if row.revoked_at is None:
            row.revoked_at = platform.clock.now()
            audit(
                session,
                actor,
                action="share_link.revoked",
                org_id=None,
                target=f"share-link:{row.id}",
                at=platform.clock.now(),
            )
        session.flush()
        return _link(row)


def resolve_share_link(platform: Platform, token: str) -> SharedView:
    """``GET /s/{token}``: what the link shows, counting the view.

    An unknown, revoked or expired link is NotFound (they are indistinguishable to a visitor).
    The count is one atomic UPDATE, so concurrent views are all counted.
    """
    now = platform.clock.now()
    if not token or len(token) > 200:
        raise NotFound("no such share link", property="token")
    with platform.transaction() as session:
        row = session.scalars(
            select(ShareLinkRow).where(ShareLinkRow.token_hash == _token_hash(token))
        ).one_or_none()
        if (
            row is None
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)
        ):
            raise NotFound(
                "no such share link (it may have expired or been revoked)", property="token"
            )
        session.execute(
            update(ShareLinkRow)
            .where(ShareLinkRow.id == row.id)
            .values(view_count=ShareLinkRow.view_count + 1, last_viewed_at=now)
        )
        session.refresh(row)
        if row.target == "item" and row.wallet_item_id is not None:
            item = _items(session, [wallet_item_row(session, row.user_id, row.wallet_item_id)], now)
            return SharedView(
                target="item", view_count=row.view_count, item=item[0], skills=skill_summary(item)
            )
        if row.target == "collection" and row.collection_id is not None:
            collection = _public_collection(
                session,
                _collection_row(session, row.user_id, row.collection_id),
                now,
                public_only=False,
            )
            return SharedView(
                target="collection",
                view_count=row.view_count,
                collection=collection,
                skills=skill_summary(collection.items),
            )
        portfolio = session.get(PortfolioRow, row.user_id)
        if portfolio is None:
            raise NotFound("no such share link", property="token")
        view = _portfolio_view(session, platform, portfolio)
        return SharedView(
            target="portfolio", view_count=row.view_count, portfolio=view, skills=view.skills
        )


# --- LinkedIn ----------------------------------------------------------------------------------


def _is_web_url(value: str | None) -> bool:
    if value is None:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def linkedin_links(platform: Platform, actor: Actor, item_id: str) -> LinkedInLinks:
    """LinkedIn's "Add to profile" URL (a certification) and its share URL for a wallet item.

    ``certUrl`` is the credential's public page (its ``id`` when it is a web URL, as Merito's
    credentials are); without one LinkedIn still records the certification, unlinked.
    """
    user_id = require_user(actor)
    with platform.reading() as session:
        row = wallet_item_row(session, user_id, item_id)
        document = dict(row.document)
        name, issuer_name, credential_id = row.name, row.issuer_name, row.credential_id
    issued = parse_datetime(document.get("validFrom", document.get("issuanceDate")))
    cert_url = credential_id if _is_web_url(credential_id) else None
    params: dict[str, str] = {"startTask": "CERTIFICATION_NAME", "name": name}
    if issuer_name:
        params["organizationName"] = issuer_name
    if issued is not None:
        params["issueYear"] = str(issued.year)
        params["issueMonth"] = str(issued.month)
    expiry = _expiry(document)
    if expiry is not None:
        params["expirationYear"] = str(expiry.year)
        params["expirationMonth"] = str(expiry.month)
    if cert_url is not None:
        params["certUrl"] = cert_url
    if credential_id:
        params["certId"] = credential_id
    share = f"{_LINKEDIN_SHARE}?{urlencode({'url': cert_url})}" if cert_url else None
    return LinkedInLinks(
        add_to_profile=f"{_LINKEDIN_ADD}?{urlencode(params)}", share=share, cert_url=cert_url
    )
