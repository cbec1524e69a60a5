"""Trust and quality signals: trust registries, domain linkage, quality facts, aggregate signals.

- Merito's own registry (``/trust/registry.json``): every issuer organisation, active since it
  was first listed; an organisation deleted (or removed by a platform administrator) stays
  listed as removed with the date. The document is signed by the platform's registry key (a
  did:key whose seed is sealed by the key store) and re-signed only when what it lists changes.
- Imported registries: a verifying organisation uploads a registry or gives its HTTPS URL
  (fetched through the guarded fetcher, cached, refreshed when stale); the signature is checked
  at import and the publisher pinned (a refresh signed by another publisher is refused).
- ``verify_with_trust``: the platform verification plus the ``endorsements`` and ``trust``
  checks against the chosen registries, the ``domain_linkage`` check for a did:web issuer (DIF
  Well Known DID Configuration, fetched here, checked in ``merito.verification.trust``), the
  achievement's quality facts, and its aggregate signals (counts only).
- Merito serves ``/.well-known/did-configuration.json`` for its own did:web issuers.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from merito.domain.ports_storage import SealedSecret
from merito.domain.verification import Check, VerificationReport
from merito.errors import (
    Conflict,
    FetchError,
    InvalidInput,
    MeritoError,
    NotFound,
    PermissionDenied,
)
from merito.formats import jcs
from merito.formats.did_key import create_did_key
from merito.formats.quality import Quality, quality_of
from merito.formats.trust_registry import (
    RegistryEntry,
    TrustRegistry,
    build_registry,
    format_instant,
)
from merito.proofs import data_integrity
from merito.proofs.keys import Ed25519PrivateKey, Signer
from merito.proofs.resolution import VerificationMethodResolver
from merito.proofs.vc_jwt import sign_jwt
from merito.services import catalog, endorsed, issuers, platform_verification, verifying
from merito.services.platform import Actor, Permission, Platform, audit, authorize, new_id
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    CredentialRow,
    MembershipRow,
    OrganisationRow,
)
from merito.storage.tables_trust import (
    AchievementVerificationRow,
    TrustListingRow,
    TrustPublicationRow,
    TrustRegistryRow,
)
from merito.verification import VerifyOptions
from merito.verification.trust import (
    DID_CONFIGURATION_CONTEXT,
    check_domain_linkage,
    embedded_endorsements,
    jwt_claims_text,
    origin_of,
    verify_registry,
    with_trust_checks,
)

__all__ = [
    "MERITO_REGISTRY",
    "SMALL_COUNT",
    "PublishedDocument",
    "RegistryView",
    "Signals",
    "TrustedReport",
    "VerifierChoice",
    "achievement_quality",
    "delete_registry",
    "did_configuration",
    "domain_linkage",
    "import_registry",
    "list_registries",
    "platform_registry",
    "quality_for",
    "recent_registry",
    "record_verification",
    "refresh_registry",
    "registries_for",
    "registry_url",
    "set_listing",
    "signals_for",
    "verifier_choices",
    "verify_as_organisation",
    "verify_with_trust",
]

#: the id a verifying party uses to choose Merito's own registry
MERITO_REGISTRY: Final = "merito"
#: counts below this are shown as "fewer than 5" (no single holder or verifier stands out)
SMALL_COUNT: Final = 5
#: how long a registry fetched from a URL is used before it is fetched again
REFRESH_AFTER: Final = timedelta(hours=6)
MAX_REGISTRY_BYTES: Final = 5_000_000
#: HTTP cache lifetime of the published documents (seconds)
CACHE_SECONDS: Final = 300
_REGISTRY_ROW: Final = "registry"
_CONFIGURATION_ROW: Final = "did-configuration"
_KEY_CONTEXT: Final = ("trust-registry-key", "merito", "ed25519")
#: a Domain Linkage Credential is valid this long; re-signed when the set changes or it ages
_LINKAGE_DAYS: Final = 365
#: seconds a verification reuses this platform's DID Configuration (a new issuer's DID is
#: linked after at most this long)
_CONFIGURATION_TTL: Final = 60.0


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedDocument:
    document: dict[str, Any]
    version: int
    digest: str

    @property
    def etag(self) -> str:
        return f'"{self.digest[:32]}"'


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryView:
    id: str
    org_id: str
    registry_id: str
    name: str
    publisher: str
    source: str
    url: str | None
    entries: int
    fetched_at: datetime
    refresh_after: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """Aggregate signals of one achievement: counts only, small ones hidden."""

    holders: int | None
    holders_text: str
    verifier_orgs: int | None
    verifier_orgs_text: str
    endorsements: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedReport:
    report: VerificationReport
    quality: Quality
    signals: Signals | None
    registries: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = self.report.to_dict()
        out["quality"] = self.quality.to_dict()
        out["signals"] = None if self.signals is None else self.signals.to_dict()
        out["registries"] = list(self.registries)
        return out


def registry_url(platform: Platform) -> str:
    return platform.url("trust/registry.json")


def _view(row: TrustRegistryRow) -> RegistryView:
    return RegistryView(
        id=row.id,
        org_id=row.org_id,
        registry_id=row.registry_id,
        name=row.name,
        publisher=row.publisher,
        source=row.source,
        url=row.url,
        entries=row.entries,
        fetched_at=row.fetched_at,
        refresh_after=row.refresh_after,
        last_error=row.last_error,
    )


def _digest(value: Any) -> str:
    return hashlib.sha256(jcs.canonicalize(value)).hexdigest()


# --- Merito's own registry ---------------------------------------------------------------------


def _seal(platform: Platform, seed: bytes) -> str:
    sealed = platform.keystore.seal(seed, context=_KEY_CONTEXT)
    return json.dumps(
        {
            "c": base64.b64encode(sealed.ciphertext).decode(),
            "n": base64.b64encode(sealed.nonce).decode(),
            "m": sealed.master_key_id,
        }
    )


def _unseal(platform: Platform, text: str) -> bytes:
    data = json.loads(text)
    sealed = SealedSecret(
        ciphertext=base64.b64decode(data["c"]),
        nonce=base64.b64decode(data["n"]),
        master_key_id=data["m"],
    )
    return platform.keystore.unseal(sealed, context=_KEY_CONTEXT)


def _registry_signer(platform: Platform, sealed: str) -> Signer:
    key = Ed25519PrivateKey(_unseal(platform, sealed))
    multibase = key.public_key.to_multibase()
    return Signer(key=key, verification_method=f"{create_did_key(multibase)}#{multibase}")


def _sync_listings(session: Session, platform: Platform, now: datetime) -> list[TrustListingRow]:
    """Every issuer organisation listed (new ones active from now); listed organisations that
    no longer exist marked removed."""
    listings = {row.org_id: row for row in session.scalars(select(TrustListingRow))}
    orgs = list(session.scalars(select(OrganisationRow).where(OrganisationRow.kind == "issuer")))
    present = set()
    for org in orgs:
        present.add(org.id)
        did = issuers.issuer_did(platform, org)
        profile = platform.url(f"orgs/{org.slug}/profile")
        row = listings.get(org.id)
        if row is None:
            row = TrustListingRow(
                org_id=org.id,
                did=did,
                profile_url=profile,
                name=org.name,
                status="active",
                since=now,
                manual=False,
            )
            session.add(row)
            listings[org.id] = row
        elif (row.did, row.profile_url, row.name) != (did, profile, org.name):
            row.did, row.profile_url, row.name = did, profile, org.name
    for org_id, row in listings.items():
        if org_id not in present and row.status == "active":
            row.status = "removed"
            row.removed_at = now
            row.reason = "the organisation left the platform"
    session.flush()
    return sorted(listings.values(), key=lambda r: (r.since, r.org_id))


def _entries(rows: Sequence[TrustListingRow]) -> list[RegistryEntry]:
    return [
        RegistryEntry(
            id=row.did,
            profile=row.profile_url,
            name=row.name,
            status="active" if row.status == "active" else "removed",
            since=row.since,
            removed=row.removed_at if row.status == "removed" else None,
            reason=row.reason if row.status == "removed" else None,
        )
        for row in rows
    ]


def platform_registry(platform: Platform) -> PublishedDocument:
    """Merito's signed registry of its issuers, re-signed only when its entries changed."""
    now = platform.clock.now().replace(microsecond=0)
    with platform.transaction() as session:
        listings = _sync_listings(session, platform, now)
        entries = _entries(listings)
        digest = _digest([e.to_json() for e in entries])
        row = session.scalars(
            select(TrustPublicationRow)
            .where(TrustPublicationRow.id == _REGISTRY_ROW)
            .with_for_update()
        ).one_or_none()
        if row is not None and row.digest == digest and row.document:
            return PublishedDocument(dict(row.document), row.version, row.digest)
        if row is None:
            row = TrustPublicationRow(
                id=_REGISTRY_ROW,
                digest="",
                version=0,
                document={},
                sealed_key=_seal(platform, os.urandom(32)),
            )
            session.add(row)
        signer = _registry_signer(platform, row.sealed_key or "")
        host = urlsplit(platform.base_url).netloc
        unsigned = build_registry(
            registry_id=registry_url(platform),
            name=f"Merito issuers ({host})",
            publisher=signer.controller,
            publisher_name=f"Merito ({host})",
            version=row.version + 1,
            issued=now,
            entries=entries,
        )
        document = data_integrity.sign(
            unsigned, signer=signer, cryptosuite="eddsa-jcs-2022", created=now
        )
        row.version += 1
        row.digest = digest
        row.document = document
        row.signed_at = now
        session.flush()
        audit(
            session,
            Actor.system(),
            action="trust.registry_published",
            org_id=None,
            target=registry_url(platform),
            at=now,
            details={"version": row.version, "entries": len(entries)},
        )
        return PublishedDocument(document, row.version, digest)


