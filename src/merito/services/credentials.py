"""Issued credentials: issue one or in bulk, revoke, suspend, re-issue, list, and the public view.

Each issuance is one transaction: the credential exactly as signed, its status-list position,
an audit entry and its outbox messages (``email.credential_issued`` with a claim link for an
email recipient, ``webhook.credential.issued``, and ``ledger.leaf`` for anchoring) commit
together or not at all. An idempotency key makes a retry return the first credential.

Bulk issuance streams a CSV or JSON-lines file: rows are validated one by one (a bad row is
reported with its number and reason, the good ones issue), batches of ``batch_size`` rows
commit together, and the pure build-and-sign step can run in worker processes while the
parent writes the previous batch. Every row gets an idempotency key (given, or derived from
the job key and the row's content), so running the same file again issues nothing twice.

Credentials carry one BitstringStatusListEntry: the OB 3.0 JSON Schema allows a single
``credentialStatus`` object. Its purpose is ``revocation`` (the default) or ``suspension``
(chosen at issuance): a revocation entry can be revoked; a suspension entry can be suspended,
unsuspended, and revoked (its bit is then set for good).
"""

from __future__ import annotations

import csv
import hashlib
import html
import itertools
import json
import multiprocessing
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from sqlalchemy import ARRAY, Select, String, Table, bindparam, func, or_, select, true, update
from sqlalchemy.orm import Session

from merito.domain.achievements import Achievement, Profile
from merito.domain.identifiers import WIRE_CONTEXT
from merito.domain.ports import OutgoingEmail
from merito.errors import Conflict, InvalidInput, MeritoError, NotFound
from merito.formats import jcs, ob3
from merito.proofs import data_integrity
from merito.proofs.keys import Signer
from merito.services import catalog, endorsed, issuers, issuing, notifications, status_lists
from merito.services.issuing import DEFAULT_PROOF_FORMAT, PROOF_FORMATS
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    authorize,
    new_id,
    org_or_404,
)
from merito.storage.bulk import JsonText, dumps, insert_tables
from merito.storage.tables import (
    AchievementVersionRow,
    AuditLogRow,
    Base,
    CredentialRow,
    OrganisationRow,
    OutboxRow,
    utcnow,
)
from merito.storage.tables_issuance import CredentialClaimRow

__all__ = [
    "BULK_COLUMNS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_PROOF_FORMAT",
    "BulkProgress",
    "BulkReport",
    "BulkRowResult",
    "CredentialPage",
    "CredentialRecord",
    "PublicCredential",
    "default_workers",
    "find_by_key",
    "get_credential",
    "issue_bulk",
    "issue_credential",
    "issue_in",
    "iter_bulk",
    "job_key_of",
    "list_credentials",
    "operator_actor",
    "public_credential",
    "reissue",
    "resolve_org",
    "revoke",
    "revoke_in",
    "suspend",
    "unsuspend",
]

CredentialState = Literal["active", "suspended", "revoked", "expired"]
CREDENTIAL_STATES: Final[tuple[CredentialState, ...]] = (
    "active",
    "suspended",
    "revoked",
    "expired",
)
BulkFormat = Literal["csv", "jsonl"]
#: the bulk file's columns (CSV header / JSON-lines keys); only ``recipient`` is required
#: (``achievement_id`` too, unless the job names a default achievement)
BULK_COLUMNS: Final = (
    "recipient",
    "achievement_id",
    "valid_until",
    "idempotency_key",
    "evidence_url",
    "evidence_narrative",
)
DEFAULT_BATCH_SIZE: Final = 500
MAX_REASON_LENGTH: Final = 1000
MAX_IDEMPOTENCY_KEY: Final = 200
MAX_FIELD_LENGTH: Final = 2000
#: the longest bulk line read (a longer one is rejected, not held in memory)
MAX_LINE_CHARS: Final = 64 * 1024
MAX_PAGE_SIZE: Final = 200
#: batches signing ahead of the one being written (bounds memory: depth x batch documents)
_PIPELINE_DEPTH: Final = 2


# --- values handed to adapters -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """An issued credential as its issuer sees it (adapters never see the ORM row)."""

    id: str
    org_id: str
    #: the ``id`` of the credential document: its public URL
    credential_id: str
    achievement_id: str
    achievement_version: int
    recipient: str
    proof_format: str
    document: dict[str, Any]
    jwt: str | None
    issued_at: datetime
    valid_until: datetime | None
    state: CredentialState
    revoked_at: datetime | None
    revocation_reason: str | None
    suspended: bool
    replaced_by_id: str | None
    status_list_id: str | None
    status_list_index: int | None
    status_purpose: str | None
    idempotency_key: str | None
    #: False when an idempotency key returned a credential issued earlier
    created: bool = True

    @property
    def url(self) -> str:
        return self.credential_id

    @property
    def serialized(self) -> str | dict[str, Any]:
        """What a holder presents: the compact JWT for vc-jwt, else the signed document."""
        return self.jwt if self.jwt is not None else self.document


@dataclass(frozen=True, slots=True)
class CredentialPage:
    items: list[CredentialRecord]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class PublicCredential:
    """What anyone with the link may see: the credential itself and its current state."""

    id: str
    url: str
    proof_format: str
    document: dict[str, Any]
    jwt: str | None
    state: CredentialState
    issued_at: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    replaced_by_url: str | None
    issuer_name: str | None
    issuer_id: str | None
    achievement_name: str | None
    achievement_description: str | None


@dataclass(frozen=True, slots=True)
class BulkRowResult:
    """The outcome of one row of a bulk file (``row`` is its line number, header = 1)."""

    row: int
    outcome: Literal["issued", "duplicate", "rejected"]
    recipient: str = ""
    achievement_id: str = ""
    credential_row_id: str | None = None
    credential_url: str | None = None
    reason: str | None = None
    property: str | None = None


@dataclass(frozen=True, slots=True)
class BulkProgress:
    rows: int
    issued: int
    duplicates: int
    rejected: int


@dataclass(slots=True)
class BulkReport:
    """Totals of a bulk job, and every rejected row with its reason."""

    job_key: str
    issued: int = 0
    duplicates: int = 0
    rejected: list[BulkRowResult] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.issued + self.duplicates + len(self.rejected)

    def add(self, result: BulkRowResult) -> None:
        if result.outcome == "issued":
            self.issued += 1
        elif result.outcome == "duplicate":
            self.duplicates += 1
        else:
            self.rejected.append(result)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_key": self.job_key,
            "rows": self.rows,
            "issued": self.issued,
            "duplicates": self.duplicates,
            "rejected": [
                {"row": r.row, "reason": r.reason, "property": r.property} for r in self.rejected
            ],
        }


# --- the pure build-and-sign step (runs in worker processes for bulk jobs) --------------------


@dataclass(frozen=True, slots=True)
class _SigningJob:
    row_id: str
    credential_id: str
    recipient: str
    achievement_key: str
    status_entry: dict[str, Any]
    valid_until: datetime | None
    evidence: tuple[dict[str, Any], ...]
    #: OB 3.0 Result entries of credentialSubject.result (assessment awards; bulk: none)
    results: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class _Signed:
    row_id: str
    #: the credential as signed, serialised where it was signed (the parent only writes it)
    document: JsonText
    jwt: str | None
    leaf_sha256: str
    #: the notification (OutgoingEmail fields as JSON), its idempotency key, and the
    #: claim link's row id and the SHA-256 of its token
    email: JsonText | None = None
    email_key: str | None = None
    claim_id: str | None = None
    claim_token_hash: str | None = None


@dataclass(frozen=True, slots=True)
class _SigningBatch:
    issued_at: datetime
    proof_format: str
    #: email recipients are notified (a claim link) when set: (issuer name, base URL, dev)
    notify: tuple[str, str, bool] | None
    #: achievement version id -> its OB 3.0 Achievement JSON
    achievements: dict[str, dict[str, Any]]
    jobs: tuple[_SigningJob, ...]


_worker: dict[str, Any] = {}


