"""The learner's wallet: claim credentials Merito issued, import any badge, re-verify on view.

A wallet belongs to one user (``wallet_items.user_id``), not to an organisation: only its
owner reads or changes it; anyone else gets NotFound. Every change is audited (``org_id``
NULL: a learner's wallet is nobody's tenant data).

- ``claim``: the token of the claim link emailed at issuance proves the learner reads that
  address; the credential lands in their wallet (source ``claimed``), ``claimed_at`` is set.
  Claiming again is a no-op; a link already redeemed by another account is a Conflict.
- ``did_challenge`` / ``claim_did``: a learner proves control of a ``did:key`` by signing a
  challenge bound to their account (a compact JWS, the DID's key), then receives every
  credential issued to that DID.
- ``import_credential``: bytes (JSON, a JWT/JWS, a baked PNG/SVG) or a URL, sniffed, verified
  and stored with its report. Formats: OB 3.0 / VC 2.0 JSON-LD and VC-JWT, VC 1.1, OB 2.0
  (hosted and signed), Blockcerts v2/v3. What cannot become a wallet item raises one of the
  ``WalletImportError`` subclasses below, each with its own problem code.

    InvalidCredential
    └── WalletImportError
        ├── NotABadge             not a credential at all (an image without a baked badge...)
        ├── UnsupportedFormat     a credential Merito cannot read (unknown context, proof suite)
        ├── SignatureInvalid      the signature or hash does not verify: changed or forged
        ├── IssuerMismatch        signed by a key the issuer does not own
        ├── CredentialRevoked     the issuer revoked it
        └── SourceUnreachable     the badge (or a document it needs) could not be fetched

Outbound fetches go through ``platform.fetcher`` (SSRF guard, size/time/redirect bounds);
URLs of this platform (its status lists) are answered locally, without a network round trip.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.domain.ports import FetchResponse
from merito.domain.verification import Outcome, VerificationReport
from merito.errors import (
    Conflict,
    FetchError,
    InvalidCredential,
    InvalidInput,
    MeritoError,
    NotFound,
    PermissionDenied,
    ProofError,
)
from merito.formats import baking, blockcerts, jcs, ob2
from merito.formats.did_key import parse_did_key
from merito.formats.json_depth import too_deep
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import issuers, status_lists
from merito.services.platform import Actor, Platform, audit, enqueue, new_id
from merito.services.platform_verification import PlatformFetcher
from merito.storage.tables import (
    AuditLogRow,
    CredentialRow,
    OrganisationRow,
    OutboxRow,
    UserRow,
)
from merito.storage.tables_issuance import CredentialClaimRow
from merito.storage.tables_wallet import WalletItemRow
from merito.verification import VerifyOptions, verify
from merito.verification.blockcerts import verify_blockcerts
from merito.verification.ob2 import verify_ob2

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "MAX_IMPORT_BYTES",
    "ClaimPreview",
    "CredentialRevoked",
    "DidChallenge",
    "IssuerMismatch",
    "NotABadge",
    "SignatureInvalid",
    "SourceUnreachable",
    "UnsupportedFormat",
    "WalletImportError",
    "WalletItem",
    "account_actor",
    "claim",
    "claim_did",
    "claim_for_recipient_account",
    "claim_preview",
    "delete_item",
    "did_challenge",
    "get_item",
    "import_credential",
    "list_items",
    "set_visibility",
]

MAX_IMPORT_BYTES: Final = 5_000_000
#: the credential itself (JSON or JWT, also when baked in an image), as the verifier's limit
MAX_DOCUMENT_CHARS: Final = 1_000_000
_CHALLENGE_TTL: Final = timedelta(minutes=10)
_JSON_ACCEPT: Final = (
    "application/ld+json, application/vc+ld+json, application/vc+jwt, application/json, "
    "image/png, image/svg+xml;q=0.9, */*;q=0.1"
)
_VC_CONTEXTS: Final = (
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/2018/credentials/v1",
)
Visibility = Literal["private", "public"]
_COMPACT: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


# --- errors --------------------------------------------------------------------------------


class WalletImportError(InvalidCredential):
    """A badge that cannot go into a wallet; ``report`` is the verification that said so."""

    code = "wallet-import"

    def __init__(
        self,
        message: str,
        *,
        property: str | None = None,
        report: VerificationReport | None = None,
    ) -> None:
        super().__init__(message, property=property)
        self.report = report


class NotABadge(WalletImportError):
    code = "not-a-badge"


class UnsupportedFormat(WalletImportError):
    code = "unsupported-format"


class SignatureInvalid(WalletImportError):
    code = "signature-invalid"


class IssuerMismatch(WalletImportError):
    code = "issuer-mismatch"


class CredentialRevoked(WalletImportError):
    code = "credential-revoked"


class SourceUnreachable(WalletImportError):
    code = "source-unreachable"


# --- the item --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WalletItem:
    """One credential in a wallet, with its latest verification (``verdict``: valid, invalid,
    indeterminate). ``created`` says whether the call that returned it stored it."""

    id: str
    source: str
    format: str
    name: str
    issuer_id: str | None
    issuer_name: str | None
    credential_id: str | None
    credential_row_id: str | None
    document: Mapping[str, Any]
    raw: str | None
    verdict: str | None
    verification: Mapping[str, Any] | None
    verified_at: datetime | None
    visibility: str
    created_at: datetime
    created: bool = False

    @property
    def summary(self) -> str:
        if self.verification is None:
            return "Not verified yet."
        return str(self.verification.get("summary", ""))


def _item(row: WalletItemRow, *, created: bool = False) -> WalletItem:
    return WalletItem(
        id=row.id,
        source=row.source,
        format=row.format,
        name=row.name,
        issuer_id=row.issuer_id,
        issuer_name=row.issuer_name,
        credential_id=row.credential_id,
        credential_row_id=row.credential_row_id,
        document=row.document,
        raw=row.raw,
        verdict=row.verdict,
        verification=row.verification,
        verified_at=row.verified_at,
        visibility=row.visibility,
        created_at=row.created_at,
        created=created,
    )


def _owner(actor: Actor) -> str:
    """The wallet's owner: a signed-in user (API keys and OAuth clients act for organisations)."""
    if actor.kind != "user" or actor.user_id is None:
        raise PermissionDenied("a wallet belongs to a signed-in learner", property="actor")
    return actor.user_id