#: this process's last registry per platform (its session factory) and when it expires:
#: listing reads every issuer organisation, too much for each verification or fetch
_REGISTRIES: weakref.WeakKeyDictionary[Any, tuple[float, PublishedDocument]] = (
    weakref.WeakKeyDictionary()
)
_REGISTRY_TTL: Final = 60.0


def recent_registry(platform: Platform) -> PublishedDocument:
    """``platform_registry``, reused for a minute (an organisation created or deleted shows
    within that time; an administrator's change at once, in this process)."""
    cached = _REGISTRIES.get(platform.sessions)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    published = platform_registry(platform)
    _REGISTRIES[platform.sessions] = (now + _REGISTRY_TTL, published)
    return published


def set_listing(
    platform: Platform, actor: Actor, *, org_id: str, status: str, reason: str | None = None
) -> None:
    """A platform administrator removes an issuer from Merito's registry (or lists it again)."""
    if not (actor.kind == "system" or (actor.kind == "user" and actor.is_platform_admin)):
        raise PermissionDenied("only a platform administrator may change the registry")
    if status not in ("active", "removed"):
        raise InvalidInput("status must be 'active' or 'removed'", property="status")
    platform_registry(platform)  # every issuer listed first
    with platform.transaction() as session:
        row = session.get(TrustListingRow, org_id)
        if row is None:
            raise NotFound(f"organisation {org_id!r} is not in the registry", property="org_id")
        now = platform.clock.now().replace(microsecond=0)
        row.status = status
        row.manual = status == "removed"
        row.removed_at = now if status == "removed" else None
        row.reason = (reason or "").strip()[:1000] or None if status == "removed" else None
        audit(
            session,
            actor,
            action=f"trust.listing_{status}",
            org_id=None,
            target=org_id,
            at=now,
            details={"reason": row.reason},
        )
    _REGISTRIES[platform.sessions] = (time.monotonic() + _REGISTRY_TTL, platform_registry(platform))


