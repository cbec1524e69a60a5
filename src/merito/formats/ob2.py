"""Open Badges 2.0 (import only): assertions, badge classes, issuers, keys, revocation lists.

Pure: JSON in, typed records out, or ``InvalidCredential`` naming the property. The rules are
those of the OB 2.0 specification (IMS Global, 2018): §Assertion, §BadgeClass, §Profile,
§CryptographicKey, §RevocationList and "Badge Verification" (hosted and signed). Fetching the
linked documents is the caller's business (the wallet service, through the guarded fetcher).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from merito.errors import InvalidCredential
from merito.formats.json_depth import too_deep

__all__ = [
    "OB2_CONTEXTS",
    "Assertion",
    "BadgeClass",
    "CompactJws",
    "Issuer",
    "PublicKeyRecord",
    "hosted_origin_problem",
    "is_ob2",
    "parse_assertion",
    "parse_badge_class",
    "parse_datetime",
    "parse_issuer",
    "parse_jws",
    "parse_public_key",
    "recipient_matches",
    "revoked_ids",
]

OB2_CONTEXTS: Final = frozenset(
    {"https://w3id.org/openbadges/v2", "https://openbadgespec.org/v2/context.json"}
)
_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_DATETIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")


def _types(node: Mapping[str, Any]) -> list[str]:
    value = node.get("type")
    items = value if isinstance(value, list) else [value]
    return [t for t in items if isinstance(t, str)]


def is_ob2(document: Mapping[str, Any]) -> bool:
    """True for an OB 2.0 assertion: its context, or type Assertion with badge and recipient."""
    value = document.get("@context")
    urls = value if isinstance(value, list) else [value]
    if any(isinstance(u, str) and u in OB2_CONTEXTS for u in urls):
        return "Assertion" in _types(document) or "badge" in document
    return "Assertion" in _types(document) and "badge" in document and "recipient" in document


def parse_datetime(value: Any, prop: str) -> datetime:
    """An ISO 8601 date-time with a zone (OB 2.0 DateTime; a date alone is not accepted)."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value.strip()):
        raise InvalidCredential(
            f"{prop} must be an ISO 8601 date-time with a time zone, got {value!r}", property=prop
        )
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))


def _iri(value: Any, prop: str) -> str:
    if isinstance(value, Mapping):
        value = value.get("id")
    if not isinstance(value, str) or not value.strip():
        raise InvalidCredential(f"{prop} must be an IRI", property=prop)
    return value.strip()


def _text(node: Mapping[str, Any], prop: str, *, required: bool = True) -> str | None:
    value = node.get(prop)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidCredential(f"{prop} is required and must be text", property=prop)
    return value.strip()


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


@dataclass(frozen=True, slots=True)
class Assertion:
    """An OB 2.0 Assertion (§Assertion). ``badge`` is the BadgeClass IRI or embedded node."""

    id: str
    badge: str | Mapping[str, Any]
    recipient: Mapping[str, Any]
    issued_on: datetime
    expires: datetime | None
    verification_type: Literal["hosted", "signed"]
    creator: str | None
    revoked: bool
    revocation_reason: str | None
    document: Mapping[str, Any]

    @property
    def badge_id(self) -> str | None:
        if isinstance(self.badge, str):
            return self.badge
        found = self.badge.get("id")
        return found if isinstance(found, str) else None


