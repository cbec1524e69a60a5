"""Open Badges 3.0 credentials on the W3C VC Data Model 2.0 (OB 3.0 Appendix B.1).

AchievementCredential (alias OpenBadgeCredential), AchievementSubject, Result, Evidence,
and the VC properties a credential carries (Proof, CredentialStatus, CredentialSchema,
RefreshService, TermsOfUse), plus EndorsementCredential. "One or many" values keep the
shape they were written in; extension properties are kept; dates stay strings.

The models enforce the data model (required properties, the IRIs ``type`` must include, one
recipient identifier); the official JSON Schema and the VC 2.0 core rules live in
``merito.formats.schema``. VC 1.1-era OB 3.0 credentials (``issuanceDate``) are readable too.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self

from pydantic import Field, model_validator

from merito.domain.achievements import (
    Achievement,
    Alignment,
    DateTime,
    DateTimeZ,
    Image,
    JsonObject,
    Number,
    Profile,
    ProfileRef,
    parse_datetime,
)
from merito.domain.identifiers import IdentityObject, WireModel, as_list

__all__ = [
    "ACHIEVEMENT_CREDENTIAL_TYPES",
    "VC_V1_CONTEXT",
    "VC_V2_CONTEXT",
    "AchievementCredential",
    "AchievementSubject",
    "CredentialSchema",
    "CredentialStatus",
    "EndorsementCredential",
    "EndorsementSubject",
    "Evidence",
    "OpenBadgeCredential",
    "Proof",
    "RefreshService",
    "Result",
    "TermsOfUse",
]

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
#: one of these MUST be in an AchievementCredential's type (§B.1.2)
ACHIEVEMENT_CREDENTIAL_TYPES = ("AchievementCredential", "OpenBadgeCredential")

Context = str | JsonObject


class Result(WireModel):
    """§B.1.16 Result: a result achieved (a grade, a rubric level, a status)."""

    type_iri: ClassVar[str | None] = "Result"

    type: str | list[str] = Field(default_factory=lambda: ["Result"])
    achieved_level: str | None = None
    alignment: Alignment | list[Alignment] | None = None
    result_description: str | None = None
    status: str | None = None
    value: str | None = None


class Evidence(WireModel):
    """§B.1.9 Evidence: the work behind the award (a URL or data URI, and/or a narrative)."""

    type_iri: ClassVar[str | None] = "Evidence"

    id: str | None = None
    type: str | list[str] = Field(default_factory=lambda: ["Evidence"])
    narrative: str | None = None
    name: str | None = None
    description: str | None = None
    genre: str | None = None
    audience: str | None = None


class AchievementSubject(WireModel):
    """§B.1.3 AchievementSubject: the recipient and what they achieved."""

    type_iri: ClassVar[str | None] = "AchievementSubject"

    id: str | None = None
    type: str | list[str] = Field(default_factory=lambda: ["AchievementSubject"])
    activity_end_date: DateTime | None = None
    activity_start_date: DateTime | None = None
    credits_earned: Number | None = None
    achievement: Achievement
    identifier: IdentityObject | list[IdentityObject] | None = None
    image: str | Image | None = None
    license_number: str | None = None
    narrative: str | None = None
    result: Result | list[Result] | None = None
    role: str | None = None
    source: Profile | None = None
    term: str | None = None

    @model_validator(mode="after")
    def _names_a_recipient(self) -> Self:
        # §B.1.3: "Either id or at least one identifier MUST be supplied."
        if self.id is None and not as_list(self.identifier):
            raise ValueError("either 'id' or at least one 'identifier' must be supplied")
        return self


class Proof(WireModel):
    """§B.1.24 Proof (VC Data Integrity §2.1): an embedded proof, kept exactly as written."""

    id: str | None = None
    type: str
    created: str | None = None
    cryptosuite: str | None = None
    challenge: str | None = None
    domain: str | list[str] | None = None
    nonce: str | None = None
    proof_purpose: str | None = None
    proof_value: str | None = None
    verification_method: str | None = None
    expires: str | None = None
    previous_proof: str | list[str] | None = None


class CredentialStatus(WireModel):
    """§B.1.22 CredentialStatus, e.g. a BitstringStatusListEntry (extras keep its fields)."""

    id: str | None = None
    type: str | list[str]


class CredentialSchema(WireModel):
    """§B.1.21 CredentialSchema: a schema verifiers can check the credential against."""

    id: str
    type: str


class RefreshService(WireModel):
    """§B.1.25 RefreshService."""

    id: str
    type: str


class TermsOfUse(WireModel):
    """§B.1.26 TermsOfUse."""

    id: str | None = None
    type: str


class EndorsementSubject(WireModel):
    """§B.1.8 EndorsementSubject: what is endorsed and the endorser's comment."""

    type_iri: ClassVar[str | None] = "EndorsementSubject"

    id: str
    type: str | list[str] = Field(default_factory=lambda: ["EndorsementSubject"])
    endorsement_comment: str | None = None