def _own_row(session: Session, user_id: str, item_id: str, *, lock: bool = False) -> WalletItemRow:
    query = select(WalletItemRow).where(
        WalletItemRow.id == item_id, WalletItemRow.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"wallet item {item_id!r} not found", property="item_id")
    return row


# --- verification ----------------------------------------------------------------------------


class _LocalFirstFetcher:
    """This platform's own status lists from the database; everything else via the fetcher."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._status_prefix = platform.url("/status/")

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        if url.startswith(self._status_prefix):
            list_id = url.removeprefix(self._status_prefix)
            try:
                published = status_lists.published(self._platform, list_id)
            except NotFound as e:
                raise FetchError(f"fetching {url} failed: HTTP 404 Not Found") from e
            body = json.dumps(published.document).encode("utf-8")
            return FetchResponse(
                status=200, body=body, content_type="application/vc+ld+json", url=url
            )
        if self._platform.fetcher is None:
            raise FetchError(f"refused to fetch {url}: outbound fetching is not configured")
        return self._platform.fetcher.fetch(url, accept=accept)


def _hosted_documents(platform: Platform, issuer: str | None) -> dict[str, dict[str, Any]]:
    """The DID document of ``issuer`` when it is one of this platform's organisations (read
    from the database: one organisation, not every issuer Merito hosts)."""
    if not issuer or not issuer.startswith("did:web:") or ":orgs:" not in issuer:
        return {}
    slug = issuer.rsplit(":orgs:", 1)[1]
    with platform.reading() as session:
        org = session.scalar(select(OrganisationRow).where(OrganisationRow.slug == slug))
    if org is None:
        return {}
    document = issuers.did_document(platform, org)
    return {issuer: document} if document.get("id") == issuer else {}


def _options(platform: Platform, issuer: str | None) -> VerifyOptions:
    fetcher = _LocalFirstFetcher(platform)
    return VerifyOptions(
        clock=platform.clock,
        fetcher=fetcher,
        resolver=VerificationMethodResolver(
            fetcher=fetcher, documents=_hosted_documents(platform, issuer)
        ),
    )


def _issuer_hint(subject: str | dict[str, Any]) -> str | None:
    """The issuer id a credential names (JSON text, a dict or a VC-JWT), unverified."""
    document: Any = subject
    if isinstance(subject, str):
        text = subject.strip()
        if _COMPACT.fullmatch(text):
            payload = _b64_json(text.split(".")[1])
            if not isinstance(payload, dict):
                return None
            document = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
            if "issuer" not in document and isinstance(payload.get("iss"), str):
                return str(payload["iss"])
        else:
            try:
                document = None if too_deep(text) else json.loads(text)
            except ValueError:
                return None
    if not isinstance(document, dict):
        return None
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


@dataclass(frozen=True, slots=True)
class _Received:
    """What was received, sniffed: the format, what to verify, what to store."""

    format: str
    #: the verifier's input: JSON text / compact JWT (vc), dict / JWS / URL (ob2), dict (blockcerts)
    subject: str | dict[str, Any]
    raw: str | None
    family: Literal["vc", "ob2", "blockcerts"]


def _verify(platform: Platform, received: _Received) -> VerificationReport:
    if received.family == "ob2":
        return verify_ob2(
            received.subject, fetcher=_LocalFirstFetcher(platform), clock=platform.clock
        )
    if received.family == "blockcerts":
        if not isinstance(received.subject, dict):  # pragma: no cover - sniffing makes dicts
            raise NotABadge("a Blockcerts certificate is a JSON object")
        return verify_blockcerts(received.subject, clock=platform.clock)
    return verify(received.subject, options=_options(platform, _issuer_hint(received.subject)))


def _verdict(report: VerificationReport) -> str:
    if report.failures:
        return "invalid"
    if any(c.outcome is Outcome.WARNING for c in report.checks):
        return "indeterminate"
    return "valid"


def _refusal(report: VerificationReport) -> WalletImportError | None:
    """The error for a report that must not become a wallet item, or None to store it.

    Expired or schema-invalid credentials are kept (with verdict ``invalid``): they are still
    the learner's history. Forged, revoked, unreadable or unreachable ones are refused.
    """
    for check in report.failures:
        details = check.details
        reason = details.get("reason")
        text = check.message
        if reason == "unreachable" or (
            check.id in ("proof", "issuer", "status")
            and any(
                w in text for w in ("could not be fetched", "could not fetch", "cannot resolve")
            )
        ):
            return SourceUnreachable(text, report=report)
        if check.id in ("parse", "format"):
            return NotABadge(f"this is not a badge Merito can read: {text}", report=report)
        if check.id == "context":
            return UnsupportedFormat(text, report=report)
        if check.id == "proof":
            problem = details.get("problem")
            if problem in ("MALFORMED_PROOF_ERROR",) or "not supported" in text.lower():
                return UnsupportedFormat(text, report=report)
            return SignatureInvalid(text, report=report)
        if check.id == "issuer":
            return IssuerMismatch(text, report=report)
        if check.id == "status" and (reason == "revoked" or "revoked" in text.lower()):
            return CredentialRevoked(text, report=report)
    return None


# --- sniffing --------------------------------------------------------------------------------


def _b64_json(segment: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        text = raw.decode("utf-8")
        return None if too_deep(text) else json.loads(text)
    except (binascii.Error, ValueError):
        return None


def _sniff_compact(token: str) -> _Received:
    """A compact JWS: a VC-JWT (OB 3.0 / VC) or a signed OB 2.0 assertion."""
    parts = token.split(".")
    payload = _b64_json(parts[1]) if len(parts) == 3 else None
    if not isinstance(payload, dict):
        raise NotABadge("this token is not a JWT with a JSON payload", property="credential")
    if ob2.is_ob2(payload):
        return _Received("ob2-signed", token, token, "ob2")
    return _Received("vc-jwt", token, token, "vc")


def _contexts(document: Mapping[str, Any]) -> list[str]:
    value = document.get("@context")
    items = value if isinstance(value, list) else [value]
    return [c for c in items if isinstance(c, str)]


def _sniff_json(document: dict[str, Any], text: str) -> _Received:
    version = blockcerts.blockcerts_version(document)
    if version is not None:
        return _Received(f"blockcerts-{version}", document, None, "blockcerts")
    if ob2.is_ob2(document):
        verification = document.get("verification")
        kind = verification.get("type") if isinstance(verification, Mapping) else None
        fmt = "ob2-signed" if str(kind).lower() in ("signed", "signedbadge") else "ob2-hosted"
        return _Received(fmt, document, None, "ob2")
    contexts = _contexts(document)
    if _VC_CONTEXTS[1] in contexts:
        return _Received("vc1.1", text, None, "vc")
    if _VC_CONTEXTS[0] in contexts:
        types = document.get("type")
        types = types if isinstance(types, list) else [types]
        fmt = (
            "ob3"
            if {"OpenBadgeCredential", "AchievementCredential"} & set(types)
            or any("purl.imsglobal.org/spec/ob/v3p0" in c for c in contexts)
            else "vc2"
        )
        return _Received(fmt, text, None, "vc")
    raise NotABadge(
        "this JSON is not a badge: no Open Badges, Verifiable Credentials or Blockcerts "
        "@context, and not an OB 2.0 assertion",
        property="credential",
    )


def _sniff_text(text: str, *, url: str | None) -> _Received:
    text = text.strip().lstrip("\ufeff")
    if len(text) > MAX_DOCUMENT_CHARS:
        # canonicalizing (Blockcerts, JSON-LD) is superlinear: a badge is a few KB
        raise InvalidInput(
            f"the credential is {len(text):,} characters, the limit is {MAX_DOCUMENT_CHARS:,}",
            property="credential",
        )
    if text.startswith("{"):
        if too_deep(text):
            raise NotABadge("the JSON is nested too deeply to be a badge", property="credential")
        try:
            document = json.loads(text)
        except ValueError as e:
            raise NotABadge(f"this is not valid JSON: {e}", property="credential") from e
        if not isinstance(document, dict):  # pragma: no cover - '{' parses to a dict
            raise NotABadge("this JSON is not an object", property="credential")
        received = _sniff_json(document, text)
        if received.format == "ob2-hosted" and url is not None:
            # fetched from its URL: verify (and pin) it at the URL it came from
            return _Received("ob2-hosted", url, None, "ob2")
        return received
    if _COMPACT.fullmatch(text):
        return _sniff_compact(text)
    if text.lower().startswith(("http://", "https://")) and len(text.split()) == 1:
        return _Received("ob2-hosted", text, None, "ob2")
    raise NotABadge(
        "this is neither JSON, a JWT nor a badge image (PNG or SVG)", property="credential"
    )


def _sniff(data: bytes, *, url: str | None, content_type: str | None) -> _Received:
    if not data.strip():
        raise NotABadge("the file is empty", property="file")
    image = data.startswith(b"\x89PNG\r\n\x1a\n") or (
        (content_type or "").startswith("image/")
        or data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    )
    if image:
        try:
            baked = baking.extract(data, max_bytes=MAX_IMPORT_BYTES)
        except InvalidInput as e:
            raise NotABadge(f"this image is not a badge: {e.message}", property="file") from e
        if baked.kind == "ob2-url":
            return _Received("ob2-hosted", baked.payload, None, "ob2")
        if baked.kind == "ob2-jws":
            return _Received("ob2-signed", baked.payload, baked.payload, "ob2")
        return _sniff_text(baked.payload, url=None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotABadge(
            "this file is neither text (JSON, JWT) nor a PNG or SVG image", property="file"
        ) from e
    return _sniff_text(text, url=url)


def _fetch_source(platform: Platform, url: str) -> tuple[bytes, str | None, str]:
    """The badge at ``url``: this platform's own credentials from its database, any other
    through the guarded fetcher."""
    try:
        response = PlatformFetcher(platform, platform.fetcher).fetch(url, accept=_JSON_ACCEPT)
    except FetchError as e:
        raise SourceUnreachable(e.message, property="url") from e
    if not 200 <= response.status < 300:
        raise SourceUnreachable(f"fetching {url} failed: HTTP {response.status}", property="url")
    return response.body, response.content_type or None, response.url or url


# --- what to store -----------------------------------------------------------------------------


def _text_of(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Mapping):
        for key in ("en", "en-US", "en-GB"):
            if isinstance(value.get(key), str):
                return str(value[key]).strip()
    return None


def _described(report: VerificationReport, received: _Received) -> dict[str, Any]:
    """The stored fields: document, name, issuer id and name, credential id."""
    credential = dict(report.credential) if report.credential is not None else None
    if credential is None:
        if isinstance(received.subject, dict):
            credential = received.subject
        else:
            raise NotABadge("the credential could not be read", report=report)
    issuer = credential.get("issuer")
    name: str | None
    if received.family == "ob2":
        badge = credential.get("badge")
        badge = badge if isinstance(badge, Mapping) else {}
        issuer = badge.get("issuer")
        name = _text_of(badge.get("name"))
    else:
        subject = credential.get("credentialSubject")
        subject = subject[0] if isinstance(subject, list) and subject else subject
        achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
        claim_node = subject.get("claim") if isinstance(subject, Mapping) else None
        badge = credential.get("badge")
        name = (
            _text_of(achievement.get("name") if isinstance(achievement, Mapping) else None)
            or _text_of(claim_node.get("name") if isinstance(claim_node, Mapping) else None)
            or _text_of(badge.get("name") if isinstance(badge, Mapping) else None)
            or _text_of(credential.get("name"))
        )
        if isinstance(badge, Mapping) and issuer is None:
            issuer = badge.get("issuer")
    issuer_id = issuer if isinstance(issuer, str) else None
    issuer_name = None
    if isinstance(issuer, Mapping):
        issuer_id = issuer.get("id") if isinstance(issuer.get("id"), str) else None
        issuer_name = _text_of(issuer.get("name"))
    credential_id = credential.get("id")
    return {
        "document": credential,
        "name": (name or "Untitled credential")[:300],
        "issuer_id": (issuer_id or report.issuer or "")[:500] or None,
        "issuer_name": issuer_name[:300] if issuer_name else None,
        "credential_id": credential_id[:500] if isinstance(credential_id, str) else None,
    }


def _content_hash(received: _Received, document: Mapping[str, Any]) -> str:
    if received.raw is not None:
        return hashlib.sha256(received.raw.encode("utf-8")).hexdigest()
    return hashlib.sha256(jcs.canonicalize(document)).hexdigest()


def _store(
    platform: Platform,
    actor: Actor,
    *,
    user_id: str,
    received: _Received,
    report: VerificationReport,
    source: Literal["claimed", "imported"],
    credential_row_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    session: Session,
) -> WalletItem:
    fields = _described(report, received)
    content_hash = _content_hash(received, fields["document"])
    existing = session.scalar(
        select(WalletItemRow)
        .where(WalletItemRow.user_id == user_id, WalletItemRow.content_hash == content_hash)
        .with_for_update()
    )
    now = platform.clock.now()
    if existing is not None:
        if source == "claimed" and existing.credential_row_id is None:
            existing.source, existing.credential_row_id = "claimed", credential_row_id
            audit(
                session,
                actor,
                action="wallet.item_linked",
                org_id=None,
                target=existing.id,
                at=now,
                details={"credential_row_id": credential_row_id, **(details or {})},
            )
        return _item(existing)
    row = WalletItemRow(
        id=new_id(),
        user_id=user_id,
        credential_row_id=credential_row_id,
        source=source,
        format=received.format,
        raw=received.raw,
        content_hash=content_hash,
        verification=report.to_dict(),
        verdict=_verdict(report),
        verified_at=now,
        visibility="private",
        created_at=now,
        **fields,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor,
        action=f"wallet.item_{source}",
        org_id=None,
        target=row.id,
        at=now,
        details={
            "format": row.format,
            "verdict": row.verdict,
            "credential_id": row.credential_id,
            **(details or {}),
        },
    )
    return _item(row, created=True)


# --- import ----------------------------------------------------------------------------------


def import_credential(
    platform: Platform,
    actor: Actor,
    *,
    data: bytes | None = None,
    url: str | None = None,
    filename: str | None = None,
    content_type: str | None = None,
) -> WalletItem:
    """Sniff, verify and store a badge from ``data`` (a file's bytes) or ``url``.

    Importing the same credential again returns the stored item (``created`` False).
    Raises a ``WalletImportError`` subclass when it cannot be a wallet item.
    """
    user_id = _owner(actor)
    if (data is None) == (url is None):
        raise InvalidInput("give either a file or a URL to import", property="data")
    fetched_from: str | None = None
    if url is not None:
        url = url.strip()
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInput("the URL must start with http:// or https://", property="url")
        data, content_type, fetched_from = _fetch_source(platform, url)
    if data is None:  # pragma: no cover - one of data/url, checked above
        raise InvalidInput("give either a file or a URL to import", property="data")
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            f"the file is {len(data):,} bytes, the limit is {MAX_IMPORT_BYTES:,}",
            property="file",
        )
    received = _sniff(data, url=fetched_from, content_type=content_type)
    report = _verify(platform, received)
    refusal = _refusal(report)
    if refusal is not None:
        raise refusal
    with platform.transaction() as session:
        return _store(
            platform,
            actor,
            user_id=user_id,
            received=received,
            report=report,
            source="imported",
            details={
                "from": "url" if url is not None else "file",
                "url": url,
                "filename": filename,
            },
            session=session,
        )


# --- reading and changing ----------------------------------------------------------------------


def list_items(platform: Platform, actor: Actor) -> list[WalletItem]:
    """The owner's items, newest first, with their last stored verification."""
    user_id = _owner(actor)
    with platform.reading() as session:
        rows = session.scalars(
            select(WalletItemRow)
            .where(WalletItemRow.user_id == user_id)
            .order_by(WalletItemRow.created_at.desc(), WalletItemRow.id)
        )
        return [_item(row) for row in rows]


def _received_of(row: WalletItemRow) -> _Received:
    document = dict(row.document)
    if row.format.startswith("blockcerts"):
        return _Received(row.format, document, None, "blockcerts")
    if row.format == "ob2-hosted":
        return _Received(row.format, str(document.get("id", "")), None, "ob2")
    if row.format == "ob2-signed":
        return _Received(row.format, row.raw or document, row.raw, "ob2")
    if row.raw is not None:
        return _Received(row.format, row.raw, row.raw, "vc")
    return _Received(row.format, json.dumps(document), None, "vc")


def get_item(platform: Platform, actor: Actor, item_id: str) -> WalletItem:
    """One item, verified again now (a status can change: revoked, expired); the new report
    is stored. A change of verdict is audited."""
    user_id = _owner(actor)
    with platform.reading() as session:
        row = _own_row(session, user_id, item_id)
        received = _received_of(row)
    report = _verify(platform, received)
    verdict = _verdict(report)
    with platform.transaction() as session:
        row = _own_row(session, user_id, item_id, lock=True)
        previous = row.verdict
        row.verification, row.verdict = report.to_dict(), verdict
        row.verified_at = platform.clock.now()
        if previous != verdict:
            audit(
                session,
                actor,
                action="wallet.item_reverified",
                org_id=None,
                target=row.id,
                details={"from": previous, "to": verdict, "summary": report.summary},
            )
        session.flush()
        return _item(row)


def delete_item(platform: Platform, actor: Actor, item_id: str) -> None:
    user_id = _owner(actor)
    with platform.transaction() as session:
        row = _own_row(session, user_id, item_id, lock=True)
        audit(
            session,
            actor,
            action="wallet.item_deleted",
            org_id=None,
            target=row.id,
            details={"credential_id": row.credential_id, "name": row.name},
        )
        session.delete(row)


def set_visibility(platform: Platform, actor: Actor, item_id: str, visibility: str) -> WalletItem:
    """``public`` items may appear on the learner's portfolio; ``private`` ones never do."""
    user_id = _owner(actor)
    if visibility not in ("private", "public"):
        raise InvalidInput("visibility must be 'private' or 'public'", property="visibility")
    with platform.transaction() as session:
        row = _own_row(session, user_id, item_id, lock=True)
        if row.visibility != visibility:
            audit(
                session,
                actor,
                action="wallet.visibility_changed",
                org_id=None,
                target=row.id,
                details={"from": row.visibility, "to": visibility},
            )
            row.visibility = visibility
        session.flush()
        return _item(row)


# --- claiming by email link --------------------------------------------------------------------


def _issued_received(row: CredentialRow) -> _Received:
    if row.jwt is not None:
        return _Received("vc-jwt", row.jwt, row.jwt, "vc")
    document = dict(row.document)
    text = json.dumps(document)
    return _Received(_sniff_json(document, text).format, text, None, "vc")


_CLAIM_ACTION: Final = "wallet.claim_link_redeemed"


def _claimed_event(
    session: Session, platform: Platform, *, credential: CredentialRow, user_id: str, item_id: str
) -> None:
    """Queues ``webhook.credential.claimed``: the credential is now the account's (pathways
    re-evaluate, outgoing webhooks forward it). Once per credential and account."""
    key = f"webhook.credential.claimed:{credential.id}:{user_id}"
    if session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)) is not None:
        return
    enqueue(
        session,
        topic="webhook.credential.claimed",
        payload={
            "event": "credential.claimed",
            "org_id": credential.org_id,
            "credential_row_id": credential.id,
            "credential_id": credential.credential_id,
            "user_id": user_id,
            "wallet_item_id": item_id,
            "occurred_at": platform.clock.now().isoformat(),
        },
        idempotency_key=key,
        org_id=credential.org_id,
    )