def _init_worker(signer: Signer, profile: dict[str, Any]) -> None:
    _worker["signer"] = signer
    _worker["profile"] = Profile.model_validate(profile, context=WIRE_CONTEXT)
    _worker["achievements"] = {}


def _sign_in_worker(batch: _SigningBatch) -> list[_Signed]:
    return _sign_batch(batch, signer=_worker["signer"], profile=_worker["profile"], cache=_worker)


def _sign_batch(
    batch: _SigningBatch, *, signer: Signer, profile: Profile, cache: dict[str, Any]
) -> list[_Signed]:
    parsed: dict[str, Achievement] = cache.setdefault("achievements", {})
    out: list[_Signed] = []
    for job in batch.jobs:
        achievement = parsed.get(job.achievement_key)
        if achievement is None:
            achievement = issuing.parse_achievement(batch.achievements[job.achievement_key])
            parsed[job.achievement_key] = achievement
        document, jwt, unsigned = _issue(
            job, batch, achievement=achievement, signer=signer, profile=profile, cache=cache
        )
        leaf = hashlib.sha256(jcs.canonicalize(unsigned)).hexdigest()
        email = email_key = claim_id = token_hash = None
        if batch.notify is not None and _is_email(job.recipient):
            payload, token_hash = _notification(
                job,
                achievement_name=achievement.name or "Achievement",
                notify=batch.notify,
                cache=cache,
            )
            email, email_key, claim_id = (
                JsonText(dumps(payload)),
                payload["idempotency_key"],
                new_id(),
            )
        out.append(
            _Signed(
                job.row_id,
                JsonText(dumps(document)),
                jwt,
                leaf,
                email,
                email_key,
                claim_id,
                token_hash,
            )
        )
    return out


#: the formats whose credential is signed as built (a vc-jwt one is always built in full)
_TEMPLATED_FORMATS: Final = frozenset({"eddsa-rdfc-2022", "eddsa-jcs-2022"})


def _issue(
    job: _SigningJob,
    batch: _SigningBatch,
    *,
    achievement: Achievement,
    signer: Signer,
    profile: Profile,
    cache: dict[str, Any],
) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """(signed document, JWT, document without proof) of ``job``.

    A batch issues an achievement to many recipients at one moment: its credentials differ
    only in id, recipient, validUntil, evidence and status entry. The first of each shape goes
    through ``issuing.issue_credential`` (built, checked against the OB 3.0 schema, signed);
    the next ones are that credential with those five fields replaced by the values
    ``ob3.build_credential`` would write (from the same helpers, in the same key order), then
    signed: building and schema-checking each one took about a third of a signer's time.
    """
    recipient = issuing.recipient_json(job.recipient)
    shape = (
        job.achievement_key,
        isinstance(recipient, str),
        job.valid_until is None,
        tuple(tuple(item) for item in job.evidence),
    )
    moment = (batch.issued_at, batch.proof_format)
    held = cache.get("templates")
    if held is None or held[0] != moment:  # one batch's templates at a time
        held = cache["templates"] = (moment, {})
    templates: dict[Any, dict[str, Any]] = held[1]
    template = templates.get(shape)
    if template is None or batch.proof_format not in _TEMPLATED_FORMATS or job.results:
        issued = issuing.issue_credential(
            achievement=achievement,
            recipient=job.recipient,
            signer=signer,
            issued_at=batch.issued_at,
            issuer=profile,
            proof_format=batch.proof_format,
            valid_until=job.valid_until,
            credential_id=job.credential_id,
            evidence=job.evidence,
            results=job.results,
            credential_status=job.status_entry,
        )
        unsigned = {k: v for k, v in issued.document.items() if k != "proof"}
        if batch.proof_format in _TEMPLATED_FORMATS and not job.results:
            templates[shape] = unsigned
        return issued.document, issued.jwt, unsigned
    # shallow copies: the shared parts (contexts, issuer, achievement) are never modified
    unsigned = dict(template)
    unsigned["id"] = job.credential_id
    subject = dict(unsigned["credentialSubject"])
    if isinstance(recipient, str):
        subject["id"] = recipient
    else:
        subject["identifier"] = [recipient]
    unsigned["credentialSubject"] = subject
    if job.valid_until is not None:
        unsigned["validUntil"] = ob3.format_datetime(job.valid_until)
    if job.evidence:
        unsigned["evidence"] = [dict(item) for item in job.evidence]
    unsigned["credentialStatus"] = dict(job.status_entry)
    signed = data_integrity.sign(
        unsigned, signer=signer, cryptosuite=batch.proof_format, created=batch.issued_at
    )
    return signed, None, unsigned


#: placeholders of the links in a batch's email template (escape-proof, never sent)
_CLAIM_PLACEHOLDER: Final = "https://placeholder.merito.invalid/claim"
_PUBLIC_PLACEHOLDER: Final = "https://placeholder.merito.invalid/credential"


def _notification(
    job: _SigningJob,
    *,
    achievement_name: str,
    notify: tuple[str, str, bool],
    cache: dict[str, Any],
) -> tuple[dict[str, Any], str]:
    """The credential_issued email with a fresh claim link; only the token's hash is kept.

    The email is rendered once per achievement and issuer (with placeholder links), then each
    row gets its own links: the links are URL-safe, so they read the same escaped in the HTML.
    """
    issuer_name, base_url, dev = notify
    token = secrets.token_urlsafe(32)
    claim_url = base_url.rstrip("/") + f"/claim/{token}"
    key = f"credential-issued:{job.row_id}"
    templates: dict[tuple[str, str, str, bool], OutgoingEmail | None] = cache.setdefault(
        "email_templates", {}
    )
    template_key = (achievement_name, issuer_name, base_url, dev)
    if template_key not in templates:
        rendered = notifications.credential_issued_email(
            recipient_email=job.recipient,
            learner_name=None,
            achievement_name=achievement_name,
            issuer_name=issuer_name,
            claim_url=_CLAIM_PLACEHOLDER,
            credential_url=_PUBLIC_PLACEHOLDER,
            idempotency_key=key,
        )
        parts = [rendered.text] + ([rendered.html] if rendered.html is not None else [])
        usable = all(p in part for part in parts for p in (_CLAIM_PLACEHOLDER, _PUBLIC_PLACEHOLDER))
        templates[template_key] = rendered if usable else None
    template = templates[template_key]
    links_safe = html.escape(claim_url) == claim_url and html.escape(job.credential_id) == (
        job.credential_id
    )
    if template is None or not links_safe:
        email = notifications.credential_issued_email(
            recipient_email=job.recipient,
            learner_name=None,
            achievement_name=achievement_name,
            issuer_name=issuer_name,
            claim_url=claim_url,
            credential_url=job.credential_id,
            dev=dev,
            idempotency_key=key,
        )
        payload = {
            "to": email.to,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
            "headers": dict(email.headers),
            "idempotency_key": email.idempotency_key,
        }
    else:
        _check_link(claim_url, property="claim_url", dev=dev, cache=cache)
        _check_link(job.credential_id, property="credential_url", dev=dev, cache=cache)
        # the template's subject and headers were checked when it was built: only the
        # address and the key are new (an OutgoingEmail of them checks them the same way)
        OutgoingEmail(to=job.recipient, subject="", text="", idempotency_key=key)

        def personal(text: str) -> str:
            return text.replace(_CLAIM_PLACEHOLDER, claim_url).replace(
                _PUBLIC_PLACEHOLDER, job.credential_id
            )

        payload = {
            "to": job.recipient,
            "subject": template.subject,
            "text": personal(template.text),
            "html": personal(template.html) if template.html is not None else None,
            "headers": dict(template.headers),
            "idempotency_key": key,
        }
    return payload, hashlib.sha256(token.encode()).hexdigest()