def parse_assertion(document: Any) -> Assertion:
    """Validate an assertion's required properties (§Assertion) and read its verification."""
    if not isinstance(document, Mapping):
        raise InvalidCredential("an OB 2.0 assertion must be a JSON object", property="assertion")
    if "Assertion" not in _types(document):
        raise InvalidCredential("type must be 'Assertion'", property="type")
    assertion_id = _iri(document.get("id"), "id")
    badge = document.get("badge")
    if isinstance(badge, Mapping):
        badge_value: str | Mapping[str, Any] = badge
    else:
        badge_value = _iri(badge, "badge")
    recipient = document.get("recipient")
    if not isinstance(recipient, Mapping):
        raise InvalidCredential("recipient must be an IdentityObject", property="recipient")
    if not isinstance(recipient.get("identity"), str) or not isinstance(recipient.get("type"), str):
        raise InvalidCredential(
            "recipient needs a type and an identity (text)", property="recipient.identity"
        )
    issued_on = parse_datetime(document.get("issuedOn"), "issuedOn")
    expires_raw = document.get("expires")
    expires = None if expires_raw is None else parse_datetime(expires_raw, "expires")
    verification = document.get("verification")
    if not isinstance(verification, Mapping):
        raise InvalidCredential(
            "verification must be an object with type 'hosted' or 'signed'",
            property="verification",
        )
    kinds = {t.lower() for t in _types(verification)}
    kind: Literal["hosted", "signed"]
    if kinds & {"hosted", "hostedbadge"}:
        kind = "hosted"
    elif kinds & {"signed", "signedbadge"}:
        kind = "signed"
    else:
        raise InvalidCredential(
            "verification.type must be 'hosted' or 'signed'", property="verification.type"
        )
    creator = verification.get("creator")
    if creator is not None:
        creator = _iri(creator, "verification.creator")
    if kind == "hosted" and not _is_http(assertion_id):
        raise InvalidCredential(
            "a hosted assertion's id must be the HTTP(S) URL it is hosted at", property="id"
        )
    reason = document.get("revocationReason")
    return Assertion(
        id=assertion_id,
        badge=badge_value,
        recipient=recipient,
        issued_on=issued_on,
        expires=expires,
        verification_type=kind,
        creator=creator,
        revoked=document.get("revoked") is True,
        revocation_reason=reason if isinstance(reason, str) else None,
        document=document,
    )


@dataclass(frozen=True, slots=True)
class BadgeClass:
    id: str | None
    name: str
    issuer: str | Mapping[str, Any]

    @property
    def issuer_id(self) -> str | None:
        if isinstance(self.issuer, str):
            return self.issuer
        found = self.issuer.get("id")
        return found if isinstance(found, str) else None


def parse_badge_class(document: Any) -> BadgeClass:
    """§BadgeClass: name, description, image... at least name, criteria and issuer."""
    if not isinstance(document, Mapping):
        raise InvalidCredential("the badge class must be a JSON object", property="badge")
    if "BadgeClass" not in _types(document):
        raise InvalidCredential("the badge's type must be 'BadgeClass'", property="badge.type")
    name = _text(document, "name")
    if document.get("criteria") is None:
        raise InvalidCredential("the badge class has no criteria", property="badge.criteria")
    issuer = document.get("issuer")
    issuer_value: str | Mapping[str, Any] = (
        issuer if isinstance(issuer, Mapping) else _iri(issuer, "badge.issuer")
    )
    found = document.get("id")
    return BadgeClass(
        id=found if isinstance(found, str) else None, name=name or "", issuer=issuer_value
    )


@dataclass(frozen=True, slots=True)
class Issuer:
    """§Profile: who issued the badge; its keys, revocation list and hosted-origin rules."""

    id: str
    name: str
    public_keys: tuple[str, ...]
    revocation_list: str | None
    allowed_origins: tuple[str, ...]
    starts_with: tuple[str, ...]


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get("id")
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
    return tuple(out)


def parse_issuer(document: Any) -> Issuer:
    if not isinstance(document, Mapping):
        raise InvalidCredential("the issuer must be a JSON object", property="issuer")
    if not {"Issuer", "Profile"} & set(_types(document)):
        raise InvalidCredential(
            "the issuer's type must be 'Issuer' or 'Profile'", property="issuer.type"
        )
    issuer_id = _iri(document.get("id"), "issuer.id")
    name = _text(document, "name")
    verification = document.get("verification")
    verification = verification if isinstance(verification, Mapping) else {}
    revocation = document.get("revocationList")
    return Issuer(
        id=issuer_id,
        name=name or "",
        public_keys=_strings(document.get("publicKey")),
        revocation_list=_iri(revocation, "revocationList") if revocation is not None else None,
        allowed_origins=_strings(verification.get("allowedOrigins")),
        starts_with=_strings(verification.get("startsWith")),
    )