def claim(platform: Platform, actor: Actor, token: str) -> WalletItem:
    """Redeem a claim link's token: the credential goes into the caller's wallet.

    The token was sent to the recipient's address only, so holding it proves the learner
    reads that mailbox; the audit entry records that proof. Claiming again returns the same
    item; a token another account already redeemed is a Conflict.
    """
    user_id = _owner(actor)
    token = (token or "").strip()
    if not token or len(token) > 200:
        raise NotFound("this claim link is not valid", property="token")
    token_hash = hashlib.sha256(token.encode("utf-8")).hexdigest()
    with platform.reading() as session:
        found = session.scalar(
            select(CredentialClaimRow).where(CredentialClaimRow.token_hash == token_hash)
        )
        if found is None:
            raise NotFound("this claim link is not valid (or no longer exists)", property="token")
        credential = session.get(CredentialRow, found.credential_row_id)
        if credential is None:  # pragma: no cover - the claim cascades with its credential
            raise NotFound("the credential of this claim link no longer exists")
        if credential.revoked_at is not None:
            raise CredentialRevoked(
                "the issuer revoked this credential, so it cannot be claimed", property="token"
            )
        received = _issued_received(credential)
    report = _verify(platform, received)
    with platform.transaction() as session:
        row = session.scalar(
            select(CredentialClaimRow)
            .where(CredentialClaimRow.token_hash == token_hash)
            .with_for_update()
        )
        if row is None:  # pragma: no cover - deleted between the two transactions
            raise NotFound("this claim link is not valid (or no longer exists)", property="token")
        if row.claimed_at is not None:
            # the first redeemer keeps the link, even after removing the item; a credential
            # the system delivered belongs to the account holding it
            claimer = session.scalar(
                select(AuditLogRow.actor).where(
                    AuditLogRow.action == _CLAIM_ACTION, AuditLogRow.target == f"claim:{row.id}"
                )
            )
            holders = set(
                session.scalars(
                    select(WalletItemRow.user_id).where(
                        WalletItemRow.credential_row_id == row.credential_row_id
                    )
                )
            )
            if (claimer is not None and claimer != actor.audit_name) or holders - {user_id}:
                raise Conflict(
                    "this credential was already claimed by another account", property="token"
                )
        credential = session.get(CredentialRow, row.credential_row_id)
        if credential is None:  # pragma: no cover - cascades
            raise NotFound("the credential of this claim link no longer exists")
        account = session.get(UserRow, user_id)
        proof = {
            "proof": "claim link emailed to the recipient",
            "recipient": credential.recipient,
            "account_email": account.email if account is not None else None,
            "credential_id": credential.credential_id,
        }
        item = _store(
            platform,
            actor,
            user_id=user_id,
            received=received,
            report=report,
            source="claimed",
            credential_row_id=credential.id,
            details=proof,
            session=session,
        )
        if row.claimed_at is None:
            row.claimed_at = platform.clock.now()
            audit(
                session,
                actor,
                action=_CLAIM_ACTION,
                org_id=None,
                target=f"claim:{row.id}",
                details={**proof, "wallet_item_id": item.id},
            )
            _claimed_event(
                session, platform, credential=credential, user_id=user_id, item_id=item.id
            )
        return item