#: the last path segment of a claim link (a URL-safe token) or of a credential URL (a UUID)
_SAFE_SEGMENT: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _check_link(url: str, *, property: str, dev: bool, cache: dict[str, Any]) -> None:
    """``notifications.check_link``, once per link prefix: a batch's links differ only in a
    last path segment of URL-safe characters, which cannot change the scheme, the host or
    the user information, only the length."""
    prefix, _, segment = url.rpartition("/")
    checked: set[tuple[str, str, bool]] = cache.setdefault("checked_links", set())
    if (
        (prefix, property, dev) in checked
        and len(url) <= notifications.MAX_URL_LENGTH
        and segment
        and _SAFE_SEGMENT.issuperset(segment)
    ):
        return
    notifications.check_link(url, property=property, dev=dev)
    parts = urlsplit(prefix)
    if parts.netloc and parts.path.startswith("/") and not parts.query and not parts.fragment:
        checked.add((prefix, property, dev))


class _SigningPool:
    """Signs batches in-process (``workers`` 0) or spread over worker processes."""

    def __init__(self, *, workers: int, signer: Signer, profile: Profile) -> None:
        self._signer = signer
        self._profile = profile
        self._cache: dict[str, Any] = {}
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            # forkserver: no fork of this (possibly threaded) process with its DB connections
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_init_worker,
                initargs=(signer, profile.to_json()),
            )

    def submit(self, batch: _SigningBatch) -> Callable[[], list[_Signed]]:
        """Starts signing ``batch``; the returned function waits for the results, in order."""
        if self._pool is None or len(batch.jobs) < 2:
            results = _sign_batch(
                batch, signer=self._signer, profile=self._profile, cache=self._cache
            )
            return lambda: results
        parts = max(1, min(self._workers, len(batch.jobs)))
        size = -(-len(batch.jobs) // parts)
        futures: list[Future[list[_Signed]]] = [
            self._pool.submit(_sign_in_worker, replace(batch, jobs=batch.jobs[i : i + size]))
            for i in range(0, len(batch.jobs), size)
        ]
        return lambda: [signed for f in futures for signed in f.result()]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# --- issuer and achievement context -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Issuer:
    org_id: str
    signer: Signer
    profile: Profile
    name: str


@dataclass(frozen=True, slots=True)
class _AchievementRef:
    version_row_id: str
    achievement_id: str
    version: int
    document: dict[str, Any]
    name: str


def _issuer(
    session: Session,
    platform: Platform,
    org: OrganisationRow,
    endorsements: Mapping[str, list[dict[str, Any]]] | None = None,
) -> _Issuer:
    # the active key read in this transaction; the unsealed signer is kept per process
    signer = issuers.signer_for(platform, org.id, session=session, org=org)
    document = dict(issuers.profile_document(session, platform, org, endorsements))
    try:
        profile = Profile.model_validate(document, context=WIRE_CONTEXT)
    except ValueError as e:
        raise InvalidInput(f"the issuer profile is not valid: {e}", property="issuer") from e
    if profile.id != signer.controller:
        raise Conflict(
            f"the issuer profile id {profile.id!r} is not the controller of the signing key "
            f"({signer.controller!r})",
            property="issuer",
        )
    return _Issuer(org.id, signer, profile, profile.name or org.name)


def _achievement(
    session: Session, *, org_id: str, achievement_id: str, issuer_id: str | None = None
) -> tuple[_AchievementRef, dict[str, list[dict[str, Any]]]]:
    """The published version to embed, and the active endorsements read with its own: of the
    achievement and of ``issuer_id`` (the issuer profile's id), in one statement."""
    row = catalog.published_version(session, org_id=org_id, achievement_id=achievement_id)
    subject = row.document.get("id")
    subjects = [s for s in (subject, issuer_id) if isinstance(s, str)]
    known = endorsed.active_documents_of(session, subjects)
    # with its active endorsements (OB 3.0 Achievement.endorsement; services.endorsed)
    document = endorsed.with_endorsements(session, dict(row.document), known)
    issuing.parse_achievement(document)  # refuse a stored document that cannot be issued
    name = document.get("name")
    ref = _AchievementRef(
        version_row_id=row.id,
        achievement_id=row.achievement_id,
        version=row.version,
        document=document,
        name=name if isinstance(name, str) and name.strip() else "Achievement",
    )
    return ref, known


# --- input checks --------------------------------------------------------------------------------


def _recipient(value: Any) -> str:
    """The recipient as stored: an email lower-cased, a DID/URL as given."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            "recipient is empty: give an email address or a DID", property="recipient"
        )
    text = value.strip()
    if len(text) > 500:
        raise InvalidInput("recipient is longer than 500 characters", property="recipient")
    email = _is_email(text)
    if email:
        text = text.lower()
    try:
        if email:
            # the rules of issuing.recipient_of, and an address the mailer accepts
            local, _, domain = text.partition("@")
            if not local or "." not in domain:
                raise InvalidInput("not an email address")
            OutgoingEmail(to=text, subject="-", text="", idempotency_key="-")
        else:
            issuing.recipient_of(text)
    except InvalidInput:
        what = "a valid email address" if email else "an email address, a DID or a URL"
        raise InvalidInput(f"recipient {text!r} is not {what}", property="recipient") from None
    return text


def _is_email(text: str) -> bool:
    return "@" in text and ":" not in text


def _check_proof_format(proof_format: str) -> str:
    if proof_format not in PROOF_FORMATS:
        raise InvalidInput(
            f"proof_format {proof_format!r} is not one of {', '.join(PROOF_FORMATS)}",
            property="proof_format",
        )
    return proof_format


def _check_valid_until(valid_until: datetime | None, now: datetime) -> datetime | None:
    if valid_until is None:
        return None
    if valid_until.tzinfo is None or valid_until.utcoffset() is None:
        raise InvalidInput(
            "valid_until needs a timezone (e.g. 2027-06-30T00:00:00Z)", property="valid_until"
        )
    valid_until = valid_until.astimezone(UTC).replace(microsecond=0)
    if valid_until <= now:
        raise InvalidInput("valid_until is not in the future", property="valid_until")
    return valid_until


def _parse_valid_until(text: str) -> datetime:
    """An ISO 8601 date-time with a zone, or a date (valid to the end of that day, UTC)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"valid_until {text!r} is not an ISO 8601 date (2027-06-30) or date-time",
            property="valid_until",
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            f"valid_until {text!r} needs a timezone, e.g. {text}Z", property="valid_until"
        )
    return moment


def _evidence(items: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"evidence[{n}] must be an object", property=f"evidence[{n}]")
        evidence = dict(item)
        evidence.setdefault("type", ["Evidence"])
        url = evidence.get("id")
        if url is not None and not _is_web_url(url):
            raise InvalidInput(
                f"evidence[{n}].id must be an http(s) URL", property=f"evidence[{n}].id"
            )
        out.append(evidence)
    return tuple(out)


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInput(
            f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            property="idempotency_key",
        )
    return key


# --- storing an issuance -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pending:
    """One credential about to be stored, with what its outbox messages need."""

    job: _SigningJob
    signed: _Signed
    achievement: _AchievementRef
    slot: status_lists.StatusSlot
    idempotency_key: str | None
    details: dict[str, Any]


def _notify_with(platform: Platform, issuer: _Issuer) -> tuple[str, str, bool]:
    """What the pure step needs to write the email: an http base URL is a development one
    (``check_link`` then allows http, to this machine only)."""
    return issuer.name, platform.base_url, urlsplit(platform.base_url).scheme == "http"