# --- imported registries -----------------------------------------------------------------------


def _resolver(platform: Platform) -> VerificationMethodResolver:
    return VerificationMethodResolver(
        fetcher=platform_verification.PlatformFetcher(platform, platform.fetcher)
    )


def _fetch_registry(platform: Platform, url: str) -> Any:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("the registry's address must be an https:// URL", property="url")
    if url.split("?", 1)[0] == registry_url(platform):
        return recent_registry(platform).document
    if platform.fetcher is None:
        raise FetchError("this server does not fetch other sites; upload the registry instead")
    response = platform.fetcher.fetch(url, accept="application/json, application/vc+ld+json")
    if response.status != 200:
        raise FetchError(f"{url} answered HTTP {response.status}")
    if len(response.body) > MAX_REGISTRY_BYTES:
        raise FetchError(f"{url} sent more than {MAX_REGISTRY_BYTES:,} bytes")
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError) as e:
        raise InvalidInput(f"{url} did not send JSON: {e}", property="url") from e


def _checked(platform: Platform, document: Any) -> TrustRegistry:
    try:
        return verify_registry(document, resolver=_resolver(platform))
    except MeritoError:
        raise
    except Exception as e:  # a malformed proof the engine could not read
        raise InvalidInput(f"the registry could not be checked: {e}", property="registry") from e


