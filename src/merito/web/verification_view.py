"""A verification report as a person reads it: a verdict, the badge, and every check explained.

The pipeline's checks say precisely what was found (in English, for the record); the page adds
for each check a title and a plain-language explanation of what the outcome means for the
person looking, in their language. A check id this module does not know (a later pipeline
check) is shown with the pipeline's own title and message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from merito.domain.verification import Outcome, VerificationReport
from merito.verification.pipeline import parse_datetime
from merito.web.i18n import Gettext

__all__ = ["Badge", "CheckView", "ReportView", "badge_of", "report_view"]

Verdict = Literal["valid", "invalid", "unknown"]
_IMAGE_TYPES: Final = ("data:image/png", "data:image/svg+xml", "data:image/jpeg", "data:image/gif")
_MAX_TEXT: Final = 2000


@dataclass(frozen=True, slots=True)
class CheckView:
    id: str
    outcome: str
    outcome_label: str
    title: str
    meaning: str
    #: the verifier's own finding (technical, in English)
    detail: str


@dataclass(frozen=True, slots=True)
class Badge:
    """What a credential says about itself (unverified until the report says otherwise)."""

    name: str | None
    description: str | None
    criteria: str | None
    #: an image the page may show: inline ``data:`` or one served by this site
    image: str | None
    issuer_name: str | None
    issuer_id: str | None
    issuer_url: str | None
    recipient: str | None
    recipient_hidden: bool
    valid_from: datetime | None
    valid_until: datetime | None
    types: tuple[str, ...]

    @property
    def initial(self) -> str:
        return (self.name or "?").strip()[:1].upper() or "?"


@dataclass(frozen=True, slots=True)
class ReportView:
    verdict: Verdict
    headline: str
    summary: str
    checks: tuple[CheckView, ...]
    badge: Badge | None
    checked_at: datetime | None


def _titles(_: Gettext) -> dict[str, str]:
    return {
        "parse": _("The document can be read"),
        "format": _("It is a credential Merito knows"),
        "context": _("Its vocabulary is standard"),
        "schema": _("It has the required information"),
        "proof": _("The signature is intact"),
        "issuer": _("The signer is the issuer"),
        "validity": _("It is valid today"),
        "status": _("It was not revoked or suspended"),
        "anchored": _("Its issuance is on record"),
        "endorsements": _("Its endorsements are genuine"),
        "trust": _("A trust registry knows the issuer"),
        "domain_linkage": _("The issuer's website vouches for it"),
    }


def _meanings(_: Gettext) -> dict[tuple[str, str], str]:
    return {
        ("parse", "pass"): _("The file or text is a complete, well-formed document."),
        ("parse", "fail"): _(
            "This is not a readable credential: it may be cut off, damaged, or not a "
            "credential at all."
        ),
        ("format", "pass"): _(
            "It is a digital credential in an open standard (Open Badges or W3C Verifiable "
            "Credentials)."
        ),
        ("format", "fail"): _("This is not a kind of credential Merito can check."),
        ("context", "pass"): _(
            "It uses the standard vocabulary, so every term means what the standard says."
        ),
        ("context", "fail"): _(
            "It uses vocabulary Merito does not know, so its meaning cannot be relied on."
        ),
        ("schema", "pass"): _("Every required field is there, in the expected form."),
        ("schema", "fail"): _(
            "Required information is missing or in the wrong form: the credential is not well made."
        ),
        ("proof", "pass"): _(
            "The digital signature matches: nothing in the credential changed since it was issued."
        ),
        ("proof", "fail"): _(
            "The signature does not match: the credential was changed after it was issued, "
            "or it was never properly signed. Do not trust what it says."
        ),
        ("proof", "warning"): _("The signature could not be checked completely."),
        ("issuer", "pass"): _(
            "The key that signed it belongs to the issuer named in it, so the issuer really "
            "made it."
        ),
        ("issuer", "fail"): _(
            "The key that signed it does not belong to the issuer it names: someone else may "
            "have made it."
        ),
        ("validity", "pass"): _("Today is within the dates the issuer set for it."),
        ("validity", "fail"): _("It is not valid today: it has expired, or is not valid yet."),
        ("status", "pass"): _("The issuer has not revoked or suspended it."),
        ("status", "fail"): _("The issuer has revoked or suspended it: do not rely on it."),
        ("status", "warning"): _(
            "The issuer's status list could not be read, so nobody can tell here whether it "
            "was revoked."
        ),
        ("anchored", "pass"): _(
            "Its issuance is recorded in a public log, with the time it happened."
        ),
        ("anchored", "fail"): _("Its record in the public log does not match the credential."),
        ("anchored", "warning"): _(
            "Its record in the public log is not confirmed (yet): this does not change the "
            "other checks."
        ),
        ("endorsements", "pass"): _(
            "Other organisations vouch for this badge or its issuer, with signed endorsements "
            "that were checked like credentials."
        ),
        ("endorsements", "warning"): _(
            "An endorsement it carries is not genuine or was withdrawn: it is not counted. "
            "The credential itself is not affected."
        ),
        ("trust", "pass"): _("A trust registry you chose lists the issuer as recognised."),
        ("trust", "warning"): _(
            "The registries you chose do not vouch for the issuer (now): this does not make "
            "the credential invalid, but decide for yourself whether you trust the issuer."
        ),
        ("trust", "fail"): _(
            "The issuer was removed from a trust registry you chose before this credential "
            "was issued: do not rely on it."
        ),
        ("domain_linkage", "pass"): _(
            "The issuer's website publishes a signed statement that this identity is its own."
        ),
        ("domain_linkage", "warning"): _(
            "The issuer's website does not confirm this identity: the credential may still be "
            "genuine."
        ),
        ("domain_linkage", "fail"): _(
            "The issuer's website makes a statement about this identity that does not check out."
        ),
    }


def _outcome_labels(_: Gettext) -> dict[str, str]:
    return {
        "pass": _("Passed"),
        "fail": _("Failed"),
        "warning": _("Unsure"),
        "skipped": _("Not checked"),
    }


#: checks that add assurance without deciding it: a credential whose anchoring is still
#: pending (or unconfirmed) is as authentic and in force as one never anchored
_SUPPLEMENTARY: Final = frozenset({"anchored", "endorsements", "trust", "domain_linkage"})


def _verdict(report: VerificationReport) -> Verdict:
    if report.failures:
        return "invalid"
    if not report.checks or any(c.id not in _SUPPLEMENTARY for c in report.warnings):
        return "unknown"
    return "valid"


def report_view(report: VerificationReport, _: Gettext, *, base_url: str) -> ReportView:
    titles, meanings, labels = _titles(_), _meanings(_), _outcome_labels(_)
    checks = []
    for check in report.checks:
        outcome = check.outcome.value
        if check.outcome is Outcome.SKIPPED:
            meaning = _("This was not checked.")
        else:
            meaning = meanings.get((check.id, outcome), check.message)
        checks.append(
            CheckView(
                id=check.id,
                outcome=outcome,
                outcome_label=labels.get(outcome, outcome),
                title=titles.get(check.id, check.title),
                meaning=meaning,
                detail=check.message,
            )
        )
    verdict = _verdict(report)
    if verdict == "valid":
        headline = _("Valid credential")
        if report.warnings:
            summary = _(
                "The credential is authentic and in force. An extra check is not complete: "
                "see below."
            )
        else:
            summary = _("Every check passed: the credential is authentic and in force.")
    elif verdict == "invalid":
        headline = _("Not valid")
        first = report.failures[0]
        summary = meanings.get((first.id, "fail"), first.message)
    else:
        headline = _("Cannot tell")
        summary = _(
            "Nothing failed, but not everything could be checked: read the checks below "
            "before you rely on it."
        )
    badge = badge_of(report.credential, base_url=base_url) if report.credential else None
    return ReportView(
        verdict=verdict,
        headline=headline,
        summary=summary,
        checks=tuple(checks),
        badge=badge,
        checked_at=parse_datetime(report.checked_at),
    )


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:_MAX_TEXT]
    if isinstance(value, Mapping):  # a language map ({"en": ..., "fr": ...}) or {"@value": ...}
        for key in ("@value", "en"):
            if isinstance(value.get(key), str):
                return _text(value[key])
    return None


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _image(value: Any, base_url: str) -> str | None:
    """Only images that leak nothing and pass the page's CSP: inline, or from this site."""
    url = _id_of(value)
    if url is None:
        return None
    if url.startswith(_IMAGE_TYPES):
        return url
    if url.startswith(base_url.rstrip("/") + "/"):
        return url.removeprefix(base_url.rstrip("/")) or None
    return None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _recipient(subject: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(what the issuer published about the recipient, whether it is hidden by a hash)."""
    name = _text(subject.get("name"))
    identifiers = subject.get("identifier")
    for identifier in identifiers if isinstance(identifiers, list) else [identifiers]:
        if not isinstance(identifier, Mapping):
            continue
        hashed = identifier.get("hashed") is True
        value = _text(identifier.get("identityHash"))
        if hashed:
            return name, True
        if value:
            return name or value, False
    subject_id = _text(subject.get("id"))
    return name or subject_id, False


def badge_of(credential: Mapping[str, Any], *, base_url: str) -> Badge:
    subject = _first(credential.get("credentialSubject"))
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    issuer = credential.get("issuer")
    issuer_map = issuer if isinstance(issuer, Mapping) else {}
    criteria = achievement.get("criteria")
    recipient, hidden = _recipient(subject)
    types = credential.get("type")
    name = _text(achievement.get("name")) or _text(credential.get("name"))
    return Badge(
        name=name,
        description=_text(achievement.get("description")) or _text(credential.get("description")),
        criteria=_text(criteria.get("narrative")) if isinstance(criteria, Mapping) else None,
        image=_image(achievement.get("image"), base_url)
        or _image(credential.get("image"), base_url),
        issuer_name=_text(issuer_map.get("name")),
        issuer_id=_id_of(issuer),
        issuer_url=_text(issuer_map.get("url")),
        recipient=recipient,
        recipient_hidden=hidden,
        valid_from=parse_datetime(credential.get("validFrom") or credential.get("issuanceDate")),
        valid_until=parse_datetime(
            credential.get("validUntil") or credential.get("expirationDate")
        ),
        types=tuple(
            t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)
        ),
    )
