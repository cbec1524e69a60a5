"""Open Badges 3.0 wire format: build an AchievementCredential document, parse one, and
tell credential formats apart by their ``@context``.

``build_credential`` writes what OB 3.0 (spec 3.0.3) on VC Data Model 2.0 asks for: the two
contexts in order, ``["VerifiableCredential", "OpenBadgeCredential"]``, the official
credentialSchema, and XML Schema dateTimeStamp times in UTC (``Z``). Its output always
conforms to the official JSON Schema (it is checked before it is returned). Times are
parameters: nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from merito.domain.achievements import Achievement, Image, Profile
from merito.domain.credentials import (
    AchievementCredential,
    CredentialStatus,
    Evidence,
    RefreshService,
    Result,
    TermsOfUse,
)
from merito.domain.identifiers import WIRE_CONTEXT, IdentityObject, WireModel
from merito.errors import InvalidCredential, InvalidInput
from merito.formats.schema import validate_achievement_credential

__all__ = [
    "CREDENTIAL_TYPE",
    "OB3_CONTEXT",
    "OB3_CREDENTIAL_SCHEMA",
    "OB3_EXTENSIONS_CONTEXT",
    "VC2_CONTEXT",
    "CredentialFormat",
    "build_credential",
    "detect_format",
    "format_datetime",
    "parse_credential",
]

VC2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
VC1_CONTEXT: Final = "https://www.w3.org/2018/credentials/v1"
OB3_CONTEXT: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
#: Defines 1EdTechJsonSchemaValidator2019 (our credentialSchema type), 1EdTechRevocationList and
#: 1EdTechCredentialRefresh. Without it those types are undefined terms: strict JSON-LD processors
#: (Digital Bazaar's safe mode) refuse to sign or verify the credential with eddsa-rdfc-2022.
OB3_EXTENSIONS_CONTEXT: Final = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
CREDENTIAL_TYPE: Final = ("VerifiableCredential", "OpenBadgeCredential")
#: OB 3.0 §B.1.21: one credentialSchema MUST be the spec's JSON Schema, validated by
#: "1EdTechJsonSchemaValidator2019".
OB3_CREDENTIAL_SCHEMA: Final = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "type": "1EdTechJsonSchemaValidator2019",
}

CredentialFormat = Literal["vc2", "vc1.1", "ob2", "ob1", "blockcerts", "unknown"]


def format_datetime(moment: datetime) -> str:
    """VC 2.0 §4.9 dateTimeStamp in UTC with ``Z``, to the second: ``2024-05-01T12:00:00Z``.

    A naive datetime is refused: which instant it means is not known.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            f"datetime {moment.isoformat()!r} has no timezone; pass an aware datetime (UTC)"
        )
    utc = moment.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"  # isoformat pads the year to four digits; strftime may not


