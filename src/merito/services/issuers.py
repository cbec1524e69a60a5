"""Issuers: OB 3.0 Profiles, did:web identities and documents, and their signing keys.

Every organisation is ``did:web:<host>:orgs:<slug>`` (did:web Method Specification §3.2: the
document lives at ``{base_url}/orgs/<slug>/did.json``). Its keys are kept sealed by the key
store under that DID; the verification method fragment is the key's RFC 7638 thumbprint, so a
rotation never reuses one. The DID document lists every key the organisation ever had, retired
ones included, each as an ``assertionMethod``: a credential signed before a rotation names the
old key and must keep verifying; a retired key simply signs nothing new.

The key store keeps its own transaction (``KeyStore`` is a port with several adapters). A key
operation therefore runs in three steps: authorize (one read transaction), the key store's
own write, then the audit entry in a transaction of its own. ``signer_for`` may create a key:
call it before opening a write transaction, not inside one (SQLite has one writer at a time).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.domain.achievements import Address, Profile
from merito.domain.identifiers import WIRE_CONTEXT
from merito.domain.ports_storage import IssuerKey
from merito.errors import Conflict, InvalidInput, InvalidKey, NotFound
from merito.formats.did_web import VerificationKeySpec, build_did_web_document, did_web_to_url
from merito.formats.ob3 import OB3_CONTEXT, VC2_CONTEXT
from merito.proofs.keys import ALGORITHMS, Signer, public_key_from_jwk
from merito.services import endorsed
from merito.services.platform import Actor, Permission, Platform, audit, authorize, org_or_404
from merito.storage.keystore import KeyStore as SqlKeyStore
from merito.storage.tables import IssuerKeyRow, OrganisationRow

__all__ = [
    "KEY_ALGORITHMS",
    "KeyInfo",
    "ProfileFields",
    "create_key",
    "did_document",
    "did_documents",
    "forget_signers",
    "get_profile",
    "issuer_did",
    "jose_algorithm",
    "list_keys",
    "profile_document",
    "property_path",
    "public_did_document",
    "public_profile",
    "rotate_key",
    "signer_for",
    "update_profile",
]

#: key type -> JOSE name; Ed25519 signs Data Integrity proofs, P-256 and RSA only VC-JWTs
KEY_ALGORITHMS: Final[Mapping[str, str]] = {v: k for k, v in ALGORITHMS.items()}
_EMAIL: Final = re.compile(
    r"^[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_PHONE: Final = re.compile(r"^\+?[0-9][0-9 ().-]{2,30}$")
_SLUG_SEGMENT: Final = re.compile(r"^[A-Za-z0-9._-]+$")
_MAX_TEXT: Final = 5000


#: pydantic location entries that name a union member or validator, not a property
_LOC_TAG: Final = re.compile(r"^(?:int|float|str|bool|none|[A-Z]\w*|[\w-]+\[.*\])$")


def property_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as a dotted property path (``alignment.0.targetUrl``)."""
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and _LOC_TAG.match(p)))


# --- identity -----------------------------------------------------------------------------


def _did_for(base_url: str, slug: str) -> str:
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise InvalidInput(f"base_url {base_url!r} has no host", property="base_url")
    if not _SLUG_SEGMENT.match(slug):
        raise InvalidInput(f"slug {slug!r} cannot be a did:web path segment", property="slug")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    # did:web §3.2: the port's colon is percent-encoded; a base path becomes more segments
    segments = [quote(s, safe="") for s in parts.path.split("/") if s]
    did = ":".join(["did:web", quote(host, safe=""), *segments, "orgs", slug])
    did_web_to_url(did)  # the same validation a resolver applies
    return did


def issuer_did(platform: Platform, org: OrganisationRow) -> str:
    """The organisation's did:web, e.g. ``did:web:merito.test:orgs:acme``.

    Built from ``platform.base_url`` whatever its scheme: did:web always resolves over
    https, so an ``http://`` development origin gives a DID only local resolution serves.
    """
    return _did_for(platform.base_url, org.slug)


