"""Issuing a credential with a key the caller holds (no database): the CLI's `merito issue`.

The platform's database-backed issuance builds on the same steps: build the OB 3.0
document, then sign it in the requested proof format.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from merito.domain.achievements import Achievement, Profile
from merito.domain.identifiers import (
    WIRE_CONTEXT,
    IdentityObject,
    salted_identity_json,
    salted_identity_object,
)
from merito.errors import InvalidInput, InvalidKey
from merito.formats import ob3
from merito.proofs import data_integrity, vc_jwt
from merito.proofs.keys import Signer

ProofFormat = Literal["eddsa-rdfc-2022", "eddsa-jcs-2022", "vc-jwt"]
PROOF_FORMATS: Final[tuple[ProofFormat, ...]] = ("eddsa-rdfc-2022", "eddsa-jcs-2022", "vc-jwt")
DEFAULT_PROOF_FORMAT: Final[ProofFormat] = "eddsa-rdfc-2022"


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A signed credential: a JSON document (Data Integrity) or a compact JWT (VC-JWT)."""

    credential_id: str
    proof_format: ProofFormat
    document: dict[str, Any]
    jwt: str | None = None

    @property
    def serialized(self) -> str | dict[str, Any]:
        return self.jwt if self.jwt is not None else self.document


def parse_achievement(data: Any) -> Achievement:
    """An Achievement from its OB 3.0 JSON; InvalidInput names the first bad property."""
    if not isinstance(data, Mapping):
        raise InvalidInput("an achievement must be a JSON object", property="achievement")
    doc = dict(data)
    doc.setdefault("type", ["Achievement"])
    try:
        return Achievement.model_validate(doc, context=WIRE_CONTEXT)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "achievement"
        raise InvalidInput(f"achievement {where}: {first['msg']}", property=where) from e


def recipient_of(recipient: str, *, salt: str | None = None) -> str | IdentityObject:
    """A DID/URL stays as the subject id; an email becomes a salted-hash IdentityObject."""
    recipient, is_email = _recipient_kind(recipient)
    if is_email:
        return salted_identity_object(recipient, salt=salt or secrets.token_hex(8))
    return recipient


def recipient_json(recipient: str, *, salt: str | None = None) -> str | dict[str, Any]:
    """:func:`recipient_of` as it is written in the credential (the IdentityObject's JSON),
    without building the model: bulk issuance's per-credential path."""
    recipient, is_email = _recipient_kind(recipient)
    if is_email:
        return salted_identity_json(recipient, salt=salt or secrets.token_hex(8))
    return recipient


def _recipient_kind(recipient: str) -> tuple[str, bool]:
    """(the recipient trimmed, whether it is an email address); refuses anything else."""
    recipient = recipient.strip()
    if "@" in recipient and ":" not in recipient:
        local, _, domain = recipient.partition("@")
        if not local or "." not in domain:
            raise InvalidInput(f"{recipient!r} is not a valid email address", property="recipient")
        return recipient, True
    if ":" in recipient:
        return recipient, False
    raise InvalidInput(
        f"recipient {recipient!r} must be an email address or a DID/URL", property="recipient"
    )


def _issuer_profile(
    issuer: Profile | Mapping[str, Any] | None, *, issuer_name: str | None, controller: str
) -> Profile:
    if issuer is None:
        if not issuer_name:
            raise InvalidInput("an issuer profile or an issuer name is needed", property="issuer")
        return Profile.model_validate(
            {"id": controller, "type": ["Profile"], "name": issuer_name}, context=WIRE_CONTEXT
        )
    if not isinstance(issuer, Profile):
        try:
            issuer = Profile.model_validate(dict(issuer), context=WIRE_CONTEXT)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "issuer"
            raise InvalidInput(f"issuer {where}: {first['msg']}", property=f"issuer.{where}") from e
    if issuer.id != controller:
        raise InvalidKey(
            f"the issuer id {issuer.id!r} is not the signing key's controller {controller!r}",
            property="issuer.id",
        )
    return issuer


def issue_credential(
    *,
    achievement: Achievement,
    recipient: str,
    signer: Signer,
    issued_at: datetime,
    issuer_name: str | None = None,
    issuer: Profile | Mapping[str, Any] | None = None,
    proof_format: str = DEFAULT_PROOF_FORMAT,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
    evidence: Sequence[Mapping[str, Any]] = (),
    credential_status: Mapping[str, Any] | None = None,
    salt: str | None = None,
    results: Sequence[Mapping[str, Any]] = (),
) -> IssuedCredential:
    """Builds an OB 3.0 AchievementCredential for ``recipient`` and signs it.

    The issuer is ``issuer`` (a full OB 3.0 Profile, whose ``id`` must be the signer's
    controller), or else a Profile made of the signer's controller and ``issuer_name``.
    """
    if proof_format not in PROOF_FORMATS:
        raise InvalidInput(
            f"unknown proof format {proof_format!r}; choose one of {', '.join(PROOF_FORMATS)}",
            property="format",
        )
    if proof_format != "vc-jwt" and signer.key.public_key.key_type != "Ed25519":
        raise InvalidKey(
            f"{proof_format} needs an Ed25519 key; this key is {signer.key.public_key.key_type} "
            "(use --format vc-jwt for P-256 or RSA keys)",
            property="key",
        )
    profile = _issuer_profile(issuer, issuer_name=issuer_name, controller=signer.controller)
    cid = credential_id or f"urn:uuid:{uuid.uuid4()}"
    document = ob3.build_credential(
        credential_id=cid,
        issuer=profile,
        achievement=achievement,
        recipient=recipient_of(recipient, salt=salt),
        valid_from=issued_at,
        valid_until=valid_until,
        evidence=evidence,
        results=results,
        credential_status=credential_status,
    )
    if proof_format == "vc-jwt":
        token = vc_jwt.sign_jwt(document, signer=signer, now=issued_at)
        return IssuedCredential(cid, "vc-jwt", document, jwt=token)
    signed = data_integrity.sign(
        document, signer=signer, cryptosuite=proof_format, created=issued_at
    )
    return IssuedCredential(cid, proof_format, signed)