def hosted_origin_problem(assertion_id: str, issuer: Issuer) -> str | None:
    """Why a hosted assertion at ``assertion_id`` is not within the issuer's rules, or None.

    OB 2.0 "Hosted Verification": the assertion's id must be on an allowed origin (by default
    the issuer id's host) and, when the issuer's verification lists ``startsWith``, begin
    with one of those prefixes.
    """
    host = (urlsplit(assertion_id).hostname or "").lower()
    allowed = tuple(o.lower() for o in issuer.allowed_origins) or (
        (urlsplit(issuer.id).hostname or "").lower(),
    )
    if host not in allowed:
        return (
            f"the assertion is hosted at {host or assertion_id!r}, which is not an origin the "
            f"issuer allows ({', '.join(allowed)})"
        )
    if issuer.starts_with and not any(assertion_id.startswith(p) for p in issuer.starts_with):
        return (
            f"the assertion's URL {assertion_id} does not start with any of the issuer's "
            f"prefixes ({', '.join(issuer.starts_with)})"
        )
    return None


@dataclass(frozen=True, slots=True)
class PublicKeyRecord:
    """§CryptographicKey: a PEM public key and the profile that owns it."""

    id: str | None
    owner: str | None
    public_key_pem: str


def parse_public_key(document: Any) -> PublicKeyRecord:
    if not isinstance(document, Mapping):
        raise InvalidCredential("the key must be a JSON object", property="verification.creator")
    pem = document.get("publicKeyPem")
    if not isinstance(pem, str) or "BEGIN PUBLIC KEY" not in pem:
        raise InvalidCredential("the key has no publicKeyPem", property="publicKeyPem")
    owner = document.get("owner")
    key_id = document.get("id")
    return PublicKeyRecord(
        id=key_id if isinstance(key_id, str) else None,
        owner=owner if isinstance(owner, str) else None,
        public_key_pem=pem,
    )


def revoked_ids(document: Any) -> dict[str, str | None]:
    """§RevocationList: revoked assertion id -> reason (None when not given)."""
    if not isinstance(document, Mapping) or "RevocationList" not in _types(document):
        raise InvalidCredential(
            "the issuer's revocation list is not a RevocationList", property="revocationList"
        )
    entries = document.get("revokedAssertions", [])
    out: dict[str, str | None] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            out[entry] = None
        elif isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            reason = entry.get("revocationReason")
            out[entry["id"]] = reason if isinstance(reason, str) else None
    return out


@dataclass(frozen=True, slots=True)
class CompactJws:
    """A compact JWS (RFC 7515 §7.1) split into its parts; nothing verified yet."""

    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


def _b64(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as e:
        raise InvalidCredential(f"the JWS {what} is not base64url", property="jws") from e


def _json_object(raw: bytes, what: str) -> Mapping[str, Any]:
    try:
        text = raw.decode("utf-8")
        value = None if too_deep(text) else json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidCredential(f"the JWS {what} is not JSON", property="jws") from e
    if not isinstance(value, dict):
        raise InvalidCredential(f"the JWS {what} is not a JSON object", property="jws")
    return value


def parse_jws(token: str) -> CompactJws:
    token = token.strip()
    if not _JWS.fullmatch(token):
        raise InvalidCredential("not a compact JWS", property="jws")
    header_b64, payload_b64, signature_b64 = token.split(".")
    return CompactJws(
        header=_json_object(_b64(header_b64, "header"), "header"),
        payload=_json_object(_b64(payload_b64, "payload"), "payload"),
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=_b64(signature_b64, "signature"),
    )


def recipient_matches(recipient: Mapping[str, Any], identity: str) -> bool:
    """Whether ``identity`` (an email, URL...) is the assertion's recipient (§IdentityObject).

    Hashed identities are ``sha256$<hex>`` or ``md5$<hex>`` of identity + salt; emails compare
    case-insensitively, as issuers hash the lower-cased address.
    """
    expected = recipient.get("identity")
    if not isinstance(expected, str):
        return False
    candidates = {identity, identity.strip().lower()}
    if recipient.get("hashed") is not True:
        return any(hmac.compare_digest(expected.lower(), c.lower()) for c in candidates)
    salt = recipient.get("salt")
    salt = salt if isinstance(salt, str) else ""
    algorithm, _, digest = expected.partition("$")
    if algorithm.lower() not in ("sha256", "md5"):
        return False
    for candidate in candidates:
        computed = hashlib.new(algorithm.lower(), (candidate + salt).encode("utf-8")).hexdigest()
        if hmac.compare_digest(computed, digest.lower()):
            return True
    return False