def jose_algorithm(name: str) -> str:
    """``EdDSA``, ``ES256`` or ``RS256`` for a JOSE name or key type (``Ed25519``, ``P-256``)."""
    if name in ALGORITHMS:
        return name
    if name in KEY_ALGORITHMS:
        return KEY_ALGORITHMS[name]
    raise InvalidInput(
        f"unknown key algorithm {name!r}; use Ed25519, P-256 or RSA", property="algorithm"
    )


def _active_key(platform: Platform, org_id: str, did: str, jose: str) -> IssuerKey | None:
    for key in platform.keystore.public_keys(org_id):
        if (
            key.status == "active"
            and key.algorithm == jose
            and key.verification_method.startswith(did + "#")
        ):
            return key
    return None


#: per process, per key store: (org_id, verification method) -> the unsealed signer. The
#: verification method ends in the key's JWK thumbprint, so an entry can only ever sign with
#: the key it names; whether that key is still the active one is read on every call.
_SIGNERS: Final[weakref.WeakKeyDictionary[object, dict[tuple[str, str], Signer]]] = (
    weakref.WeakKeyDictionary()
)
_SIGNER_CACHE_ENTRIES: Final = 1024


def _cached_signer(
    platform: Platform, org_id: str, vm: str, session: Session | None = None
) -> Signer:
    keystore = platform.keystore
    cache = _SIGNERS.get(keystore)
    if cache is None:
        cache = _SIGNERS.setdefault(keystore, {})
    signer = cache.get((org_id, vm))
    if signer is None:
        # the key store reads the row again (in the caller's transaction if it has one),
        # refuses a retired key and unseals it
        if session is not None and isinstance(keystore, SqlKeyStore):
            signer = keystore.signer(org_id, vm, session=session)
        else:
            signer = keystore.signer(org_id, vm)
        if len(cache) >= _SIGNER_CACHE_ENTRIES:
            cache.clear()
        cache[(org_id, vm)] = signer
    return signer


def forget_signers(platform: Platform, org_id: str) -> None:
    """Drops this process's unsealed signers of ``org_id`` (after a rotation or retirement;
    other processes stop using a retired key because the active one is read on every call)."""
    cache = _SIGNERS.get(platform.keystore)
    if cache is not None:
        for key in [k for k in cache if k[0] == org_id]:
            cache.pop(key, None)


def signer_for(
    platform: Platform,
    org_id: str,
    *,
    algorithm: str = "Ed25519",
    session: Session | None = None,
    org: OrganisationRow | None = None,
) -> Signer:
    """The active signer of ``algorithm`` under the organisation's did:web.

    The first call makes the key (the key store commits it in its own transaction), so call
    this before writing in a transaction. Its ``controller`` is ``issuer_did``. With the
    caller's ``session`` (and ``org`` row) the active key is one read in that transaction;
    the unsealed signer itself is kept per process (``_cached_signer``).
    """
    jose = jose_algorithm(algorithm)
    if session is not None:
        if org is None:
            org = org_or_404(session, org_id)
        did = issuer_did(platform, org)
        vm = _active_method(session, org_id, did, jose)
    else:
        with platform.reading() as reading:
            org = org_or_404(reading, org_id)
            did = issuer_did(platform, org)
            vm = _active_method(reading, org_id, did, jose)
    if vm is None:
        try:
            vm = platform.keystore.create_key(org_id, jose, did=did)
        except Conflict:
            # another worker created it first (or an active key lives under another DID)
            with platform.reading() as reading:
                vm = _active_method(reading, org_id, did, jose)
            if vm is None:
                raise
        else:
            with platform.transaction() as audit_session:
                audit(
                    audit_session,
                    Actor.system(),
                    action="key.created",
                    org_id=org_id,
                    target=vm,
                    at=platform.clock.now(),
                    details={"algorithm": jose, "reason": "first use"},
                )
    return _cached_signer(platform, org_id, vm, session)


