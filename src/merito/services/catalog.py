"""Achievements: drafts, immutable published versions, archiving, images and their public URLs.

An achievement starts as a draft (``draft_document``, editable). Publishing freezes the draft
into an ``achievement_versions`` row that never changes again; credentials embed that version.
Editing a published achievement makes a new draft beside the published version, which stays
the one issued until the draft is published in turn. Archiving stops issuance; the public
document stays served, since credentials already issued link to it.

The OB 3.0 document's ``id`` is ``{base_url}/achievements/{id}``, the same for every version
(``version`` says which). Merito's own metadata (evidence requirements, hours, price) has no
place in OB 3.0 and is kept beside the document, never in it. Every document is checked against
the domain model (``issuing.parse_achievement``) before it is stored.

Images are PNG or SVG, checked by ``merito.formats.images.inspect_image`` and stored under the
SHA-256 of their bytes; an achievement without an uploaded image gets a generated badge when it
is published.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from merito.errors import Conflict, InvalidInput, NotFound
from merito.formats.images import generate_badge_svg, inspect_image
from merito.formats.ob3 import OB3_CONTEXT, VC2_CONTEXT
from merito.services import endorsed, issuing
from merito.services.issuers import property_path
from merito.services.platform import (
    Actor,
    Permission,
    Platform,
    audit,
    authorize,
    new_id,
    org_or_404,
)
from merito.storage.tables import AchievementRow, AchievementVersionRow
from merito.storage.tables_catalog import ImageRow

__all__ = [
    "ACHIEVEMENT_TYPES",
    "MAX_IMAGE_BYTES",
    "AchievementFields",
    "AchievementView",
    "AlignmentFields",
    "CriteriaFields",
    "EvidenceRequirement",
    "Image",
    "Price",
    "ResultDescriptionFields",
    "archive_achievement",
    "create_achievement",
    "get_achievement",
    "get_image",
    "image_url",
    "list_achievements",
    "public_achievement",
    "publish_achievement",
    "published_version",
    "remove_image",
    "update_achievement",
    "upload_image",
]

MAX_IMAGE_BYTES: Final = 512_000
_MAX_TEXT: Final = 10_000
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")
_CURRENCY: Final = re.compile(r"^[A-Z]{3}$")
_LANGUAGE: Final = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

#: OB 3.0 §B.3.1 AchievementType (an ``ext:`` prefix names an extension value)
ACHIEVEMENT_TYPES: Final = frozenset(
    [
        "Achievement",
        "ApprenticeshipCertificate",
        "Assessment",
        "Assignment",
        "AssociateDegree",
        "Award",
        "Badge",
        "BachelorDegree",
        "Certificate",
        "CertificateOfCompletion",
        "Certification",
        "CommunityService",
        "Competency",
        "Course",
        "CoCurricular",
        "Degree",
        "Diploma",
        "DoctoralDegree",
        "Fieldwork",
        "GeneralEducationDevelopment",
        "JourneymanCertificate",
        "LearningProgram",
        "License",
        "Membership",
        "ProfessionalDoctorate",
        "QualityAssuranceCredential",
        "MasterCertificate",
        "MasterDegree",
        "MicroCredential",
        "ResearchDoctorate",
        "SecondarySchoolDiploma",
    ]
)
#: OB 3.0 §B.3.4 ResultType
RESULT_TYPES: Final = frozenset(
    [
        "GradePointAverage",
        "LetterGrade",
        "Percent",
        "PerformanceLevel",
        "PredictedScore",
        "RawScore",
        "Result",
        "RubricCriterion",
        "RubricCriterionLevel",
        "RubricScore",
        "ScaledScore",
        "Status",
    ]
)
#: OB 3.0 §B.3.2 AlignmentTargetType
ALIGNMENT_TARGET_TYPES: Final = frozenset(
    [
        "ceasn:Competency",
        "ceterms:Credential",
        "CFItem",
        "CFRubric",
        "CFRubricCriterion",
        "CFRubricCriterionLevel",
        "CTDL",
    ]
)

Text = Annotated[str, Field(max_length=_MAX_TEXT)]
ShortText = Annotated[str, Field(max_length=500)]


# --- input ---------------------------------------------------------------------------------


class _Fields(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class CriteriaFields(_Fields):
    """OB 3.0 Criteria: a narrative, a page describing how it is earned, or both."""

    id: ShortText | None = Field(default=None, description="URL of a page with the criteria.")
    narrative: Text | None = Field(default=None, description="How it is earned (Markdown).")


class AlignmentFields(_Fields):
    """OB 3.0 Alignment to a framework node (a competency, a standard, a skill)."""

    target_name: ShortText
    target_url: ShortText
    target_description: Text | None = None
    target_framework: ShortText | None = None
    target_code: ShortText | None = None
    target_type: ShortText | None = Field(
        default=None, description="ceasn:Competency, ceterms:Credential, CFItem, ... or ext:*"
    )


class ResultDescriptionFields(_Fields):
    """OB 3.0 ResultDescription; ``id`` is made from the achievement URL when left out."""

    id: ShortText | None = None
    name: ShortText
    result_type: ShortText = Field(description="Percent, LetterGrade, Status, ... or ext:*")
    allowed_value: list[ShortText] | None = Field(default=None, max_length=100)
    required_level: ShortText | None = None
    required_value: ShortText | None = None
    value_min: ShortText | None = None
    value_max: ShortText | None = None
    rubric_criterion_level: list[dict[str, Any]] | None = Field(default=None, max_length=50)
    alignment: list[AlignmentFields] | None = Field(default=None, max_length=50)


class EvidenceRequirement(_Fields):
    """Merito metadata: what evidence an earner must provide (not part of OB 3.0)."""

    name: ShortText
    description: Text | None = None
    kind: Literal["url", "file", "text", "any"] = "any"
    required: bool = True


class Price(_Fields):
    """Merito metadata: what earning it costs (a decimal amount and an ISO 4217 currency)."""

    amount: str = Field(max_length=32, examples=["49.00"])
    currency: str = Field(max_length=3, examples=["EUR"])


class AchievementFields(_Fields):
    """An achievement as an issuer writes it: OB 3.0 members (camelCase) and Merito metadata.

    On update only the members given change; ``null`` clears one.
    """

    name: ShortText | None = None
    description: Text | None = None
    criteria: CriteriaFields | None = None
    achievement_type: ShortText | None = Field(
        default=None, description="Badge, Certificate, Course, MicroCredential, ... or ext:*"
    )
    alignment: list[AlignmentFields] | None = Field(default=None, max_length=100)
    result_description: list[ResultDescriptionFields] | None = Field(default=None, max_length=50)
    credits_available: float | None = Field(default=None, ge=0, le=100_000)
    field_of_study: ShortText | None = None
    human_code: ShortText | None = None
    in_language: ShortText | None = None
    specialization: ShortText | None = None
    tag: list[ShortText] | None = Field(default=None, max_length=100)
    # Merito metadata
    evidence_requirements: list[EvidenceRequirement] | None = Field(default=None, max_length=50)
    hours: float | None = Field(default=None, ge=0, le=100_000)
    prerequisites: list[Annotated[str, Field(max_length=36)]] | None = Field(
        default=None, max_length=50, description="Ids of achievements to earn first."
    )
    price: Price | None = None


#: AchievementFields members kept beside the OB document (OB 3.0 has no place for them)
_METADATA: Final = ("evidenceRequirements", "hours", "price", "prerequisites")
#: members of the stored document Merito sets itself
_MANAGED: Final = ("id", "type", "image", "version")


# --- output --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AchievementView:
    """An achievement as its organisation sees it: the published version and any draft."""

    id: str
    org_id: str
    url: str
    status: str
    name: str
    current_version: int | None
    #: the published OB 3.0 document (None before the first publication)
    published: Mapping[str, Any] | None
    published_metadata: Mapping[str, Any] | None
    #: pending changes (None when the published version is up to date)
    draft: Mapping[str, Any] | None
    draft_metadata: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None


@dataclass(frozen=True, slots=True)
class Image:
    media_type: str
    data: bytes
    sha256: str


# --- helpers -------------------------------------------------------------------------------


def achievement_url(platform: Platform, achievement_id: str) -> str:
    return platform.url(f"achievements/{achievement_id}")


def image_url(platform: Platform, sha256: str) -> str:
    return platform.url(f"images/{sha256}")


def _achievement(session: Session, *, org_id: str, achievement_id: str) -> AchievementRow:
    row = session.get(AchievementRow, achievement_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
    return row


def _locked(session: Session, *, org_id: str, achievement_id: str) -> AchievementRow:
    row = session.scalars(
        select(AchievementRow)
        .where(AchievementRow.id == achievement_id, AchievementRow.org_id == org_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
    return row


def _version(session: Session, row: AchievementRow) -> AchievementVersionRow | None:
    if row.current_version is None:
        return None
    return session.scalars(
        select(AchievementVersionRow).where(
            AchievementVersionRow.achievement_id == row.id,
            AchievementVersionRow.org_id == row.org_id,
            AchievementVersionRow.version == row.current_version,
        )
    ).one_or_none()


def _view(session: Session, platform: Platform, row: AchievementRow) -> AchievementView:
    version = _version(session, row)
    return AchievementView(
        id=row.id,
        org_id=row.org_id,
        url=achievement_url(platform, row.id),
        status=row.status,
        name=row.name,
        current_version=row.current_version,
        published=None if version is None else dict(version.document),
        published_metadata=None if version is None else dict(row.published_metadata or {}),
        draft=None if row.draft_document is None else dict(row.draft_document),
        draft_metadata=None if row.draft_document is None else dict(row.draft_metadata or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
        archived_at=row.archived_at,
    )


def _url(value: str, prop: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise InvalidInput(f"{prop} must be an absolute http(s) URL, got {value!r}", property=prop)
    if parts.username or parts.password:
        raise InvalidInput(f"{prop} must not carry a user name or password", property=prop)
    return value


def _text(value: str, prop: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{prop} must not be empty (send null to clear it)", property=prop)
    return value


def _vocabulary(value: str, allowed: frozenset[str], prop: str) -> str:
    value = value.strip()
    if value in allowed or (value.startswith("ext:") and len(value) > 4 and " " not in value):
        return value
    raise InvalidInput(
        f"{prop} {value!r} is not an OB 3.0 value ({', '.join(sorted(allowed))}) or ext:*",
        property=prop,
    )


def _alignment(fields: AlignmentFields, prop: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": ["Alignment"],
        "targetName": _text(fields.target_name, f"{prop}.targetName"),
        "targetUrl": _url(fields.target_url, f"{prop}.targetUrl"),
    }
    for member, value in (
        ("targetDescription", fields.target_description),
        ("targetFramework", fields.target_framework),
        ("targetCode", fields.target_code),
    ):
        if value is not None:
            out[member] = _text(value, f"{prop}.{member}")
    if fields.target_type is not None:
        out["targetType"] = _vocabulary(
            fields.target_type, ALIGNMENT_TARGET_TYPES, f"{prop}.targetType"
        )
    return out


def _result_description(
    fields: ResultDescriptionFields, prop: str, *, base: str, index: int
) -> dict[str, Any]:
    rid = fields.id.strip() if fields.id else f"{base}#result-{index + 1}"
    out: dict[str, Any] = {
        "id": rid,
        "type": ["ResultDescription"],
        "name": _text(fields.name, f"{prop}.name"),
        "resultType": _vocabulary(fields.result_type, RESULT_TYPES, f"{prop}.resultType"),
    }
    for member, value in (
        ("requiredLevel", fields.required_level),
        ("requiredValue", fields.required_value),
        ("valueMin", fields.value_min),
        ("valueMax", fields.value_max),
    ):
        if value is not None:
            out[member] = _text(value, f"{prop}.{member}")
    if fields.allowed_value is not None:
        out["allowedValue"] = [
            _text(v, f"{prop}.allowedValue.{i}") for i, v in enumerate(fields.allowed_value)
        ]
    if fields.alignment is not None:
        out["alignment"] = [
            _alignment(a, f"{prop}.alignment.{i}") for i, a in enumerate(fields.alignment)
        ]
    if fields.rubric_criterion_level is not None:
        levels = []
        for i, level in enumerate(fields.rubric_criterion_level):
            entry = {"type": ["RubricCriterionLevel"], **level}
            entry.setdefault("id", f"{rid}-level-{i + 1}")
            levels.append(entry)
        out["rubricCriterionLevel"] = levels
    return out


def _valid_amount(text: str) -> bool:
    """A non-negative decimal with at most 4 places (``49``, ``49.00``), no exponent."""
    if not re.fullmatch(r"[0-9]{1,12}(?:\.[0-9]{1,4})?", text.strip()):
        return False
    try:
        return Decimal(text.strip()) >= 0
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return False


def _metadata(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The Merito metadata members of merged fields, checked."""
    out: dict[str, Any] = {}
    requirements = fields.get("evidenceRequirements")
    if requirements is not None:
        checked = []
        for i, item in enumerate(requirements):
            requirement = EvidenceRequirement.model_validate(item)
            entry = requirement.model_dump(by_alias=True, exclude_none=True)
            entry["name"] = _text(requirement.name, f"evidenceRequirements.{i}.name")
            checked.append(entry)
        out["evidenceRequirements"] = checked
    if fields.get("hours") is not None:
        out["hours"] = fields["hours"]
    if fields.get("prerequisites") is not None:
        # learning paths order by them (merito.services.hiring); kept as given, deduplicated
        out["prerequisites"] = list(dict.fromkeys(p.strip() for p in fields["prerequisites"]))
    price = fields.get("price")
    if price is not None:
        price = Price.model_validate(price)
        if not _valid_amount(price.amount):
            raise InvalidInput(
                f"price.amount {price.amount!r} is not a non-negative decimal (e.g. 49.00)",
                property="price.amount",
            )
        if not _CURRENCY.match(price.currency):
            raise InvalidInput(
                f"price.currency {price.currency!r} is not an ISO 4217 code (e.g. EUR)",
                property="price.currency",
            )
        out["price"] = {"amount": price.amount.strip(), "currency": price.currency}
    return out