def _store(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    issuer: _Issuer,
    items: Sequence[_Pending],
    issued_at: datetime,
    proof_format: str,
) -> list[dict[str, Any]]:
    """Credential rows, claim links, audit entries and outbox messages, in bulk inserts; the
    credential rows' values as written."""
    if not items:
        return []
    credentials: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for item in items:
        job, signed = item.job, item.signed
        credentials.append(
            {
                "id": job.row_id,
                "org_id": issuer.org_id,
                "credential_id": job.credential_id,
                "achievement_version_id": item.achievement.version_row_id,
                "recipient": job.recipient,
                "document": signed.document,
                "status_list_id": item.slot.list_id,
                "status_list_index": item.slot.index,
                "issued_at": issued_at,
                "suspended": False,
                "idempotency_key": item.idempotency_key,
                "proof_format": proof_format,
                "jwt": signed.jwt,
                "valid_until": job.valid_until,
                "replaced_by_id": None,
            }
        )
        audits.append(
            {
                "actor": actor.audit_name,
                "org_id": issuer.org_id,
                "action": "credential.issued",
                "target": job.credential_id,
                "ip": actor.ip,
                "at": issued_at,
                "details": {
                    "credential_row_id": job.row_id,
                    "achievement_id": item.achievement.achievement_id,
                    "achievement_version": item.achievement.version,
                    "proof_format": proof_format,
                    "status_list_id": item.slot.list_id,
                    "status_list_index": item.slot.index,
                    "idempotency_key": item.idempotency_key,
                    **item.details,
                },
            }
        )
        if signed.email is not None and signed.claim_token_hash is not None:
            claims.append(
                {
                    "id": signed.claim_id or new_id(),
                    "org_id": issuer.org_id,
                    "credential_row_id": job.row_id,
                    "token_hash": signed.claim_token_hash,
                    "created_at": issued_at,
                    "claimed_at": None,
                }
            )
            messages.append(
                _message(
                    issuer.org_id,
                    "email.credential_issued",
                    signed.email,
                    signed.email_key or f"credential-issued:{job.row_id}",
                )
            )
        messages.append(
            _message(
                issuer.org_id,
                "webhook.credential.issued",
                {
                    "event": "credential.issued",
                    "org_id": issuer.org_id,
                    "credential_row_id": job.row_id,
                    "credential_id": job.credential_id,
                    "achievement_id": item.achievement.achievement_id,
                    "achievement_version": item.achievement.version,
                    "proof_format": proof_format,
                    "issued_at": issued_at.isoformat(),
                },
                f"webhook.credential.issued:{job.row_id}",
            )
        )
        messages.append(
            _message(
                issuer.org_id,
                "ledger.leaf",
                {
                    "credential_row_id": job.row_id,
                    "credential_id": job.credential_id,
                    # SHA-256 of the RFC 8785 (JCS) form of the credential without its proof
                    "sha256": signed.leaf_sha256,
                    "canonicalization": "jcs-without-proof",
                },
                f"ledger.leaf:{job.row_id}",
            )
        )
    # the outbox's created_at/available_at defaults, once for the whole batch
    now = utcnow()
    for message in messages:
        message["created_at"] = message["available_at"] = now
    # one COPY (PostgreSQL) or executemany (SQLite) per table: no ORM, no per-row SQLAlchemy
    insert_tables(
        session,
        [
            (_table(CredentialRow), credentials),
            (_table(CredentialClaimRow), claims),
            (_table(AuditLogRow), audits),
            (_table(OutboxRow), messages),
        ],
    )
    return credentials


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]


def _message(
    org_id: str, topic: str, payload: dict[str, Any] | JsonText, key: str
) -> dict[str, Any]:
    return {"org_id": org_id, "topic": topic, "payload": payload, "idempotency_key": key}


# --- reading rows --------------------------------------------------------------------------------


def _select() -> Select[CredentialRow, str, int]:
    return select(
        CredentialRow, AchievementVersionRow.achievement_id, AchievementVersionRow.version
    ).join(AchievementVersionRow, AchievementVersionRow.id == CredentialRow.achievement_version_id)


def _state(row: CredentialRow, now: datetime) -> CredentialState:
    if row.revoked_at is not None:
        return "revoked"
    if row.suspended:
        return "suspended"
    if row.valid_until is not None and row.valid_until <= now:
        return "expired"
    return "active"


def _purpose(document: Mapping[str, Any]) -> str | None:
    status = document.get("credentialStatus")
    if isinstance(status, Mapping):
        purpose = status.get("statusPurpose")
        return purpose if isinstance(purpose, str) else None
    return None


def _record(
    row: CredentialRow, achievement_id: str, version: int, now: datetime, *, created: bool = True
) -> CredentialRecord:
    return CredentialRecord(
        id=row.id,
        org_id=row.org_id,
        credential_id=row.credential_id,
        achievement_id=achievement_id,
        achievement_version=version,
        recipient=row.recipient,
        proof_format=row.proof_format,
        document=row.document,
        jwt=row.jwt,
        issued_at=row.issued_at,
        valid_until=row.valid_until,
        state=_state(row, now),
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        suspended=row.suspended,
        replaced_by_id=row.replaced_by_id,
        status_list_id=row.status_list_id,
        status_list_index=row.status_list_index,
        status_purpose=_purpose(row.document),
        idempotency_key=row.idempotency_key,
        created=created,
    )


def _load(
    session: Session, platform: Platform, *, org_id: str, credential_id: str, created: bool = True
) -> CredentialRecord:
    found = session.execute(
        _select().where(CredentialRow.org_id == org_id, CredentialRow.id == credential_id)
    ).first()
    if found is None:
        raise NotFound(f"credential {credential_id!r} not found", property="credential_id")
    row, achievement_id, version = found
    return _record(row, achievement_id, version, platform.clock.now(), created=created)


def _row(session: Session, *, org_id: str, credential_id: str) -> CredentialRow:
    row = session.scalars(
        select(CredentialRow).where(
            CredentialRow.org_id == org_id, CredentialRow.id == credential_id
        )
    ).first()
    if row is None:
        raise NotFound(f"credential {credential_id!r} not found", property="credential_id")
    return row


def _by_key(
    session: Session, platform: Platform, *, org_id: str, key: str
) -> CredentialRecord | None:
    found = session.execute(
        _select().where(CredentialRow.org_id == org_id, CredentialRow.idempotency_key == key)
    ).first()
    if found is None:
        return None
    row, achievement_id, version = found
    return _record(row, achievement_id, version, platform.clock.now(), created=False)


def find_by_key(
    session: Session, platform: Platform, *, org_id: str, key: str
) -> CredentialRecord | None:
    """The credential issued with ``idempotency_key`` ``key``, in the caller's transaction."""
    return _by_key(session, platform, org_id=org_id, key=key)


def _same_request(record: CredentialRecord, *, recipient: str, achievement_id: str) -> None:
    if record.recipient != recipient or record.achievement_id != achievement_id:
        raise Conflict(
            "this idempotency_key was already used to issue a different credential",
            property="idempotency_key",
        )


# --- issuing one ---------------------------------------------------------------------------------


def _issue_in(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    recipient: str,
    proof_format: str,
    valid_until: datetime | None,
    evidence: tuple[dict[str, Any], ...],
    idempotency_key: str | None,
    notify: bool,
    status_purpose: str,
    details: dict[str, Any],
    results: tuple[dict[str, Any], ...] = (),
    slot: status_lists.StatusSlot | None = None,
) -> CredentialRecord:
    org = org_or_404(session, org_id)
    achievement, endorsements = _achievement(
        session,
        org_id=org_id,
        achievement_id=achievement_id,
        issuer_id=issuers.issuer_did(platform, org),
    )
    issuer = _issuer(session, platform, org, endorsements)
    now = platform.clock.now().astimezone(UTC).replace(microsecond=0)
    valid_until = _check_valid_until(valid_until, now)
    if slot is None:
        # the first write: positions are allocated only once everything above checked out
        (slot,) = status_lists.allocate(
            session, platform, org_id=org_id, purpose=status_purpose, count=1
        )
    row_id = new_id()
    job = _SigningJob(
        row_id=row_id,
        credential_id=platform.url(f"/credentials/{row_id}"),
        recipient=recipient,
        achievement_key=achievement.version_row_id,
        status_entry=slot.entry(),
        valid_until=valid_until,
        evidence=evidence,
        results=results,
    )
    batch = _SigningBatch(
        issued_at=now,
        proof_format=proof_format,
        notify=_notify_with(platform, issuer) if notify else None,
        achievements={achievement.version_row_id: achievement.document},
        jobs=(job,),
    )
    (signed,) = _sign_batch(batch, signer=issuer.signer, profile=issuer.profile, cache={})
    (written,) = _store(
        session,
        platform,
        actor,
        issuer=issuer,
        items=[_Pending(job, signed, achievement, slot, idempotency_key, details)],
        issued_at=now,
        proof_format=proof_format,
    )
    # the record of the row just written, from what was written (no read back)
    row = CredentialRow(**{**written, "document": json.loads(signed.document)})
    return _record(row, achievement.achievement_id, achievement.version, now)