def _active_method(session: Session, org_id: str, did: str, jose: str) -> str | None:
    """The verification method of the active ``jose`` key under ``did`` (one indexed read)."""
    return session.scalars(
        select(IssuerKeyRow.verification_method).where(
            IssuerKeyRow.org_id == org_id,
            IssuerKeyRow.algorithm == jose,
            IssuerKeyRow.status == "active",
            IssuerKeyRow.verification_method.startswith(did + "#", autoescape=True),
        )
    ).first()


# --- the DID document ----------------------------------------------------------------------


def _spec(key: IssuerKey) -> VerificationKeySpec:
    fragment = key.verification_method.split("#", 1)[1]
    # Multikey where it is defined (Ed25519, P-256), JsonWebKey for RSA (CID 1.0 §2.2)
    if key.algorithm in ("EdDSA", "ES256"):
        multibase = public_key_from_jwk(key.public_jwk).to_multibase()
        return VerificationKeySpec(
            fragment=fragment, public_key_multibase=multibase, relationships=("assertionMethod",)
        )
    return VerificationKeySpec(
        fragment=fragment, public_key_jwk=dict(key.public_jwk), relationships=("assertionMethod",)
    )


def did_document(platform: Platform, org: OrganisationRow) -> dict[str, Any]:
    """The organisation's DID document: every key under its DID, retired ones included."""
    did = issuer_did(platform, org)
    keys = [
        k
        for k in platform.keystore.public_keys(org.id)
        if k.verification_method.startswith(did + "#")
    ]
    return build_did_web_document(did, [_spec(k) for k in keys])


def public_did_document(platform: Platform, slug: str) -> dict[str, Any]:
    """``GET /orgs/{slug}/did.json``: anyone may resolve an issuer."""
    with platform.reading() as session:
        org = _org_by_slug(session, slug)
    return did_document(platform, org)


def did_documents(platform: Platform) -> dict[str, dict[str, Any]]:
    """DID -> document for every issuer Merito hosts: the verifier's local ``documents``."""
    with platform.reading() as session:
        orgs = list(session.scalars(select(OrganisationRow).order_by(OrganisationRow.slug)))
    documents: dict[str, dict[str, Any]] = {}
    for org in orgs:
        document = did_document(platform, org)
        documents[document["id"]] = document
    return documents


# --- the profile ---------------------------------------------------------------------------