# --- claiming by DID ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DidChallenge:
    """What the learner signs: a compact JWS (their did:key's key, ``kid`` a DID URL of it)
    whose payload is ``{"nonce": challenge, "aud": audience}``, before ``expires_at``."""

    did: str
    challenge: str
    audience: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _check_did(did: str) -> str:
    did = (did or "").strip()
    if not did.startswith("did:key:"):
        raise InvalidInput("only did:key DIDs can be proven here", property="did")
    try:
        parse_did_key(did)
    except MeritoError as e:
        raise InvalidInput(f"{did!r} is not a valid did:key: {e.message}", property="did") from e
    return did


def did_challenge(platform: Platform, actor: Actor, did: str) -> DidChallenge:
    """A challenge bound to the caller's account, the DID and a deadline.

    It needs no server state: whoever signs it must hold the DID's key, and the signed
    challenge names the account, so a captured proof is useless to any other account.
    """
    user_id = _owner(actor)
    did = _check_did(did)
    expires = platform.clock.now().astimezone(UTC) + _CHALLENGE_TTL
    body = {
        "sub": user_id,
        "did": did,
        "exp": int(expires.timestamp()),
        "n": secrets.token_urlsafe(16),
    }
    challenge = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return DidChallenge(
        did=did, challenge=challenge, audience=platform.base_url, expires_at=expires
    )