class _VerifiableCredential(WireModel):
    """§B.1.19 VerifiableCredential: what every credential model here shares."""

    #: one of these MUST be in ``type`` besides VerifiableCredential
    credential_types: ClassVar[tuple[str, ...]] = ()

    context: Context | list[Context] = Field(alias="@context")
    id: str | None = None
    type: str | list[str]
    name: str | None = None
    description: str | None = None
    image: str | Image | None = None
    awarded_date: DateTimeZ | None = None
    endorsement: JsonObject | list[JsonObject] | None = None
    endorsement_jwt: str | list[str] | None = None
    evidence: Evidence | list[Evidence] | None = None
    issuer: ProfileRef
    valid_from: DateTimeZ | None = None
    valid_until: DateTimeZ | None = None
    #: VC 1.1 (OB 3.0 before 3.0.3): read, never written by Merito
    issuance_date: DateTime | None = None
    expiration_date: DateTime | None = None
    proof: Proof | list[Proof] | None = None
    credential_schema: CredentialSchema | list[CredentialSchema] | None = None
    credential_status: CredentialStatus | list[CredentialStatus] | None = None
    refresh_service: RefreshService | list[RefreshService] | None = None
    terms_of_use: TermsOfUse | list[TermsOfUse] | None = None

    @model_validator(mode="after")
    def _credential_rules(self) -> Self:
        contexts = self._contexts()
        if not contexts or contexts[0] not in (VC_V2_CONTEXT, VC_V1_CONTEXT):
            raise ValueError(
                f"'@context' must start with {VC_V2_CONTEXT!r} (VC 2.0 §4.3), got {contexts[:1]!r}"
            )
        types = as_list(self.type)
        if "VerifiableCredential" not in types:
            raise ValueError(f"'type' must include 'VerifiableCredential', got {self.type!r}")
        wanted = self.credential_types
        if wanted and not any(t in types for t in wanted):
            raise ValueError(f"'type' must include one of {list(wanted)!r}, got {self.type!r}")
        if self.valid_from is None and self.issuance_date is None:
            raise ValueError("'validFrom' is required (VC 2.0 §4.9)")
        return self

    @property
    def is_vc_v1(self) -> bool:
        """Whether this is a VC Data Model 1.1 credential (``issuanceDate`` era)."""
        return self._contexts()[0] == VC_V1_CONTEXT

    def _contexts(self) -> list[Context]:
        return self.context if isinstance(self.context, list) else [self.context]

    @property
    def issuer_id(self) -> str:
        """The issuer's URI, whether ``issuer`` is a URI or a Profile."""
        return self.issuer if isinstance(self.issuer, str) else self.issuer.id

    @property
    def valid_from_datetime(self) -> datetime:
        """``validFrom`` (or VC 1.1 ``issuanceDate``) as a datetime."""
        value = self.valid_from if self.valid_from is not None else self.issuance_date
        if value is None:  # pragma: no cover - excluded by _credential_rules
            raise ValueError("credential has no validFrom")
        return parse_datetime(value)

    @property
    def valid_until_datetime(self) -> datetime | None:
        """``validUntil`` (or VC 1.1 ``expirationDate``) as a datetime, if any."""
        value = self.valid_until if self.valid_until is not None else self.expiration_date
        return None if value is None else parse_datetime(value)

    @property
    def proofs(self) -> list[Proof]:
        """The embedded proofs as a list (one or many on the wire)."""
        return as_list(self.proof)


class AchievementCredential(_VerifiableCredential):
    """§B.1.2 AchievementCredential (a.k.a. OpenBadgeCredential): one awarded achievement."""

    credential_types: ClassVar[tuple[str, ...]] = ACHIEVEMENT_CREDENTIAL_TYPES

    credential_subject: AchievementSubject

    @property
    def achievement(self) -> Achievement:
        """The achievement awarded."""
        return self.credential_subject.achievement


#: OB 3.0 allows either type name; they are the same class.
OpenBadgeCredential = AchievementCredential


class EndorsementCredential(_VerifiableCredential):
    """§B.1.7 EndorsementCredential: a claim about a profile, achievement or credential."""

    credential_types: ClassVar[tuple[str, ...]] = ("EndorsementCredential",)

    credential_subject: EndorsementSubject