class ProfileFields(BaseModel):
    """What an issuer sets on its OB 3.0 Profile (§B.1.14); ``id`` and ``type`` are Merito's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    url: str | None = None
    email: str | None = None
    phone: str | None = None
    description: str | None = None
    #: an http(s) URL of the logo (e.g. an image uploaded to Merito)
    image: str | None = None
    #: an OB 3.0 Address (camelCase members, e.g. ``addressCountry``)
    address: dict[str, Any] | None = None


def _http_url(value: str, prop: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise InvalidInput(f"{prop} must be an absolute http(s) URL, got {value!r}", property=prop)
    if parts.username or parts.password:
        raise InvalidInput(f"{prop} must not carry a user name or password", property=prop)
    if len(value) > 2000:
        raise InvalidInput(f"{prop} is longer than 2000 characters", property=prop)
    return value


def _text(value: str, prop: str, *, limit: int = _MAX_TEXT) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{prop} must not be empty (leave it out instead)", property=prop)
    if len(value) > limit:
        raise InvalidInput(f"{prop} is longer than {limit} characters", property=prop)
    return value


def _validated_profile(fields: ProfileFields) -> tuple[str | None, dict[str, Any]]:
    """The new name and the stored profile members, each checked; InvalidInput names it."""
    stored: dict[str, Any] = {}
    name = None if fields.name is None else _text(fields.name, "name", limit=200)
    if fields.url is not None:
        stored["url"] = _http_url(fields.url, "url")
    if fields.email is not None:
        email = fields.email.strip()
        if len(email) > 320 or not _EMAIL.match(email):
            raise InvalidInput(f"email {email!r} is not an email address", property="email")
        stored["email"] = email
    if fields.phone is not None:
        phone = fields.phone.strip()
        if not _PHONE.match(phone):
            raise InvalidInput(
                f"phone {phone!r} is not a telephone number (digits, spaces, + ( ) . -)",
                property="phone",
            )
        stored["phone"] = phone
    if fields.description is not None:
        stored["description"] = _text(fields.description, "description")
    if fields.image is not None:
        stored["image"] = _http_url(fields.image, "image")
    if fields.address is not None:
        data = {"type": ["Address"], **fields.address}
        if isinstance(data.get("geo"), dict):
            data["geo"] = {"type": "GeoCoordinates", **data["geo"]}
        try:
            address = Address.model_validate(data, context=WIRE_CONTEXT)
        except ValidationError as e:
            first = e.errors()[0]
            where = property_path(("address", *first["loc"]))
            raise InvalidInput(f"{where}: {first['msg']}", property=where) from e
        stored["address"] = address.model_dump(mode="json", exclude_none=True)
    return name, stored


def profile_document(
    session: Session,
    platform: Platform,
    org: OrganisationRow,
    endorsements: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The organisation's OB 3.0 Profile, to embed as a credential's ``issuer``.

    ``id`` is the issuer DID (the signing key's controller); no ``@context``: the
    credential's own contexts cover it. ``session`` is the caller's (the organisation's
    active endorsements are read in it).
    """
    document: dict[str, Any] = {"id": issuer_did(platform, org), "type": ["Profile"]}
    document["name"] = org.name
    stored = org.profile or {}
    for member in ("url", "email", "phone", "description"):
        if member in stored:
            document[member] = stored[member]
    if "image" in stored:
        document["image"] = {"id": stored["image"], "type": "Image"}
    if "address" in stored:
        document["address"] = dict(stored["address"])
    # active endorsements of the organisation (OB 3.0 Profile.endorsement; services.endorsed)
    return endorsed.with_endorsements(session, document, endorsements)


def _with_context(document: Mapping[str, Any]) -> dict[str, Any]:
    return {"@context": [VC2_CONTEXT, OB3_CONTEXT], **document}


def _org_by_slug(session: Session, slug: str) -> OrganisationRow:
    org = session.scalars(select(OrganisationRow).where(OrganisationRow.slug == slug)).one_or_none()
    if org is None:
        raise NotFound(f"no organisation {slug!r}", property="slug")
    return org


def public_profile(platform: Platform, slug: str) -> dict[str, Any]:
    """``GET /orgs/{slug}/profile``: the Profile as a stand-alone JSON-LD document."""
    with platform.reading() as session:
        org = _org_by_slug(session, slug)
        return _with_context(profile_document(session, platform, org))


def get_profile(platform: Platform, actor: Actor, org_id: str) -> dict[str, Any]:
    """The organisation's Profile, for its members (ORG_READ)."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        org = org_or_404(session, org_id)
        return _with_context(profile_document(session, platform, org))


def update_profile(
    platform: Platform, actor: Actor, *, org_id: str, fields: ProfileFields
) -> dict[str, Any]:
    """Replaces the Profile's members with ``fields`` (PUT: a member left out is cleared;
    ``name`` left out keeps the organisation's name). Returns the new Profile."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.PROFILE_WRITE)
        name, stored = _validated_profile(fields)
        org = org_or_404(session, org_id)
        before = dict(org.profile or {})
        if name is not None:
            org.name = name
        org.profile = stored
        document = profile_document(session, platform, org)
        # the document must be a valid OB 3.0 Profile: it is embedded in every credential
        try:
            Profile.model_validate(document, context=WIRE_CONTEXT)
        except ValidationError as e:  # pragma: no cover - the checks above are stricter
            raise InvalidInput(f"profile: {e.errors()[0]['msg']}", property="profile") from e
        audit(
            session,
            actor,
            action="profile.updated",
            org_id=org_id,
            target=document["id"],
            at=platform.clock.now(),
            details={
                "changed": sorted(k for k in {*before, *stored} if before.get(k) != stored.get(k))
                + (["name"] if name is not None else []),
            },
        )
        return _with_context(document)