def issue_credential(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    recipient: str,
    proof_format: str = DEFAULT_PROOF_FORMAT,
    valid_until: datetime | None = None,
    evidence: Iterable[Mapping[str, Any]] = (),
    idempotency_key: str | None = None,
    notify: bool = True,
    status_purpose: Literal["revocation", "suspension"] = "revocation",
) -> CredentialRecord:
    """Issues one credential of the achievement's published version to ``recipient`` (an
    email, stored salted-hashed in the credential, or a DID/URL).

    The same ``idempotency_key`` again returns the first credential (``created`` False) and
    changes nothing; reused for another recipient or achievement it is a Conflict.
    """
    recipient = _recipient(recipient)
    proof_format = _check_proof_format(proof_format)
    idempotency_key = _check_key(idempotency_key)
    items = _evidence(evidence)
    if status_purpose not in status_lists.PURPOSES:
        raise InvalidInput(
            f"status_purpose must be one of {', '.join(status_lists.PURPOSES)}",
            property="status_purpose",
        )

    def reserve(count: int) -> list[status_lists.StatusSlot]:
        with platform.transaction() as session:
            authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
            return status_lists.allocate(
                session, platform, org_id=org_id, purpose=status_purpose, count=count
            )

    # the position comes from this process's reserve, not a lock held until our commit
    slot = status_lists.take_reserved(
        platform, org_id=org_id, purpose=status_purpose, reserve=reserve
    )
    unused = [slot]
    try:
        with platform.transaction() as session:
            authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
            if idempotency_key is not None:
                earlier = _by_key(session, platform, org_id=org_id, key=idempotency_key)
                if earlier is not None:
                    _same_request(earlier, recipient=recipient, achievement_id=achievement_id)
                    return earlier
            record = _issue_in(
                session,
                platform,
                actor,
                org_id=org_id,
                achievement_id=achievement_id,
                recipient=recipient,
                proof_format=proof_format,
                valid_until=valid_until,
                evidence=items,
                idempotency_key=idempotency_key,
                notify=notify,
                status_purpose=status_purpose,
                details={},
                slot=slot,
            )
        unused = []  # committed
        return record
    except Conflict as e:
        # a concurrent request with the same key committed first: answer with its credential
        if idempotency_key is None or e.property != "idempotency_key":
            raise
        with platform.reading() as session:
            earlier = _by_key(session, platform, org_id=org_id, key=idempotency_key)
        if earlier is None:
            raise
        _same_request(earlier, recipient=recipient, achievement_id=achievement_id)
        return earlier
    finally:
        status_lists.put_back(platform, org_id=org_id, slots=unused)


def issue_in(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    recipient: str,
    evidence: Iterable[Mapping[str, Any]] = (),
    idempotency_key: str,
    notify: bool = True,
    results: Iterable[Mapping[str, Any]] = (),
    details: Mapping[str, Any] | None = None,
) -> CredentialRecord:
    """Issues one credential inside the caller's transaction, for a service that commits it
    with rows of its own (a pathway award, an assessment award with its OB 3.0 ``results``).
    The caller has authorized ``actor``. A concurrent issue with the same key raises Conflict
    (property ``idempotency_key``) at flush or commit.
    """
    recipient = _recipient(recipient)
    key = _check_key(idempotency_key)
    earlier = _by_key(session, platform, org_id=org_id, key=idempotency_key)
    if earlier is not None:
        _same_request(earlier, recipient=recipient, achievement_id=achievement_id)
        return earlier
    return _issue_in(
        session,
        platform,
        actor,
        org_id=org_id,
        achievement_id=achievement_id,
        recipient=recipient,
        proof_format=DEFAULT_PROOF_FORMAT,
        valid_until=None,
        evidence=_evidence(evidence),
        idempotency_key=key,
        notify=notify,
        status_purpose="revocation",
        details=dict(details or {}),
        results=tuple(dict(r) for r in results),
    )


# --- reading -------------------------------------------------------------------------------------


def get_credential(
    platform: Platform, actor: Actor, *, org_id: str, credential_id: str
) -> CredentialRecord:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_READ)
        return _load(session, platform, org_id=org_id, credential_id=credential_id)


def list_credentials(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    state: str | None = None,
    recipient: str | None = None,
    achievement_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CredentialPage:
    """The organisation's credentials, newest first, filtered by state/recipient/achievement."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}", property="limit")
    if offset < 0:
        raise InvalidInput("offset must be >= 0", property="offset")
    if state is not None and state not in CREDENTIAL_STATES:
        raise InvalidInput(f"state must be one of {', '.join(CREDENTIAL_STATES)}", property="state")
    now = platform.clock.now()
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_READ)
        conditions: list[Any] = [CredentialRow.org_id == org_id]
        if recipient is not None:
            text = recipient.strip()
            conditions.append(
                CredentialRow.recipient == (text.lower() if _is_email(text) else text)
            )
        if achievement_id is not None:
            conditions.append(AchievementVersionRow.achievement_id == achievement_id)
        if state == "revoked":
            conditions.append(CredentialRow.revoked_at.is_not(None))
        elif state == "suspended":
            conditions += [CredentialRow.revoked_at.is_(None), CredentialRow.suspended.is_(True)]
        elif state == "expired":
            conditions += [
                CredentialRow.revoked_at.is_(None),
                CredentialRow.suspended.is_(False),
                CredentialRow.valid_until <= now,
            ]
        elif state == "active":
            conditions += [
                CredentialRow.revoked_at.is_(None),
                CredentialRow.suspended.is_(False),
                or_(CredentialRow.valid_until.is_(None), CredentialRow.valid_until > now),
            ]
        total = session.scalar(
            select(func.count())
            .select_from(CredentialRow)
            .join(
                AchievementVersionRow,
                AchievementVersionRow.id == CredentialRow.achievement_version_id,
            )
            .where(*conditions)
        )
        rows = session.execute(
            _select()
            .where(*conditions)
            .order_by(CredentialRow.issued_at.desc(), CredentialRow.id)
            .limit(limit)
            .offset(offset)
        ).all()
        items = [_record(row, a, v, now) for row, a, v in rows]
    return CredentialPage(items=items, total=int(total or 0), limit=limit, offset=offset)


def public_credential(platform: Platform, credential_id: str) -> PublicCredential:
    """The public view of a credential, by its id (anyone holding the link may look)."""
    with platform.reading() as session:
        row = session.get(CredentialRow, credential_id)
        if row is None:
            raise NotFound(f"there is no credential {credential_id!r}", property="credential_id")
        replaced_by = session.get(CredentialRow, row.replaced_by_id) if row.replaced_by_id else None
        document = row.document
        issuer = document.get("issuer")
        subject = document.get("credentialSubject")
        achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
        issuer_map = issuer if isinstance(issuer, Mapping) else {}
        achievement_map = achievement if isinstance(achievement, Mapping) else {}
        return PublicCredential(
            id=row.id,
            url=row.credential_id,
            proof_format=row.proof_format,
            document=document,
            jwt=row.jwt,
            state=_state(row, platform.clock.now()),
            issued_at=row.issued_at,
            valid_until=row.valid_until,
            revoked_at=row.revoked_at,
            replaced_by_url=replaced_by.credential_id if replaced_by is not None else None,
            issuer_name=_text(issuer_map.get("name")),
            issuer_id=_text(issuer_map.get("id")) or (issuer if isinstance(issuer, str) else None),
            achievement_name=_text(achievement_map.get("name")),
            achievement_description=_text(achievement_map.get("description")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- revocation and suspension -------------------------------------------------------------------


def _reason(reason: str | None, *, required: bool) -> str | None:
    if reason is None or not reason.strip():
        if required:
            raise InvalidInput("a reason is required", property="reason")
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"reason is longer than {MAX_REASON_LENGTH} characters", property="reason"
        )
    return reason


def _status_change(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    row: CredentialRow,
    action: str,
    value: int,
    reason: str | None,
) -> int | None:
    """Flips the credential's bit (bumping the list's version), then audits and queues the
    webhook; returns the list's new version."""
    version = None
    if row.status_list_id is not None and row.status_list_index is not None:
        version = status_lists.set_status(
            session, list_id=row.status_list_id, index=row.status_list_index, value=value
        )
    event = action.replace("credential.", "")
    session.add(
        AuditLogRow(
            actor=actor.audit_name,
            org_id=row.org_id,
            action=action,
            target=row.credential_id,
            ip=actor.ip,
            details={
                "credential_row_id": row.id,
                "reason": reason,
                "status_list_id": row.status_list_id,
                "status_list_index": row.status_list_index,
                "status_list_version": version,
            },
        )
    )
    session.add(
        OutboxRow(
            org_id=row.org_id,
            topic=f"webhook.credential.{event}",
            payload={
                "event": f"credential.{event}",
                "org_id": row.org_id,
                "credential_row_id": row.id,
                "credential_id": row.credential_id,
                "reason": reason,
                "occurred_at": platform.clock.now().isoformat(),
            },
            # one message per change: the list version (or a fresh id) tells changes apart
            idempotency_key=f"webhook.credential.{event}:{row.id}:{version or new_id()}",
        )
    )
    return version