def import_registry(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    document: Any = None,
    url: str | None = None,
) -> RegistryView:
    """Adds a registry for ``org_id``'s verifications: ``document`` (an upload) or ``url``."""
    if (document is None) == (url is None):
        raise InvalidInput("give either the registry document or its url", property="registry")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
    url = url.strip() if url is not None else None
    if url is not None:
        document = _fetch_registry(platform, url)
    registry = _checked(platform, document)
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        exists = session.scalar(
            select(TrustRegistryRow.id).where(
                TrustRegistryRow.org_id == org_id,
                TrustRegistryRow.registry_id == registry.id,
            )
        )
        if exists is not None:
            raise Conflict(
                f"the registry {registry.id} is already imported ({exists}); refresh it instead",
                property="registry",
            )
        row = TrustRegistryRow(
            id=new_id(),
            org_id=org_id,
            registry_id=registry.id,
            name=registry.name,
            publisher=registry.publisher,
            source="upload" if url is None else "url",
            url=url,
            document=dict(document),
            entries=len(registry.entries),
            fetched_at=now,
            refresh_after=None if url is None else now + REFRESH_AFTER,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="trust.registry_imported",
            org_id=org_id,
            target=row.id,
            at=now,
            details={"registry": registry.id, "publisher": registry.publisher, "url": url},
        )
        return _view(row)


def _own_row(session: Session, org_id: str, registry_id: str) -> TrustRegistryRow:
    row = session.get(TrustRegistryRow, registry_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"trust registry {registry_id!r} not found", property="registry_id")
    return row


