"""Quality facts of an OB 3.0 Achievement, read from OB 3.0-conformant places only.

Nothing here needs a term outside the OB 3.0 context (JSON-LD safe mode would reject one, and
no remote context is ever fetched):

- type and credit value: ``achievementType``, ``creditsAvailable``, ``fieldOfStudy``,
  ``specialization``, ``humanCode``, ``otherIdentifier``;
- the EQF level: an ``alignment`` whose ``targetType`` is ``ext:EQFLevel`` (or whose
  ``targetFramework`` names the European Qualifications Framework) and whose ``targetCode`` is
  the level 1-8 (``targetUrl`` the Europass description of the levels);
- the assessment method: an ``alignment`` whose ``targetType`` is ``ext:AssessmentMethod`` and
  whose ``targetCode`` is one of ``ASSESSMENT_METHODS`` (proctored, portfolio, ...);
- the frameworks it aligns to: every other alignment's ``targetFramework``.

Hours of learning have no OB 3.0 member; Merito keeps them beside the document (catalog
metadata) and passes them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ASSESSMENT_METHODS",
    "ASSESSMENT_TARGET_TYPE",
    "EQF_FRAMEWORK",
    "EQF_TARGET_TYPE",
    "EQF_URL",
    "Quality",
    "assessment_alignment",
    "eqf_alignment",
    "quality_of",
]

EQF_TARGET_TYPE: Final = "ext:EQFLevel"
ASSESSMENT_TARGET_TYPE: Final = "ext:AssessmentMethod"
EQF_FRAMEWORK: Final = "European Qualifications Framework (EQF)"
EQF_URL: Final = "https://europass.europa.eu/en/description-eight-eqf-levels"
#: assessment methods, code -> plain words
ASSESSMENT_METHODS: Final = {
    "proctored": "a supervised (proctored) exam",
    "unproctored": "an unsupervised online test",
    "portfolio": "a portfolio of work",
    "peer-reviewed": "review by peers",
    "practical": "a practical demonstration",
    "project": "a project",
    "attendance": "attendance only (no assessment)",
    "self-assessed": "self-assessment",
}


@dataclass(frozen=True, slots=True)
class Quality:
    achievement_type: str | None = None
    credits: float | None = None
    field_of_study: str | None = None
    specialization: str | None = None
    human_code: str | None = None
    eqf_level: int | None = None
    assessment: str | None = None
    hours: float | None = None
    frameworks: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = field(default=())

    @property
    def assessment_words(self) -> str | None:
        if self.assessment is None:
            return None
        return ASSESSMENT_METHODS.get(self.assessment, self.assessment)

    @property
    def empty(self) -> bool:
        return self == Quality()

    def to_dict(self) -> dict[str, Any]:
        return {
            "achievement_type": self.achievement_type,
            "credits": self.credits,
            "field_of_study": self.field_of_study,
            "specialization": self.specialization,
            "human_code": self.human_code,
            "eqf_level": self.eqf_level,
            "assessment": self.assessment,
            "assessment_words": self.assessment_words,
            "hours": self.hours,
            "frameworks": list(self.frameworks),
            "identifiers": list(self.identifiers),
        }


def eqf_alignment(level: int) -> dict[str, Any]:
    """The Alignment stating EQF level ``level`` (1-8)."""
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 8:
        raise ValueError("an EQF level is an integer from 1 to 8")
    return {
        "type": ["Alignment"],
        "targetName": f"EQF level {level}",
        "targetUrl": f"{EQF_URL}#level-{level}",
        "targetFramework": EQF_FRAMEWORK,
        "targetCode": str(level),
        "targetType": EQF_TARGET_TYPE,
    }


def assessment_alignment(method: str, *, base_url: str) -> dict[str, Any]:
    """The Alignment stating the assessment method (a code of ``ASSESSMENT_METHODS``)."""
    if method not in ASSESSMENT_METHODS:
        raise ValueError(f"unknown assessment method {method!r}")
    return {
        "type": ["Alignment"],
        "targetName": f"Assessed by {ASSESSMENT_METHODS[method]}",
        "targetUrl": base_url.rstrip("/") + f"/trust/assessment-methods#{method}",
        "targetFramework": "Merito assessment methods",
        "targetCode": method,
        "targetType": ASSESSMENT_TARGET_TYPE,
    }


def _text(value: Any) -> str | None:
    return value.strip()[:500] if isinstance(value, str) and value.strip() else None


def _is_eqf(alignment: Mapping[str, Any]) -> bool:
    if alignment.get("targetType") == EQF_TARGET_TYPE:
        return True
    framework = str(alignment.get("targetFramework") or "")
    return "European Qualifications Framework" in framework or framework.strip() == "EQF"


def quality_of(achievement: Any, *, hours: float | None = None) -> Quality:
    """The quality facts an Achievement states (missing or malformed members are left out)."""
    if not isinstance(achievement, Mapping):
        return Quality(hours=hours)
    eqf: int | None = None
    assessment: str | None = None
    frameworks: list[str] = []
    alignments = achievement.get("alignment")
    for item in alignments if isinstance(alignments, list) else []:
        if not isinstance(item, Mapping):
            continue
        code = _text(item.get("targetCode"))
        if _is_eqf(item):
            if code is not None and code.isdigit() and 1 <= int(code) <= 8 and eqf is None:
                eqf = int(code)
            continue
        if item.get("targetType") == ASSESSMENT_TARGET_TYPE:
            assessment = assessment or code
            continue
        framework = _text(item.get("targetFramework"))
        if framework is not None and framework not in frameworks:
            frameworks.append(framework)
    credits = achievement.get("creditsAvailable")
    identifiers: list[str] = []
    others = achievement.get("otherIdentifier")
    for item in others if isinstance(others, list) else []:
        if isinstance(item, Mapping) and _text(item.get("identifier")):
            kind = _text(item.get("identifierType")) or "identifier"
            identifiers.append(f"{kind}: {_text(item.get('identifier'))}")
    return Quality(
        achievement_type=_text(achievement.get("achievementType")),
        credits=float(credits)
        if isinstance(credits, int | float) and not isinstance(credits, bool)
        else None,
        field_of_study=_text(achievement.get("fieldOfStudy")),
        specialization=_text(achievement.get("specialization")),
        human_code=_text(achievement.get("humanCode")),
        eqf_level=eqf,
        assessment=assessment,
        hours=hours,
        frameworks=tuple(frameworks[:20]),
        identifiers=tuple(identifiers[:20]),
    )