def _locked_row(session: Session, *, org_id: str, credential_id: str) -> CredentialRow:
    row = _row(session, org_id=org_id, credential_id=credential_id)
    session.refresh(row, with_for_update=True)
    return row


def revoke(
    platform: Platform, actor: Actor, *, org_id: str, credential_id: str, reason: str
) -> CredentialRecord:
    """Revokes a credential for good: its status bit is set and the list re-published."""
    checked = _reason(reason, required=True)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_REVOKE)
        _revoke_in(
            session, platform, actor, org_id=org_id, credential_id=credential_id, reason=checked
        )
        return _load(session, platform, org_id=org_id, credential_id=credential_id)


def revoke_in(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    credential_id: str,
    reason: str,
) -> None:
    """Revokes inside the caller's transaction (the caller has authorized ``actor``)."""
    _revoke_in(
        session,
        platform,
        actor,
        org_id=org_id,
        credential_id=credential_id,
        reason=_reason(reason, required=True),
    )


def _revoke_in(
    session: Session,
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    credential_id: str,
    reason: str | None,
) -> None:
    row = _row(session, org_id=org_id, credential_id=credential_id)
    if row.revoked_at is not None:
        raise Conflict("the credential is already revoked", property="credential_id")
    # the status list first: its row lock orders concurrent changes to one list
    _status_change(
        session, platform, actor, row=row, action="credential.revoked", value=1, reason=reason
    )
    row = _locked_row(session, org_id=org_id, credential_id=credential_id)
    if row.revoked_at is not None:
        raise Conflict("the credential is already revoked", property="credential_id")
    row.revoked_at = platform.clock.now()
    row.revocation_reason = reason
    session.flush()


def suspend(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    credential_id: str,
    reason: str | None = None,
) -> CredentialRecord:
    """Suspends a credential issued with a suspension status entry (reversible)."""
    checked = _reason(reason, required=False)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_REVOKE)
        row = _suspendable(session, org_id=org_id, credential_id=credential_id)
        if row.suspended:
            raise Conflict("the credential is already suspended", property="credential_id")
        _status_change(
            session,
            platform,
            actor,
            row=row,
            action="credential.suspended",
            value=1,
            reason=checked,
        )
        row.suspended = True
        session.flush()
        return _load(session, platform, org_id=org_id, credential_id=credential_id)


def unsuspend(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    credential_id: str,
    reason: str | None = None,
) -> CredentialRecord:
    """Lifts a suspension: the credential verifies again."""
    checked = _reason(reason, required=False)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_REVOKE)
        row = _suspendable(session, org_id=org_id, credential_id=credential_id)
        if not row.suspended:
            raise Conflict("the credential is not suspended", property="credential_id")
        _status_change(
            session,
            platform,
            actor,
            row=row,
            action="credential.unsuspended",
            value=0,
            reason=checked,
        )
        row.suspended = False
        session.flush()
        return _load(session, platform, org_id=org_id, credential_id=credential_id)


def _suspendable(session: Session, *, org_id: str, credential_id: str) -> CredentialRow:
    row = _row(session, org_id=org_id, credential_id=credential_id)
    if row.revoked_at is not None:
        raise Conflict("the credential is revoked", property="credential_id")
    if _purpose(row.document) != "suspension":
        raise Conflict(
            "the credential was issued with a revocation status entry only, so it cannot be "
            "suspended (issue with status_purpose 'suspension' for suspendable credentials)",
            property="credential_id",
        )
    return row


# --- re-issue -------------------------------------------------------------------------------------