def refresh_registry(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    registry_id: str,
    document: Any = None,
) -> RegistryView:
    """Fetches a URL registry again (or replaces an uploaded one with ``document``). The new
    document must be signed by the same publisher and be the same registry."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        row = _own_row(session, org_id, registry_id)
        url, publisher, same_id = row.url, row.publisher, row.registry_id
    now = platform.clock.now()
    error: str | None = None
    registry: TrustRegistry | None = None
    try:
        if document is None:
            if url is None:
                raise InvalidInput(
                    "an uploaded registry is refreshed by uploading it again", property="document"
                )
            document = _fetch_registry(platform, url)
        registry = _checked(platform, document)
        if registry.publisher != publisher:
            raise Conflict(
                f"the registry is now signed by {registry.publisher}, not by its publisher "
                f"{publisher}: import it again if you trust the new publisher",
                property="publisher",
            )
        if registry.id != same_id:
            raise Conflict(
                f"the document is the registry {registry.id}, not {same_id}", property="registry"
            )
    except MeritoError as e:
        if url is None:
            raise  # an upload is checked before anything changes
        error = e.message  # a URL registry keeps its last good copy
        registry = None
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        row = _own_row(session, org_id, registry_id)
        if registry is not None and document is not None:
            row.document = dict(document)
            row.name = registry.name
            row.entries = len(registry.entries)
            row.fetched_at = now
            row.last_error = None
        else:
            row.last_error = error
        row.refresh_after = None if row.url is None else now + REFRESH_AFTER
        session.flush()
        audit(
            session,
            actor,
            action="trust.registry_refreshed",
            org_id=org_id,
            target=row.id,
            at=now,
            details={"error": error, "entries": row.entries},
        )
        return _view(row)


def delete_registry(platform: Platform, actor: Actor, *, org_id: str, registry_id: str) -> None:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ENDORSEMENTS_MANAGE)
        row = _own_row(session, org_id, registry_id)
        session.delete(row)
        audit(
            session,
            actor,
            action="trust.registry_deleted",
            org_id=org_id,
            target=registry_id,
            at=platform.clock.now(),
            details={"registry": row.registry_id},
        )


def list_registries(platform: Platform, actor: Actor, *, org_id: str) -> list[RegistryView]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        rows = session.scalars(
            select(TrustRegistryRow)
            .where(TrustRegistryRow.org_id == org_id)
            .order_by(TrustRegistryRow.name, TrustRegistryRow.id)
        )
        return [_view(r) for r in rows]


def registries_for(
    platform: Platform, actor: Actor | None, *, org_id: str | None, ids: Sequence[str]
) -> tuple[TrustRegistry, ...]:
    """The registries a verifying party chose: ``merito`` (this platform's own, for anyone)
    and ids of ``org_id``'s imported registries (its members only). A stale URL registry is
    refreshed first (a failed refresh keeps the last good copy)."""
    chosen: list[TrustRegistry] = []
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if len(wanted) > 20:
        raise InvalidInput("choose at most 20 registries", property="registry")
    if MERITO_REGISTRY in wanted:
        chosen.append(_checked(platform, recent_registry(platform).document))
    others = [i for i in wanted if i != MERITO_REGISTRY]
    if not others:
        return tuple(chosen)
    if actor is None or org_id is None:
        raise InvalidInput(
            "only 'merito' can be chosen without an organisation; log in to use your "
            "organisation's registries",
            property="registry",
        )
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        rows = {
            r.id: r
            for r in session.scalars(
                select(TrustRegistryRow).where(
                    TrustRegistryRow.org_id == org_id, TrustRegistryRow.id.in_(others)
                )
            )
        }
    now = platform.clock.now()
    for registry_id in others:
        row = rows.get(registry_id)
        if row is None:
            raise NotFound(f"trust registry {registry_id!r} not found", property="registry")
        document = row.document
        if row.url is not None and row.refresh_after is not None and row.refresh_after <= now:
            try:
                with platform.reading() as session:
                    role = authorize(session, actor, org_id, Permission.ORG_READ)
                if role in ("admin", "owner"):
                    refresh_registry(platform, actor, org_id=org_id, registry_id=row.id)
                    with platform.reading() as session:
                        document = _own_row(session, org_id, row.id).document
            except MeritoError:
                pass  # the last good copy stays in use
        chosen.append(_checked(platform, document))
    return tuple(chosen)


# --- DID Configuration (DIF Well Known DID Configuration v1.0) ---------------------------------


def _linked_orgs(session: Session, platform: Platform) -> list[tuple[str, str]]:
    """``(org_id, did)`` of the issuer organisations with an active Ed25519 key under their
    did:web (no key is made here: an organisation that never signed has nothing to link)."""
    out = []
    for org in session.scalars(
        select(OrganisationRow).where(OrganisationRow.kind == "issuer").order_by(OrganisationRow.id)
    ):
        did = issuers.issuer_did(platform, org)
        keys = platform.keystore.public_keys(org.id)
        if any(
            k.status == "active"
            and k.algorithm == "EdDSA"
            and k.verification_method.startswith(did + "#")
            for k in keys
        ):
            out.append((org.id, did))
    return out


def did_configuration(platform: Platform) -> PublishedDocument:
    """``/.well-known/did-configuration.json``: one JWT Domain Linkage Credential per issuer
    DID this origin hosts; re-signed when the set of DIDs changes or the credentials age."""
    now = platform.clock.now().replace(microsecond=0)
    origin = origin_of(platform.base_url)
    with platform.reading() as session:
        linked = _linked_orgs(session, platform)
        row = session.get(TrustPublicationRow, _CONFIGURATION_ROW)
        digest = _digest({"origin": origin, "dids": linked})
        if (
            row is not None
            and row.digest == digest
            and row.signed_at > now - timedelta(days=_LINKAGE_DAYS // 2)
        ):
            return PublishedDocument(dict(row.document), row.version, row.digest)
    tokens = []
    for org_id, did in linked:
        signer = issuers.signer_for(platform, org_id)
        credential = {
            "@context": ["https://www.w3.org/2018/credentials/v1", DID_CONFIGURATION_CONTEXT],
            "issuer": did,
            "issuanceDate": format_instant(now),
            "expirationDate": format_instant(now + timedelta(days=_LINKAGE_DAYS)),
            "type": ["VerifiableCredential", "DomainLinkageCredential"],
            "credentialSubject": {"id": did, "origin": origin},
        }
        tokens.append(sign_jwt(credential, signer=signer, now=now))
    document = {"@context": DID_CONFIGURATION_CONTEXT, "linked_dids": tokens}
    with platform.transaction() as session:
        row = session.get(TrustPublicationRow, _CONFIGURATION_ROW)
        if row is None:
            row = TrustPublicationRow(id=_CONFIGURATION_ROW, digest=digest, version=1)
            session.add(row)
        else:
            row.version += 1
            row.digest = digest
        row.document = document
        row.signed_at = now
        session.flush()
        return PublishedDocument(document, row.version, digest)


#: this process's last DID Configuration per platform (its session factory) and when it
#: expires: building one reads every issuer's keys, too much for each verification
_CONFIGURATIONS: weakref.WeakKeyDictionary[Any, tuple[float, PublishedDocument]] = (
    weakref.WeakKeyDictionary()
)


def _lists(published: PublishedDocument, did: str) -> bool:
    tokens = published.document.get("linked_dids") or []
    return any(isinstance(t, str) and did in jwt_claims_text(t) for t in tokens)


def _recent_configuration(platform: Platform, did: str) -> PublishedDocument:
    """The platform's DID Configuration, reused for a minute unless it lacks ``did`` (an
    issuer's first key may be newer than it)."""
    cached = _CONFIGURATIONS.get(platform.sessions)
    now = time.monotonic()
    if cached is not None and cached[0] > now and _lists(cached[1], did):
        return cached[1]
    published = did_configuration(platform)
    _CONFIGURATIONS[platform.sessions] = (now + _CONFIGURATION_TTL, published)
    return published


def _did_web_origin(did: str) -> str | None:
    if not did.startswith("did:web:"):
        return None
    host = unquote(did.split("#", 1)[0][len("did:web:") :].split(":", 1)[0])
    return f"https://{host}" if host else None


def domain_linkage(
    platform: Platform,
    did: str,
    *,
    resolver: VerificationMethodResolver | None = None,
    hosted_resolver: bool = False,
) -> Check | None:
    """The ``domain_linkage`` check of a did:web issuer (None for any other DID). This
    platform's own origin is answered from its database; others through the guarded fetcher.
    ``hosted_resolver``: ``resolver`` already knows this platform's DID documents."""
    origin = _did_web_origin(did)
    if origin is None:
        return None
    resolver = resolver or _resolver(platform)
    configuration: Any = None
    if origin == origin_of(platform.base_url).replace("http://", "https://", 1):
        configuration = _recent_configuration(platform, did).document
        origin = origin_of(platform.base_url)
        if not hosted_resolver:
            resolver = VerificationMethodResolver(
                fetcher=platform_verification.PlatformFetcher(platform, platform.fetcher),
                documents=_hosted(platform, [did]),
            )
    elif platform.fetcher is not None:
        try:
            response = platform.fetcher.fetch(
                f"{origin}/.well-known/did-configuration.json", accept="application/json"
            )
            if response.status == 200 and len(response.body) <= MAX_REGISTRY_BYTES:
                configuration = json.loads(response.body)
        except (FetchError, ValueError, RecursionError):
            configuration = None
    return check_domain_linkage(
        did, configuration, origin=origin, resolver=resolver, now=platform.clock.now()
    )


# --- quality and aggregate signals -------------------------------------------------------------


def _achievement_of(credential: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not credential:
        return None
    subject = credential.get("credentialSubject")
    subject = subject[0] if isinstance(subject, list) and subject else subject
    if isinstance(subject, Mapping) and isinstance(subject.get("achievement"), Mapping):
        achievement: Mapping[str, Any] = subject["achievement"]
        return achievement
    return None


def _local_achievement_id(platform: Platform, achievement: Mapping[str, Any] | None) -> str | None:
    url = achievement.get("id") if achievement else None
    prefix = platform.url("achievements/")
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    item = url.removeprefix(prefix)
    return item if item and "/" not in item and len(item) <= 36 else None


def quality_for(platform: Platform, credential: Mapping[str, Any] | None) -> Quality:
    """The quality facts of a credential's achievement (hours from this platform's catalog
    when the achievement is one of its own)."""
    achievement = _achievement_of(credential)
    hours = None
    achievement_id = _local_achievement_id(platform, achievement)
    if achievement_id is not None:
        with platform.reading() as session:
            row = session.get(AchievementRow, achievement_id)
            metadata = (row.published_metadata or {}) if row is not None else {}
            value = metadata.get("hours")
            hours = float(value) if isinstance(value, int | float) else None
    return quality_of(achievement, hours=hours)


def achievement_quality(platform: Platform, achievement_id: str) -> Quality:
    """The quality facts of one of this platform's published achievements."""
    document = catalog.public_achievement(platform, achievement_id)
    with platform.reading() as session:
        row = session.get(AchievementRow, achievement_id)
        metadata = (row.published_metadata or {}) if row is not None else {}
    value = metadata.get("hours")
    return quality_of(document, hours=float(value) if isinstance(value, int | float) else None)


def _shown(count: int) -> tuple[int | None, str]:
    if count < SMALL_COUNT:
        return None, f"fewer than {SMALL_COUNT}"
    return count, f"{count:,}"


def signals_for(platform: Platform, achievement_id: str) -> Signals:
    """Counts for one of this platform's achievements: holders (distinct recipients of its
    credentials not revoked), organisations whose members verified one, endorsements."""
    with platform.reading() as session:
        row = session.get(AchievementRow, achievement_id)
        if row is None or row.current_version is None:  # drafts are never public
            raise NotFound(
                f"no published achievement {achievement_id!r}", property="achievement_id"
            )
        holders = session.scalar(
            select(func.count(func.distinct(CredentialRow.recipient)))
            .join(
                AchievementVersionRow,
                AchievementVersionRow.id == CredentialRow.achievement_version_id,
            )
            .where(
                AchievementVersionRow.achievement_id == achievement_id,
                CredentialRow.revoked_at.is_(None),
            )
        )
        verifiers = session.scalar(
            select(func.count())
            .select_from(AchievementVerificationRow)
            .where(AchievementVerificationRow.achievement_id == achievement_id)
        )
        subject_ids = [platform.url(f"achievements/{achievement_id}")]
        endorsements = endorsed.count_active(session, subject_ids)
    shown_holders, holders_text = _shown(int(holders or 0))
    shown_verifiers, verifiers_text = _shown(int(verifiers or 0))
    return Signals(
        holders=shown_holders,
        holders_text=holders_text,
        verifier_orgs=shown_verifiers,
        verifier_orgs_text=verifiers_text,
        endorsements=endorsements,
    )


def record_verification(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str
) -> None:
    """One upsert: a member of ``org_id`` verified a credential of ``achievement_id`` (an
    organisation verifying its own achievement is not counted)."""
    if actor.user_id is None:
        return
    now = platform.clock.now()
    with platform.transaction() as session:
        member = session.scalar(
            select(MembershipRow.role).where(
                MembershipRow.org_id == org_id, MembershipRow.user_id == actor.user_id
            )
        )
        achievement = session.get(AchievementRow, achievement_id)
        if member is None or achievement is None or achievement.org_id == org_id:
            return
        row = session.scalars(
            select(AchievementVerificationRow)
            .where(
                AchievementVerificationRow.achievement_id == achievement_id,
                AchievementVerificationRow.verifier_org_id == org_id,
            )
            .with_for_update()
        ).one_or_none()
        if row is None:
            session.add(
                AchievementVerificationRow(
                    achievement_id=achievement_id,
                    verifier_org_id=org_id,
                    count=1,
                    first_at=now,
                    last_at=now,
                )
            )
        else:
            row.count += 1
            row.last_at = now


# --- verification with trust -------------------------------------------------------------------


def _hosted(platform: Platform, dids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The DID documents of the did:web DIDs this platform hosts among ``dids``."""
    out: dict[str, dict[str, Any]] = {}
    for did in dict.fromkeys(dids):
        if not did.startswith("did:web:") or ":orgs:" not in did or len(out) >= 25:
            continue
        try:
            document = issuers.public_did_document(platform, did.rsplit(":orgs:", 1)[1])
        except (NotFound, InvalidInput):
            continue
        if document.get("id") == did:
            out[did] = document
    return out


def _claimed_dids(document: str | bytes) -> list[str]:
    """Issuer DIDs a document names (the credential's and its endorsements'), unverified:
    only to know which of this platform's DID documents the verifier may need."""
    try:
        value = json.loads(document)
    except (ValueError, RecursionError):
        return []
    if not isinstance(value, dict):
        return []
    dids = []
    for _, _, item in embedded_endorsements(value):
        issuer = item.get("issuer") if isinstance(item, Mapping) else None
        issuer = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if isinstance(issuer, str):
            dids.append(issuer)
    return dids


def verify_with_trust(
    platform: Platform,
    document: str | bytes,
    base: VerifyOptions,
    *,
    registries: Sequence[TrustRegistry] = (),
    actor: Actor | None = None,
    org_id: str | None = None,
) -> TrustedReport:
    """The platform's verification with the trust checks, domain linkage for a did:web
    issuer, quality facts and signals; a verification by a member of ``org_id`` of a valid
    credential of one of this platform's achievements is counted."""
    # as platform_verification.options_for, with the DID documents this platform hosts for
    # the issuer and for the endorsers of the endorsements it embeds
    issuer = platform_verification.claimed_issuer(document)
    fetcher = platform_verification.PlatformFetcher(platform, base.fetcher or platform.fetcher)
    hosted = _hosted(platform, [*([issuer] if issuer else []), *_claimed_dids(document)])
    resolver = VerificationMethodResolver(fetcher=fetcher, documents=hosted)
    options = with_trust_checks(
        dataclasses.replace(base, fetcher=fetcher, resolver=resolver), registries
    )
    report = verifying.verify_document(document, options)
    proof = report.check("proof")
    if report.issuer and proof is not None and proof.passed:
        linkage = domain_linkage(
            platform, report.issuer, resolver=options.resolver, hosted_resolver=True
        )
        if linkage is not None:
            report = dataclasses.replace(report, checks=(*report.checks, linkage))
    quality = quality_for(platform, report.credential)
    achievement_id = _local_achievement_id(platform, _achievement_of(report.credential))
    signals = None
    if achievement_id is not None:
        try:
            signals = signals_for(platform, achievement_id)
        except NotFound:
            signals = None
        if actor is not None and org_id is not None and report.verified and signals is not None:
            record_verification(platform, actor, org_id=org_id, achievement_id=achievement_id)
    return TrustedReport(
        report=report,
        quality=quality,
        signals=signals,
        registries=tuple(r.id for r in registries),
    )


def verify_as_organisation(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    document: str | bytes,
    base: VerifyOptions,
    registry_ids: Sequence[str] = (),
) -> TrustedReport:
    """``verify_with_trust`` for a member of ``org_id``, against the registries it chose
    (``merito`` and/or its imported ones); the verification counts in the signals."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
    registries = registries_for(platform, actor, org_id=org_id, ids=registry_ids)
    return verify_with_trust(
        platform, document, base, registries=registries, actor=actor, org_id=org_id
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierChoice:
    """An organisation a signed-in person may verify as, with its imported registries."""

    org_id: str
    org_name: str
    registries: tuple[RegistryView, ...]


def verifier_choices(platform: Platform, actor: Actor | None) -> list[VerifierChoice]:
    """The organisations ``actor`` is a member of and their registries (none when signed out)."""
    if actor is None or actor.user_id is None:
        return []
    with platform.reading() as session:
        orgs = list(
            session.execute(
                select(OrganisationRow.id, OrganisationRow.name)
                .join(MembershipRow, MembershipRow.org_id == OrganisationRow.id)
                .where(MembershipRow.user_id == actor.user_id)
                .order_by(OrganisationRow.name, OrganisationRow.id)
                .limit(50)
            )
        )
        rows = list(
            session.scalars(
                select(TrustRegistryRow)
                .where(TrustRegistryRow.org_id.in_([org_id for org_id, _ in orgs]))
                .order_by(TrustRegistryRow.name, TrustRegistryRow.id)
            )
        )
    return [
        VerifierChoice(
            org_id=org_id,
            org_name=name,
            registries=tuple(_view(r) for r in rows if r.org_id == org_id),
        )
        for org_id, name in orgs
    ]