def _proven_did(platform: Platform, user_id: str, proof: str) -> str:
    """The DID a signed challenge proves control of; ProofError for any fault."""
    try:
        jws = ob2.parse_jws(proof)
    except InvalidCredential as e:
        raise ProofError(f"the proof is not a compact JWS: {e.message}", property="proof") from e
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not kid.startswith("did:key:"):
        raise ProofError("the JWS header's kid must be a did:key DID URL", property="kid")
    did = kid.split("#", 1)[0]
    nonce = jws.payload.get("nonce")
    body = _b64_json(nonce) if isinstance(nonce, str) else None
    if not isinstance(body, dict):
        raise ProofError("the JWS payload's nonce is not a challenge Merito made", property="nonce")
    if body.get("sub") != user_id or body.get("did") != did:
        raise ProofError("this challenge was made for another account or DID", property="nonce")
    exp = body.get("exp")
    if not isinstance(exp, int) or exp <= platform.clock.now().timestamp():
        raise ProofError("the challenge has expired: ask for a new one", property="nonce")
    if jws.payload.get("aud") != platform.base_url:
        raise ProofError(f"the JWS payload's aud must be {platform.base_url!r}", property="aud")
    vm_id = kid if "#" in kid else f"{did}#{did.removeprefix('did:key:')}"
    method = VerificationMethodResolver().resolve(vm_id)
    if jws.header.get("alg") != method.public_key.algorithm:
        raise ProofError(
            f"alg {jws.header.get('alg')!r} does not fit the DID's key "
            f"({method.public_key.algorithm})",
            property="alg",
        )
    if not method.public_key.verify(jws.signing_input, jws.signature):
        raise ProofError("the signature does not verify with the DID's key", property="proof")
    return did