def _document(
    fields: Mapping[str, Any], *, url: str, image: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The OB 3.0 Achievement for merged ``fields`` (camelCase), checked member by member."""
    spec = AchievementFields.model_validate({k: v for k, v in fields.items() if k not in _MANAGED})
    doc: dict[str, Any] = {"id": url, "type": ["Achievement"]}
    if spec.name is not None:
        doc["name"] = _text(spec.name, "name")
    if spec.description is not None:
        doc["description"] = _text(spec.description, "description")
    if spec.criteria is not None:
        criteria: dict[str, Any] = {}
        if spec.criteria.id is not None:
            criteria["id"] = _url(spec.criteria.id, "criteria.id")
        if spec.criteria.narrative is not None:
            criteria["narrative"] = _text(spec.criteria.narrative, "criteria.narrative")
        if not criteria:
            raise InvalidInput(
                "criteria needs a narrative, an id (a URL describing them), or both",
                property="criteria",
            )
        doc["criteria"] = criteria
    if spec.achievement_type is not None:
        doc["achievementType"] = _vocabulary(
            spec.achievement_type, ACHIEVEMENT_TYPES, "achievementType"
        )
    if spec.alignment:
        doc["alignment"] = [_alignment(a, f"alignment.{i}") for i, a in enumerate(spec.alignment)]
    if spec.result_description:
        doc["resultDescription"] = [
            _result_description(r, f"resultDescription.{i}", base=url, index=i)
            for i, r in enumerate(spec.result_description)
        ]
    if spec.credits_available is not None:
        credits = spec.credits_available
        doc["creditsAvailable"] = int(credits) if credits.is_integer() else credits
    for member, value in (
        ("fieldOfStudy", spec.field_of_study),
        ("humanCode", spec.human_code),
        ("specialization", spec.specialization),
    ):
        if value is not None:
            doc[member] = _text(value, member)
    if spec.in_language is not None:
        if not _LANGUAGE.match(spec.in_language.strip()):
            raise InvalidInput(
                f"inLanguage {spec.in_language!r} is not a BCP 47 language tag (e.g. en-GB)",
                property="inLanguage",
            )
        doc["inLanguage"] = spec.in_language.strip()
    if spec.tag:
        doc["tag"] = [_text(t, f"tag.{i}") for i, t in enumerate(spec.tag)]
    if image is not None:
        doc["image"] = dict(image)
    # the domain model is the arbiter: what it refuses could not be issued
    issuing.parse_achievement(doc)
    return doc


def _untyped(items: Any) -> Any:
    """Alignment/ResultDescription objects without the ``type`` Merito adds itself."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, Mapping):
            item = {k: _untyped(v) if k == "alignment" else v for k, v in item.items()}
            item.pop("type", None)
        out.append(item)
    return out


def _fields_of(document: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The editable members of a stored document and its metadata (what a PATCH merges into)."""
    fields = {k: v for k, v in document.items() if k not in _MANAGED}
    for member in ("alignment", "resultDescription"):
        if member in fields:
            fields[member] = _untyped(fields[member])
    fields.update(metadata)
    return fields


def _validated(
    merged: Mapping[str, Any], *, url: str, image: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return _document(merged, url=url, image=image), _metadata(merged)
    except ValidationError as e:
        first = e.errors()[0]
        where = property_path(first["loc"]) or "achievement"
        raise InvalidInput(f"{where}: {first['msg']}", property=where) from e


def _as_fields(fields: AchievementFields | Mapping[str, Any]) -> dict[str, Any]:
    """What the caller set (``null`` included: it clears the member), camelCase.

    A plain mapping (CLI, imports) is checked like a request body, member by member.
    """
    if isinstance(fields, AchievementFields):
        return fields.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if not isinstance(fields, Mapping):
        raise InvalidInput("an achievement must be a JSON object", property="achievement")
    return dict(fields)


# --- use cases -----------------------------------------------------------------------------


def create_achievement(
    platform: Platform, actor: Actor, *, org_id: str, fields: AchievementFields | Mapping[str, Any]
) -> AchievementView:
    """A new draft; name, description and criteria are required (OB 3.0 §B.1.1)."""
    achievement_id = new_id()
    url = achievement_url(platform, achievement_id)
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        given = {k: v for k, v in _as_fields(fields).items() if v is not None}
        document, metadata = _validated(given, url=url, image=None)
        row = AchievementRow(
            id=achievement_id,
            org_id=org_id,
            status="draft",
            name=document["name"],
            draft_document=document,
            draft_metadata=metadata,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="achievement.created",
            org_id=org_id,
            target=url,
            at=now,
            details={"name": document["name"]},
        )
        return _view(session, platform, row)


def update_achievement(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    fields: AchievementFields | Mapping[str, Any],
) -> AchievementView:
    """Changes the draft (making one from the published version if there is none)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        changes = _as_fields(fields)
        row = _locked(session, org_id=org_id, achievement_id=achievement_id)
        if row.status == "archived":
            raise Conflict(
                f"achievement {achievement_id!r} is archived and cannot be edited",
                property="status",
            )
        base_document, base_metadata = _editable(session, row)
        merged = _fields_of(base_document, base_metadata)
        for member, value in changes.items():
            if value is None:
                merged.pop(member, None)
            else:
                merged[member] = value
        document, metadata = _validated(
            merged, url=achievement_url(platform, row.id), image=base_document.get("image")
        )
        row.draft_document = document
        row.draft_metadata = metadata
        row.name = document["name"]
        row.updated_at = now
        audit(
            session,
            actor,
            action="achievement.updated",
            org_id=org_id,
            target=document["id"],
            at=now,
            details={"changed": sorted(changes)},
        )
        return _view(session, platform, row)


def _editable(session: Session, row: AchievementRow) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft, or else a copy of the published version to start a new draft from."""
    if row.draft_document is not None:
        return dict(row.draft_document), dict(row.draft_metadata or {})
    version = _version(session, row)
    if version is None:
        raise NotFound(f"achievement {row.id!r} has no document", property="achievement_id")
    return dict(version.document), dict(row.published_metadata or {})


def _store_image(session: Session, *, org_id: str, data: bytes, generated: bool) -> tuple[str, str]:
    info = inspect_image(data, max_bytes=MAX_IMAGE_BYTES)
    sha256 = hashlib.sha256(data).hexdigest()
    existing = session.scalars(
        select(ImageRow).where(ImageRow.org_id == org_id, ImageRow.sha256 == sha256)
    ).one_or_none()
    if existing is None:
        session.add(
            ImageRow(
                id=new_id(),
                org_id=org_id,
                sha256=sha256,
                media_type=info.media_type,
                data=data,
                size=info.size,
                width=info.width,
                height=info.height,
                generated=generated,
            )
        )
        session.flush()
    return sha256, info.media_type


def _is_generated(session: Session, platform: Platform, org_id: str, image: Any) -> bool:
    """True when ``image`` is absent or a badge Merito drew (redrawn when the name changes)."""
    if image is None:
        return True
    image_id = image.get("id") if isinstance(image, Mapping) else image
    prefix = image_url(platform, "")
    if not isinstance(image_id, str) or not image_id.startswith(prefix):
        return False
    found = session.scalars(
        select(ImageRow.generated).where(
            ImageRow.org_id == org_id, ImageRow.sha256 == image_id[len(prefix) :]
        )
    ).first()
    return bool(found)


def publish_achievement(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str
) -> AchievementView:
    """Freezes the draft as the next version; credentials issued from now on embed it."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _locked(session, org_id=org_id, achievement_id=achievement_id)
        if row.status == "archived":
            raise Conflict(
                f"achievement {achievement_id!r} is archived and cannot be published",
                property="status",
            )
        if row.draft_document is None:
            raise Conflict(
                f"achievement {achievement_id!r} has no changes to publish "
                f"(version {row.current_version} is current)",
                property="status",
            )
        document = dict(row.draft_document)
        if _is_generated(session, platform, org_id, document.get("image")):
            badge = generate_badge_svg(
                name=document["name"], subtitle=_org_name(session, org_id), seed=row.id
            )
            sha256, _ = _store_image(session, org_id=org_id, data=badge, generated=True)
            document["image"] = {
                "id": image_url(platform, sha256),
                "type": "Image",
                "caption": document["name"],
            }
        number = (
            session.scalar(
                select(func.max(AchievementVersionRow.version)).where(
                    AchievementVersionRow.achievement_id == row.id
                )
            )
            or 0
        ) + 1
        document["version"] = str(number)
        issuing.parse_achievement(document)
        version = AchievementVersionRow(
            id=new_id(),
            org_id=org_id,
            achievement_id=row.id,
            version=number,
            document=document,
            created_at=now,
        )
        session.add(version)
        row.status = "published"
        row.current_version = number
        row.published_metadata = dict(row.draft_metadata or {})
        row.draft_document = None
        row.draft_metadata = None
        row.published_at = now
        row.updated_at = now
        row.name = document["name"]
        session.flush()
        audit(
            session,
            actor,
            action="achievement.published",
            org_id=org_id,
            target=document["id"],
            at=now,
            details={"version": number, "version_id": version.id},
        )
        return _view(session, platform, row)


def _org_name(session: Session, org_id: str) -> str:
    return org_or_404(session, org_id).name


def archive_achievement(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str
) -> AchievementView:
    """Stops issuance. Issued credentials stay valid; the public document stays served."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _locked(session, org_id=org_id, achievement_id=achievement_id)
        if row.status == "archived":
            raise Conflict(f"achievement {achievement_id!r} is already archived", property="status")
        previous = row.status
        row.status = "archived"
        row.archived_at = now
        row.updated_at = now
        audit(
            session,
            actor,
            action="achievement.archived",
            org_id=org_id,
            target=achievement_url(platform, row.id),
            at=now,
            details={"previous_status": previous},
        )
        return _view(session, platform, row)


def get_achievement(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str
) -> AchievementView:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        return _view(
            session, platform, _achievement(session, org_id=org_id, achievement_id=achievement_id)
        )


def list_achievements(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AchievementView]:
    """The organisation's achievements, newest first, optionally of one ``status``."""
    if status is not None and status not in ("draft", "published", "archived"):
        raise InvalidInput(
            f"status {status!r} is not draft, published or archived", property="status"
        )
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidInput("limit must be 1..500 and offset >= 0", property="limit")
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        query = select(AchievementRow).where(AchievementRow.org_id == org_id)
        if status is not None:
            query = query.where(AchievementRow.status == status)
        rows = session.scalars(
            query.order_by(AchievementRow.created_at.desc(), AchievementRow.id)
            .limit(limit)
            .offset(offset)
        ).all()
        return [_view(session, platform, row) for row in rows]


def published_version(
    session: Session, *, org_id: str, achievement_id: str
) -> AchievementVersionRow:
    """The version credentials of ``achievement_id`` embed now (the current published one).

    NotFound for an unknown achievement or one of another organisation; Conflict when it was
    never published or is archived (no more issuance).
    """
    # the achievement and its current version in one statement (issuance reads it each time)
    found = session.execute(
        select(AchievementRow.status, AchievementRow.current_version, AchievementVersionRow)
        .outerjoin(
            AchievementVersionRow,
            (AchievementVersionRow.achievement_id == AchievementRow.id)
            & (AchievementVersionRow.org_id == AchievementRow.org_id)
            & (AchievementVersionRow.version == AchievementRow.current_version),
        )
        .where(AchievementRow.id == achievement_id, AchievementRow.org_id == org_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
    status, current_version, version = found
    if status == "archived":
        raise Conflict(
            f"achievement {achievement_id!r} is archived: it is no longer issued",
            property="achievement_id",
        )
    if status != "published" or current_version is None:
        raise Conflict(
            f"achievement {achievement_id!r} is not published yet: publish it first",
            property="achievement_id",
        )
    if version is None:  # the row says published: a broken row is not the caller's fault
        raise NotFound(
            f"achievement {achievement_id!r} has no version {current_version}",
            property="achievement_id",
        )
    return version


def public_achievement(
    platform: Platform, achievement_id: str, *, version: int | None = None
) -> dict[str, Any]:
    """``GET /achievements/{id}``: the current published document (or ``version``), with
    its JSON-LD contexts. Drafts are never public; an archived achievement stays served."""
    with platform.reading() as session:
        row = session.get(AchievementRow, achievement_id)
        if row is None or row.current_version is None:
            raise NotFound(
                f"no published achievement {achievement_id!r}", property="achievement_id"
            )
        number = row.current_version if version is None else version
        found = session.scalars(
            select(AchievementVersionRow).where(
                AchievementVersionRow.achievement_id == achievement_id,
                AchievementVersionRow.org_id == row.org_id,
                AchievementVersionRow.version == number,
            )
        ).one_or_none()
        if found is None:
            raise NotFound(
                f"achievement {achievement_id!r} has no version {number}", property="version"
            )
        # active endorsements embedded (OB 3.0 Achievement.endorsement; services.endorsed)
        document = endorsed.with_endorsements(session, dict(found.document))
        return {"@context": [VC2_CONTEXT, OB3_CONTEXT], **document}


def upload_image(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    achievement_id: str,
    data: bytes,
    caption: str | None = None,
) -> AchievementView:
    """Sets the draft's image to ``data`` (PNG or SVG, at most ``MAX_IMAGE_BYTES``)."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        if caption is not None and (not caption.strip() or len(caption) > 500):
            raise InvalidInput("caption must be 1..500 characters", property="caption")
        row = _locked(session, org_id=org_id, achievement_id=achievement_id)
        if row.status == "archived":
            raise Conflict(f"achievement {achievement_id!r} is archived", property="status")
        sha256, media_type = _store_image(session, org_id=org_id, data=data, generated=False)
        document, metadata = _editable(session, row)
        image: dict[str, Any] = {"id": image_url(platform, sha256), "type": "Image"}
        if caption is not None:
            image["caption"] = caption.strip()
        document["image"] = image
        issuing.parse_achievement(document)
        row.draft_document = document
        row.draft_metadata = metadata
        row.updated_at = now
        audit(
            session,
            actor,
            action="achievement.image_set",
            org_id=org_id,
            target=document["id"],
            at=now,
            details={"sha256": sha256, "media_type": media_type, "size": len(data)},
        )
        return _view(session, platform, row)


def remove_image(
    platform: Platform, actor: Actor, *, org_id: str, achievement_id: str
) -> AchievementView:
    """Drops the draft's image: the next publication draws a badge instead."""
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _locked(session, org_id=org_id, achievement_id=achievement_id)
        if row.status == "archived":
            raise Conflict(f"achievement {achievement_id!r} is archived", property="status")
        document, metadata = _editable(session, row)
        document.pop("image", None)
        row.draft_document = document
        row.draft_metadata = metadata
        row.updated_at = now
        audit(
            session,
            actor,
            action="achievement.image_removed",
            org_id=org_id,
            target=document["id"],
            at=now,
        )
        return _view(session, platform, row)


def get_image(platform: Platform, sha256: str) -> Image:
    """``GET /images/{sha256}``: public, immutable (the name is the content's digest)."""
    if not _SHA256.match(sha256):
        raise NotFound(f"no image {sha256!r}", property="sha256")
    with platform.reading() as session:
        row = session.scalars(select(ImageRow).where(ImageRow.sha256 == sha256).limit(1)).first()
        if row is None:
            raise NotFound(f"no image {sha256!r}", property="sha256")
        return Image(media_type=row.media_type, data=bytes(row.data), sha256=row.sha256)