# --- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A public key as the API lists it."""

    verification_method: str
    algorithm: str
    key_type: str
    status: str
    public_key_jwk: Mapping[str, str]
    public_key_multibase: str | None
    created_at: datetime
    retired_at: datetime | None


def _info(key: IssuerKey) -> KeyInfo:
    public = public_key_from_jwk(key.public_jwk)
    return KeyInfo(
        verification_method=key.verification_method,
        algorithm=key.algorithm,
        key_type=ALGORITHMS[key.algorithm],
        status=key.status,
        public_key_jwk=dict(key.public_jwk),
        public_key_multibase=public.to_multibase() if key.algorithm != "RS256" else None,
        created_at=key.created_at,
        retired_at=key.retired_at,
    )


def list_keys(platform: Platform, actor: Actor, org_id: str) -> list[KeyInfo]:
    """Every public key of the organisation, oldest first, retired ones included."""
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        org = org_or_404(session, org_id)
        did = issuer_did(platform, org)
    return [
        _info(k)
        for k in platform.keystore.public_keys(org_id)
        if k.verification_method.startswith(did + "#")
    ]


def _key_operation_context(platform: Platform, actor: Actor, org_id: str) -> str:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.KEYS_MANAGE)
        return issuer_did(platform, org_or_404(session, org_id))


def _find(platform: Platform, org_id: str, verification_method: str) -> KeyInfo:
    for key in platform.keystore.public_keys(org_id):
        if key.verification_method == verification_method:
            return _info(key)
    raise NotFound(f"no key {verification_method!r}", property="verification_method")


def create_key(platform: Platform, actor: Actor, *, org_id: str, algorithm: str) -> KeyInfo:
    """Creates the organisation's key of ``algorithm`` (P-256 or RSA for VC-JWT; Ed25519 is
    made on first use). A second active key of one algorithm is a Conflict: rotate it."""
    jose = jose_algorithm(algorithm)
    did = _key_operation_context(platform, actor, org_id)
    try:
        vm = platform.keystore.create_key(org_id, jose, did=did)
    except Conflict as e:
        raise Conflict(
            f"the organisation already has an active {ALGORITHMS[jose]} key; rotate it instead",
            property="algorithm",
        ) from e
    with platform.transaction() as session:
        audit(
            session,
            actor,
            action="key.created",
            org_id=org_id,
            target=vm,
            at=platform.clock.now(),
            details={"algorithm": jose},
        )
    return _find(platform, org_id, vm)


def rotate_key(
    platform: Platform, actor: Actor, *, org_id: str, algorithm: str = "Ed25519"
) -> KeyInfo:
    """Retires the active key of ``algorithm`` and makes its successor.

    The retired key stays in the DID document: what it signed keeps verifying.
    """
    jose = jose_algorithm(algorithm)
    did = _key_operation_context(platform, actor, org_id)
    if _active_key(platform, org_id, did, jose) is None:
        raise NotFound(
            f"the organisation has no active {ALGORITHMS[jose]} key to rotate",
            property="algorithm",
        )
    try:
        vm = platform.keystore.rotate(org_id, did=did, algorithm=jose)
    except InvalidKey as e:
        raise Conflict(e.message, property="algorithm") from e
    forget_signers(platform, org_id)
    retired = [
        k.verification_method
        for k in platform.keystore.public_keys(org_id)
        if k.algorithm == jose and k.status == "retired"
    ]
    with platform.transaction() as session:
        audit(
            session,
            actor,
            action="key.rotated",
            org_id=org_id,
            target=vm,
            at=platform.clock.now(),
            details={"algorithm": jose, "retired": retired[-1] if retired else None},
        )
    return _find(platform, org_id, vm)