def claim_did(platform: Platform, actor: Actor, *, proof: str) -> list[WalletItem]:
    """Verify a signed DID challenge, then put every credential issued to that DID (and not
    revoked) into the caller's wallet. Returns the wallet items, new and already held."""
    user_id = _owner(actor)
    did = _proven_did(platform, user_id, proof)
    with platform.reading() as session:
        issued = [
            (row.id, _issued_received(row))
            for row in session.scalars(
                select(CredentialRow)
                .where(CredentialRow.recipient == did, CredentialRow.revoked_at.is_(None))
                .order_by(CredentialRow.issued_at)
            )
        ]
    reports = [(row_id, received, _verify(platform, received)) for row_id, received in issued]
    with platform.transaction() as session:
        audit(
            session,
            actor,
            action="wallet.did_proven",
            org_id=None,
            target=did,
            details={"credentials": len(reports)},
        )
        held = set(
            session.scalars(
                select(WalletItemRow.credential_row_id).where(WalletItemRow.user_id == user_id)
            )
        )
        items = []
        for row_id, received, report in reports:
            item = _store(
                platform,
                actor,
                user_id=user_id,
                received=received,
                report=report,
                source="claimed",
                credential_row_id=row_id,
                details={"proof": "signed did:key challenge", "did": did},
                session=session,
            )
            credential = session.get(CredentialRow, row_id)
            if row_id not in held and credential is not None:
                _claimed_event(
                    session, platform, credential=credential, user_id=user_id, item_id=item.id
                )
            items.append(item)
        return items