def reissue(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    credential_id: str,
    valid_until: datetime | None = None,
) -> CredentialRecord:
    """Issues a fresh credential of the same achievement (its latest published version) to
    the same recipient, in the same format; the old one is marked replaced and revoked
    ("superseded"). One transaction."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        authorize(session, actor, org_id, Permission.CREDENTIALS_REVOKE)
        old = _load(session, platform, org_id=org_id, credential_id=credential_id)
        if old.replaced_by_id is not None:
            raise Conflict("the credential was already re-issued", property="credential_id")
        if old.state in ("revoked", "suspended"):
            raise Conflict(
                f"a {old.state} credential cannot be re-issued", property="credential_id"
            )
        evidence = old.document.get("evidence")
        new = _issue_in(
            session,
            platform,
            actor,
            org_id=org_id,
            achievement_id=old.achievement_id,
            recipient=old.recipient,
            proof_format=old.proof_format,
            valid_until=valid_until,
            evidence=_evidence(evidence if isinstance(evidence, list) else ()),
            idempotency_key=None,
            notify=True,
            status_purpose=old.status_purpose or "revocation",
            details={"replaces": old.id},
        )
        _revoke_in(
            session, platform, actor, org_id=org_id, credential_id=old.id, reason="superseded"
        )
        session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == old.id)
            .values(replaced_by_id=new.id)
            .execution_options(synchronize_session=False)
        )
        return new


# --- bulk ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    row: int
    recipient: str
    achievement_id: str
    valid_until: datetime | None
    evidence: tuple[dict[str, Any], ...]
    idempotency_key: str


def _read_rows(
    lines: Iterable[str], *, file_format: BulkFormat | None
) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    """(line number, fields, None) per record, or (line number, None, reason) for a bad one.

    Lines are consumed one at a time: the file is never held in memory.
    """
    iterator = iter(lines)
    skipped = 0
    for first in iterator:
        if first.strip():
            break
        skipped += 1
    else:
        return
    if file_format is None:
        file_format = "jsonl" if first.lstrip().startswith("{") else "csv"
    rest = itertools.chain([first], iterator)
    reader = _read_jsonl(rest) if file_format == "jsonl" else _read_csv(rest)
    for number, fields, problem in reader:
        yield number + skipped, fields, problem


def _read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            yield number, None, f"the line is longer than {MAX_LINE_CHARS} characters"
            continue
        try:
            value = json.loads(line)
        except ValueError as e:
            yield number, None, f"not a JSON object: {e}"
            continue
        if not isinstance(value, dict):
            yield number, None, "not a JSON object"
            continue
        unknown = sorted(set(value) - set(BULK_COLUMNS))
        if unknown:
            yield number, None, f"unknown field(s) {', '.join(map(repr, unknown))}"
            continue
        fields: dict[str, str] = {}
        bad = next((k for k, v in value.items() if v is not None and not isinstance(v, str)), None)
        if bad is not None:
            yield number, None, f"{bad} must be a string"
            continue
        fields = {k: v for k, v in value.items() if v is not None}
        yield number, fields, None


def _read_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    def bounded() -> Iterator[str]:
        for line in lines:
            # a runaway quoted field would make one "record" of the rest of the file
            yield line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS]

    reader = csv.reader(bounded(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InvalidInput(f"the CSV header cannot be read: {e}", property="file") from None
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    unknown = [n for n in names if n not in BULK_COLUMNS]
    if unknown:
        raise InvalidInput(
            f"unknown CSV column(s) {', '.join(map(repr, unknown))}; "
            f"the columns are {', '.join(BULK_COLUMNS)}",
            property="file",
        )
    if "recipient" not in names:
        raise InvalidInput("the CSV header has no 'recipient' column", property="file")
    if len(set(names)) != len(names):
        raise InvalidInput("the CSV header repeats a column", property="file")
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield reader.line_num, None, f"the CSV record cannot be read: {e}"
            continue
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(names):
            yield (
                reader.line_num,
                None,
                f"has {len(record)} field(s) where the header has {len(names)}",
            )
            continue
        yield reader.line_num, {n: c for n, c in zip(names, record, strict=True) if c != ""}, None


def _row_key(job_key: str, fields: Mapping[str, str]) -> str:
    content = json.dumps(
        [job_key, *(fields.get(name, "").strip() for name in BULK_COLUMNS)], ensure_ascii=False
    )
    return "bulk:" + hashlib.sha256(content.encode()).hexdigest()


def _validate_row(
    number: int,
    fields: Mapping[str, str],
    *,
    job_key: str,
    default_achievement_id: str | None,
    now: datetime,
) -> _Row:
    long = next((k for k, v in fields.items() if len(v) > MAX_FIELD_LENGTH), None)
    if long is not None:
        raise InvalidInput(f"{long} is longer than {MAX_FIELD_LENGTH} characters", property=long)
    recipient = _recipient(fields.get("recipient", ""))
    achievement_id = (fields.get("achievement_id") or default_achievement_id or "").strip()
    if not achievement_id:
        raise InvalidInput("achievement_id is empty", property="achievement_id")
    valid_until = None
    if fields.get("valid_until", "").strip():
        valid_until = _check_valid_until(_parse_valid_until(fields["valid_until"]), now)
    evidence: tuple[dict[str, Any], ...] = ()
    url = fields.get("evidence_url", "").strip()
    narrative = fields.get("evidence_narrative", "").strip()
    if url or narrative:
        item: dict[str, Any] = {"type": ["Evidence"]}
        if url:
            if not _is_web_url(url):
                raise InvalidInput("evidence_url must be an http(s) URL", property="evidence_url")
            item["id"] = url
        if narrative:
            item["narrative"] = narrative
        evidence = (item,)
    key = _check_key(fields.get("idempotency_key", "").strip() or None) or _row_key(job_key, fields)
    return _Row(number, recipient, achievement_id, valid_until, evidence, key)


def _chunks(
    rows: Iterator[tuple[int, dict[str, str] | None, str | None]], size: int
) -> Iterator[list[tuple[int, dict[str, str] | None, str | None]]]:
    chunk: list[tuple[int, dict[str, str] | None, str | None]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(slots=True)
class _Prepared:
    """One batch between its preparation and its commit."""

    results: list[BulkRowResult | None]
    pending: list[tuple[int, _Pending]]
    issued_at: datetime
    wait: Callable[[], list[_Signed]] | None = None


def iter_bulk(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    lines: Iterable[str],
    job_key: str,
    file_format: BulkFormat | None = None,
    default_achievement_id: str | None = None,
    proof_format: str = DEFAULT_PROOF_FORMAT,
    status_purpose: Literal["revocation", "suspension"] = "revocation",
    notify: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    progress: Callable[[BulkProgress], None] | None = None,
) -> Iterator[BulkRowResult]:
    """Issues a bulk file's rows; yields one result per row, in file order, batch by batch.

    ``lines`` is read lazily (a file object works). ``job_key`` names the job: a row without
    its own idempotency key gets one derived from (job_key, row content), so the same file
    under the same job key issues nothing twice. ``workers`` > 0 signs in that many worker
    processes (0: in this process). A batch commits its credentials, status positions,
    audit entries and outbox messages together; ``progress`` is called after each batch.
    """
    proof_format = _check_proof_format(proof_format)
    if not 1 <= batch_size <= 10_000:
        raise InvalidInput("batch_size must be between 1 and 10000", property="batch_size")
    if not job_key or len(job_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput("job_key must be 1 to 200 characters", property="job_key")
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        org = org_or_404(session, org_id)
        issuer = _issuer(session, platform, org)
    pool = _SigningPool(workers=workers, signer=issuer.signer, profile=issuer.profile)
    achievements: dict[str, _AchievementRef | MeritoError] = {}
    counts = {"issued": 0, "duplicate": 0, "rejected": 0}
    inflight: deque[_Prepared] = deque()

    def commit(batch: _Prepared) -> Iterator[BulkRowResult]:
        results = _commit(
            platform,
            actor,
            issuer=issuer,
            batch=batch,
            proof_format=proof_format,
            org_id=org_id,
        )
        for result in results:
            counts[result.outcome] += 1
        if progress is not None:
            progress(
                BulkProgress(
                    rows=sum(counts.values()),
                    issued=counts["issued"],
                    duplicates=counts["duplicate"],
                    rejected=counts["rejected"],
                )
            )
        yield from results

    try:
        for chunk in _chunks(_read_rows(lines, file_format=file_format), batch_size):
            inflight.append(
                _prepare(
                    platform,
                    actor,
                    org_id=org_id,
                    chunk=chunk,
                    job_key=job_key,
                    default_achievement_id=default_achievement_id,
                    status_purpose=status_purpose,
                    proof_format=proof_format,
                    notify_with=_notify_with(platform, issuer) if notify else None,
                    achievements=achievements,
                    pool=pool,
                )
            )
            # keep the signers busy: later batches sign while an earlier one is written
            while len(inflight) > _PIPELINE_DEPTH:
                yield from commit(inflight.popleft())
        while inflight:
            yield from commit(inflight.popleft())
    finally:
        pool.close()


def _prepare(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    chunk: list[tuple[int, dict[str, str] | None, str | None]],
    job_key: str,
    default_achievement_id: str | None,
    status_purpose: str,
    proof_format: str,
    notify_with: tuple[str, str, bool] | None,
    achievements: dict[str, _AchievementRef | MeritoError],
    pool: _SigningPool,
) -> _Prepared:
    """Validates a batch, drops rows already issued, reserves status positions and starts
    signing. Reserved positions behave like a database sequence: if the batch never commits
    they stay unused (their bits stay 0 and no credential points at them)."""
    now = platform.clock.now().astimezone(UTC).replace(microsecond=0)
    results: list[BulkRowResult | None] = []
    valid: list[tuple[int, _Row]] = []
    for number, fields, problem in chunk:
        if fields is None:
            results.append(BulkRowResult(number, "rejected", reason=problem, property="row"))
            continue
        try:
            row = _validate_row(
                number,
                fields,
                job_key=job_key,
                default_achievement_id=default_achievement_id,
                now=now,
            )
        except InvalidInput as e:
            results.append(
                BulkRowResult(
                    number,
                    "rejected",
                    recipient=fields.get("recipient", ""),
                    achievement_id=fields.get("achievement_id", default_achievement_id or ""),
                    reason=e.message,
                    property=e.property,
                )
            )
            continue
        results.append(None)
        valid.append((len(results) - 1, row))
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
        for _, row in valid:
            if row.achievement_id not in achievements:
                try:
                    achievements[row.achievement_id], _ = _achievement(
                        session, org_id=org_id, achievement_id=row.achievement_id
                    )
                except (NotFound, InvalidInput, Conflict) as e:
                    achievements[row.achievement_id] = e
        existing = _existing_keys(session, org_id, [row.idempotency_key for _, row in valid])
        fresh: list[tuple[int, _Row, _AchievementRef]] = []
        seen: dict[str, int] = {}
        for position, row in valid:
            found = achievements[row.achievement_id]
            if isinstance(found, MeritoError):
                results[position] = BulkRowResult(
                    row.row,
                    "rejected",
                    recipient=row.recipient,
                    achievement_id=row.achievement_id,
                    reason=found.message,
                    property="achievement_id",
                )
            elif row.idempotency_key in existing:
                row_id, url = existing[row.idempotency_key]
                results[position] = BulkRowResult(
                    row.row,
                    "duplicate",
                    recipient=row.recipient,
                    achievement_id=row.achievement_id,
                    credential_row_id=row_id,
                    credential_url=url,
                )
            elif row.idempotency_key in seen:
                results[position] = BulkRowResult(
                    row.row,
                    "duplicate",
                    recipient=row.recipient,
                    achievement_id=row.achievement_id,
                    reason=f"the same as row {seen[row.idempotency_key]}",
                )
            else:
                seen[row.idempotency_key] = row.row
                fresh.append((position, row, found))
        slots = (
            status_lists.allocate(
                session, platform, org_id=org_id, purpose=status_purpose, count=len(fresh)
            )
            if fresh
            else []
        )
    pending: list[tuple[int, _Pending]] = []
    jobs: list[_SigningJob] = []
    documents: dict[str, dict[str, Any]] = {}
    for (position, row, achievement), slot in zip(fresh, slots, strict=True):
        row_id = new_id()
        job = _SigningJob(
            row_id=row_id,
            credential_id=platform.url(f"/credentials/{row_id}"),
            recipient=row.recipient,
            achievement_key=achievement.version_row_id,
            status_entry=slot.entry(),
            valid_until=row.valid_until,
            evidence=row.evidence,
        )
        jobs.append(job)
        documents[achievement.version_row_id] = achievement.document
        placeholder = _Signed(row_id, JsonText("{}"), None, "")
        pending.append(
            (
                position,
                _Pending(
                    job,
                    placeholder,
                    achievement,
                    slot,
                    row.idempotency_key,
                    {"bulk_job": job_key, "row": row.row},
                ),
            )
        )
    prepared = _Prepared(results, pending, now)
    if jobs:
        prepared.wait = pool.submit(
            _SigningBatch(
                issued_at=now,
                proof_format=proof_format,
                notify=notify_with,
                achievements=documents,
                jobs=tuple(jobs),
            )
        )
    return prepared


def _existing_keys(
    session: Session, org_id: str, keys: Sequence[str]
) -> dict[str, tuple[str, str]]:
    if not keys:
        return {}
    column = CredentialRow.idempotency_key
    if session.get_bind().dialect.name == "postgresql":
        # One probe of the (org_id, idempotency_key) unique index per key, with the keys as
        # one array parameter. ``org_id = ? AND key = ANY(?)`` let the planner scan the whole
        # organisation's rows while a bulk job fills a table it has no statistics for yet:
        # every batch slower than the last (100,000 rows ran at half the speed of 20,000).
        keys_in = (
            func.unnest(bindparam("keys", list(keys), type_=ARRAY(String)))
            .table_valued("key")
            .render_derived(name="wanted")
        )
        probe = (
            select(CredentialRow.id, CredentialRow.credential_id)
            .where(CredentialRow.org_id == org_id, column == keys_in.c.key)
            .limit(1)
            .lateral("found")
        )
        rows = session.execute(
            select(keys_in.c.key, probe.c.id, probe.c.credential_id).join(probe, true())
        ).all()
    else:
        rows = session.execute(
            select(column, CredentialRow.id, CredentialRow.credential_id).where(
                CredentialRow.org_id == org_id, column.in_(keys)
            )
        ).all()
    return {key: (row_id, url) for key, row_id, url in rows if key is not None}


def _commit(
    platform: Platform,
    actor: Actor,
    *,
    issuer: _Issuer,
    batch: _Prepared,
    proof_format: str,
    org_id: str,
) -> list[BulkRowResult]:
    """Writes a signed batch in one transaction; returns its rows' results in file order."""
    signed = batch.wait() if batch.wait is not None else []
    items = [
        (position, replace(item, signed=result))
        for (position, item), result in zip(batch.pending, signed, strict=True)
    ]
    existing: dict[str, tuple[str, str]] = {}
    for attempt in range(2):
        try:
            with platform.transaction() as session:
                authorize(session, actor, org_id, Permission.CREDENTIALS_ISSUE)
                if attempt:
                    # rows issued since this batch was prepared (by another run, or by an
                    # earlier batch of this one) are duplicates now; looked up only after the
                    # unique key refused the first attempt, as that is rare
                    existing = _existing_keys(
                        session, org_id, [i.idempotency_key for _, i in items if i.idempotency_key]
                    )
                keep = [(p, i) for p, i in items if i.idempotency_key not in existing]
                _store(
                    session,
                    platform,
                    actor,
                    issuer=issuer,
                    items=[i for _, i in keep],
                    issued_at=batch.issued_at,
                    proof_format=proof_format,
                )
            break
        except Conflict as e:
            if attempt or e.property != "idempotency_key":
                raise
    results = list(batch.results)
    for position, item in items:
        key = item.idempotency_key or ""
        if key in existing:
            row_id, url = existing[key]
            results[position] = BulkRowResult(
                _row_number(item),
                "duplicate",
                recipient=item.job.recipient,
                achievement_id=item.achievement.achievement_id,
                credential_row_id=row_id,
                credential_url=url,
            )
        else:
            results[position] = BulkRowResult(
                _row_number(item),
                "issued",
                recipient=item.job.recipient,
                achievement_id=item.achievement.achievement_id,
                credential_row_id=item.job.row_id,
                credential_url=item.job.credential_id,
            )
    return [r for r in results if r is not None]