def _json(value: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    return value.to_json() if isinstance(value, WireModel) else dict(value)


def _context(value: str | Mapping[str, Any]) -> str | dict[str, Any]:
    return value if isinstance(value, str) else dict(value)


def _subject(
    recipient: str | IdentityObject | Sequence[IdentityObject],
    achievement: Achievement,
    results: Sequence[Result | Mapping[str, Any]],
    subject_extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    subject: dict[str, Any] = {}
    if isinstance(recipient, str):
        if ":" not in recipient:
            raise InvalidInput(
                f"recipient {recipient!r} must be a DID or URI (credentialSubject.id)",
                property="credentialSubject.id",
            )
        subject["id"] = recipient
    subject["type"] = ["AchievementSubject"]
    subject["achievement"] = achievement.to_json()
    if isinstance(recipient, IdentityObject):
        subject["identifier"] = [recipient.to_json()]
    elif not isinstance(recipient, str):
        identifiers = [i.to_json() for i in recipient]
        if not identifiers:
            raise InvalidInput(
                "the recipient needs a DID/URI or at least one IdentityObject",
                property="credentialSubject.identifier",
            )
        subject["identifier"] = identifiers
    if results:
        subject["result"] = [_json(r) for r in results]
    if subject_extra:
        for key, value in subject_extra.items():
            if key in subject:
                raise InvalidInput(
                    f"credentialSubject.{key} is set by build_credential",
                    property=f"credentialSubject.{key}",
                )
            subject[key] = value
    return subject


def build_credential(
    *,
    credential_id: str,
    issuer: Profile,
    achievement: Achievement,
    recipient: str | IdentityObject | Sequence[IdentityObject],
    valid_from: datetime,
    valid_until: datetime | None = None,
    awarded_date: datetime | None = None,
    name: str | None = None,
    description: str | None = None,
    image: Image | None = None,
    evidence: Sequence[Evidence | Mapping[str, Any]] = (),
    results: Sequence[Result | Mapping[str, Any]] = (),
    credential_status: CredentialStatus | Mapping[str, Any] | None = None,
    terms_of_use: Sequence[TermsOfUse | Mapping[str, Any]] = (),
    refresh_service: RefreshService | Mapping[str, Any] | None = None,
    extra_contexts: Iterable[str | Mapping[str, Any]] = (),
    subject_extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned OB 3.0 AchievementCredential (VC 2.0) as a JSON object.

    ``recipient`` is the learner's DID (or other URI), or one or more IdentityObjects (e.g.
    ``salted_identity_object(email, salt=...)``). ``name`` defaults to the achievement's name
    (wallets show it). ``credential_status`` is e.g. a BitstringStatusListEntry;
    ``terms_of_use`` (VC 2.0 §5.12) and ``refresh_service`` (§5.11, e.g. OB 3.0's
    ``1EdTechCredentialRefresh``) need a ``type`` their contexts define, or an absolute IRI.
    Extension terms need their context in ``extra_contexts``; ``subject_extra`` adds
    properties such as ``activityEndDate`` or ``creditsEarned`` to the subject.

    Raises InvalidInput for unusable inputs, and InvalidCredential naming the property if
    the result would not conform to the OB 3.0 JSON Schema.
    """
    if ":" not in credential_id:
        raise InvalidInput(f"credential id {credential_id!r} must be a URI", property="id")
    if valid_until is not None and valid_until < valid_from:
        raise InvalidInput("valid_until is earlier than valid_from", property="validUntil")
    doc: dict[str, Any] = {
        "@context": [
            VC2_CONTEXT,
            OB3_CONTEXT,
            OB3_EXTENSIONS_CONTEXT,
            *(_context(c) for c in extra_contexts if c != OB3_EXTENSIONS_CONTEXT),
        ],
        "id": credential_id,
        "type": list(CREDENTIAL_TYPE),
        "name": name if name is not None else achievement.name,
    }
    if description is not None:
        doc["description"] = description
    if image is not None:
        doc["image"] = image.to_json()
    doc["issuer"] = issuer.to_json()
    doc["validFrom"] = format_datetime(valid_from)
    if valid_until is not None:
        doc["validUntil"] = format_datetime(valid_until)
    if awarded_date is not None:
        doc["awardedDate"] = format_datetime(awarded_date)
    doc["credentialSubject"] = _subject(recipient, achievement, results, subject_extra)
    if evidence:
        doc["evidence"] = [_json(e) for e in evidence]
    if credential_status is not None:
        doc["credentialStatus"] = _json(credential_status)
    if refresh_service is not None:
        doc["refreshService"] = _json(refresh_service)
    if terms_of_use:
        doc["termsOfUse"] = [_json(t) for t in terms_of_use]
    doc["credentialSchema"] = [dict(OB3_CREDENTIAL_SCHEMA)]

    issues = validate_achievement_credential(doc)
    if issues:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise InvalidCredential(f"{first}{more}", property=first.path or None)
    return doc


# --- parsing -------------------------------------------------------------------------------------

_TAG_NAMES = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "json-or-python"})


def _is_union_tag(element: str | int) -> bool:
    # pydantic puts the union branch it tried into ``loc`` ("str", "list[...]",
    # "function-wrap[...]"); properties never look like that.
    return isinstance(element, str) and (
        "[" in element or "(" in element or element in _TAG_NAMES or element[:1].isupper()
    )


def _error_path(loc: Iterable[str | int]) -> tuple[str | int, ...]:
    return tuple(e for e in loc if not _is_union_tag(e))


def _format_path(path: Iterable[str | int]) -> str:
    out = ""
    for element in path:
        out += f"[{element}]" if isinstance(element, int) else (f".{element}" if out else element)
    return out


def parse_credential(doc: Mapping[str, Any]) -> AchievementCredential:
    """Read an OB 3.0 AchievementCredential (VC 2.0, or VC 1.1 from before OB 3.0.3).

    Raises InvalidCredential whose ``property`` is the path of the first offending property
    (e.g. ``credentialSubject.achievement.criteria``). Structure only: proofs, status and
    validity dates are the verification pipeline's business.
    """
    if not isinstance(doc, Mapping):
        raise InvalidCredential(f"a credential must be a JSON object, not {type(doc).__name__}")
    try:
        return AchievementCredential.model_validate(dict(doc), context=WIRE_CONTEXT)
    except ValidationError as e:
        errors = [(_error_path(err["loc"]), err["msg"]) for err in e.errors()]
        # A one-or-many property fails both ways ("not an object" and "item 1 is wrong"):
        # keep the error that goes deepest, which names the property actually at fault.
        kept = [
            (path, msg)
            for path, msg in errors
            if not any(len(other) > len(path) and other[: len(path)] == path for other, _ in errors)
        ]
        path, msg = kept[0]
        where = _format_path(path)
        msg = msg.removeprefix("Value error, ")
        if msg == "Field required":
            msg = f"'{path[-1]}' is required" if path else "a required property is missing"
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        raise InvalidCredential(
            f"{where or '(document)'}: {msg}{more}", property=where or None
        ) from e


# --- format detection ----------------------------------------------------------------------------

_OB2_CONTEXTS = frozenset(
    {
        "https://w3id.org/openbadges/v2",
        "https://openbadgespec.org/v2/context.json",
    }
)
_OB1_CONTEXTS = frozenset({"https://w3id.org/openbadges/v1"})


def detect_format(doc: Mapping[str, Any]) -> CredentialFormat:
    """Which credential format ``doc`` is, judged by its ``@context``.

    ``"blockcerts"`` (any Blockcerts context, checked first: Blockcerts v3 is also a VC),
    ``"vc2"`` (VC Data Model 2.0, e.g. OB 3.0.3), ``"vc1.1"`` (VC 1.1, e.g. OB 3.0.0-3.0.2),
    ``"ob2"`` (Open Badges 2.0 assertion), ``"ob1"`` (Open Badges 1.x), else ``"unknown"``.
    """
    context = doc.get("@context") if isinstance(doc, Mapping) else None
    entries = context if isinstance(context, list) else [context]
    urls = [e for e in entries if isinstance(e, str)]
    if any("w3id.org/blockcerts" in u or "/blockcerts/schema/" in u for u in urls):
        return "blockcerts"
    if urls and urls[0] == VC2_CONTEXT:
        return "vc2"
    if urls and urls[0] == VC1_CONTEXT:
        return "vc1.1"
    if any(u in _OB2_CONTEXTS for u in urls):
        return "ob2"
    if any(u in _OB1_CONTEXTS for u in urls):
        return "ob1"
    return "unknown"