# --- seeding ----------------------------------------------------------------------------------


def claim_for_recipient_account(
    platform: Platform, actor: Actor, *, credential_row_id: str
) -> WalletItem:
    """Put an issued credential into the wallet of the account whose email is its recipient.

    Only for the system (the demo seeding): account emails are not proven, so a learner
    claims with the emailed link instead. Idempotent; audited as the system actor.
    """
    if actor.kind != "system":
        raise PermissionDenied(
            "only the system may deliver a credential without its claim link", property="actor"
        )
    with platform.reading() as session:
        credential = session.get(CredentialRow, credential_row_id)
        if credential is None:
            raise NotFound(f"credential {credential_row_id!r} not found")
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == credential.recipient))
        if user_id is None:
            raise NotFound(
                f"no account has the recipient's email {credential.recipient!r}",
                property="recipient",
            )
        received = _issued_received(credential)
    report = _verify(platform, received)
    with platform.transaction() as session:
        item = _store(
            platform,
            actor,
            user_id=user_id,
            received=received,
            report=report,
            source="claimed",
            credential_row_id=credential_row_id,
            details={"proof": "delivered by the system to the recipient's account"},
            session=session,
        )
        for row in session.scalars(
            select(CredentialClaimRow).where(
                CredentialClaimRow.credential_row_id == credential_row_id,
                CredentialClaimRow.claimed_at.is_(None),
            )
        ):
            row.claimed_at = platform.clock.now()
        return item