def _row_number(item: _Pending) -> int:
    number = item.details.get("row")
    return number if isinstance(number, int) else 0


def issue_bulk(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    lines: Iterable[str],
    job_key: str,
    file_format: BulkFormat | None = None,
    default_achievement_id: str | None = None,
    proof_format: str = DEFAULT_PROOF_FORMAT,
    status_purpose: Literal["revocation", "suspension"] = "revocation",
    notify: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    progress: Callable[[BulkProgress], None] | None = None,
) -> BulkReport:
    """Runs :func:`iter_bulk` to the end and returns the totals and the rejected rows."""
    report = BulkReport(job_key=job_key)
    for result in iter_bulk(
        platform,
        actor,
        org_id=org_id,
        lines=lines,
        job_key=job_key,
        file_format=file_format,
        default_achievement_id=default_achievement_id,
        proof_format=proof_format,
        status_purpose=status_purpose,
        notify=notify,
        batch_size=batch_size,
        workers=workers,
        progress=progress,
    ):
        report.add(result)
    return report


def default_workers() -> int:
    """One signing process per core."""
    return os.cpu_count() or 1


def job_key_of(data: bytes) -> str:
    """A job key for a whole file: the SHA-256 of its bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def operator_actor(name: str) -> Actor:
    """The actor of the command line, which runs with the database and the master key in
    hand: an operator with full authority, named in the audit log (``user:<name>``)."""
    return Actor(kind="user", id=name, is_platform_admin=True)


def resolve_org(platform: Platform, slug_or_id: str) -> str:
    """The id of the organisation with this slug (or id); NotFound names ``org``."""
    with platform.reading() as session:
        org_id = session.scalar(
            select(OrganisationRow.id).where(
                or_(OrganisationRow.slug == slug_or_id, OrganisationRow.id == slug_or_id)
            )
        )
    if org_id is None:
        raise NotFound(f"there is no organisation {slug_or_id!r}", property="org")
    return org_id