def account_actor(platform: Platform, email: str) -> Actor:
    """The learner with ``email`` as an actor, for an operator's command line (which holds
    the database and the master key, so it already has every account's authority)."""
    with platform.reading() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email.strip().lower()))
    if user_id is None:
        raise NotFound(f"no account has the email {email!r}", property="user")
    return Actor(kind="user", id=user_id, user_id=user_id)


@dataclass(frozen=True, slots=True)
class ClaimPreview:
    """What a claim link is for, shown before the learner confirms."""

    name: str
    issuer_name: str | None
    claimed: bool


def claim_preview(platform: Platform, actor: Actor, token: str) -> ClaimPreview:
    """The credential behind a claim token (changes nothing); NotFound for an unknown one."""
    _owner(actor)
    token = (token or "").strip()
    if not token or len(token) > 200:
        raise NotFound("this claim link is not valid", property="token")
    token_hash = hashlib.sha256(token.encode("utf-8")).hexdigest()
    with platform.reading() as session:
        found = session.scalar(
            select(CredentialClaimRow).where(CredentialClaimRow.token_hash == token_hash)
        )
        credential = (
            session.get(CredentialRow, found.credential_row_id) if found is not None else None
        )
        if found is None or credential is None:
            raise NotFound("this claim link is not valid (or no longer exists)", property="token")
        document = dict(credential.document)
        claimed = found.claimed_at is not None
    received = _Received("ob3", document, None, "vc")
    report = VerificationReport(checks=(), credential=document)
    fields = _described(report, received)
    return ClaimPreview(name=fields["name"], issuer_name=fields["issuer_name"], claimed=claimed)
