"""The trust and quality sections of a verification, as a person reads them.

From a ``services.trust.TrustedReport``: the achievement's quality facts in plain words (its
level, how it was assessed, how long it takes, credits, frameworks), its aggregate signals
(counts only, small ones as "fewer than 5"), and the endorsements it carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from merito.formats.quality import Quality
from merito.services.trust import SMALL_COUNT, TrustedReport
from merito.web.i18n import Gettext

__all__ = ["EndorsementLine", "TrustView", "trust_view"]


@dataclass(frozen=True, slots=True)
class EndorsementLine:
    by: str
    comment: str | None
    verified: bool
    problem: str | None


@dataclass(frozen=True, slots=True)
class TrustView:
    facts: tuple[tuple[str, str], ...]
    signals: tuple[tuple[str, str], ...]
    endorsements: tuple[EndorsementLine, ...]

    @property
    def empty(self) -> bool:
        return not (self.facts or self.signals or self.endorsements)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _assessment_words(quality: Quality, _: Gettext) -> str | None:
    words = {
        "proctored": _("a supervised (proctored) exam"),
        "unproctored": _("an unsupervised online test"),
        "portfolio": _("a portfolio of work"),
        "peer-reviewed": _("review by peers"),
        "practical": _("a practical demonstration"),
        "project": _("a project"),
        "attendance": _("attendance only (no assessment)"),
        "self-assessed": _("self-assessment"),
    }
    if quality.assessment is None:
        return None
    return words.get(quality.assessment, quality.assessment)


def _facts(quality: Quality, _: Gettext) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if quality.achievement_type:
        facts.append((_("Kind"), quality.achievement_type))
    if quality.eqf_level is not None:
        facts.append(
            (
                _("Level"),
                _("EQF level %(level)s of 8 (European Qualifications Framework)")
                % {"level": quality.eqf_level},
            )
        )
    assessed = _assessment_words(quality, _)
    if assessed:
        facts.append((_("How it was assessed"), assessed))
    if quality.hours is not None:
        facts.append((_("Learning time"), _("%(hours)s hours") % {"hours": _number(quality.hours)}))
    if quality.credits is not None:
        facts.append((_("Credits"), _number(quality.credits)))
    if quality.field_of_study:
        facts.append((_("Field of study"), quality.field_of_study))
    if quality.specialization:
        facts.append((_("Specialisation"), quality.specialization))
    if quality.frameworks:
        facts.append((_("Aligned to"), ", ".join(quality.frameworks)))
    if quality.human_code:
        facts.append((_("Code"), quality.human_code))
    return facts


def _endorsements(result: TrustedReport) -> list[EndorsementLine]:
    check = result.report.check("endorsements")
    if check is None:
        return []
    items = check.details.get("endorsements")
    lines = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        by = item.get("issuer_name") or item.get("issuer") or "?"
        comment: Any = item.get("comment")
        lines.append(
            EndorsementLine(
                by=str(by)[:200],
                comment=str(comment)[:2000] if isinstance(comment, str) else None,
                verified=bool(item.get("verified")),
                problem=item.get("problem") if isinstance(item.get("problem"), str) else None,
            )
        )
    return lines


def trust_view(result: TrustedReport, _: Gettext) -> TrustView:
    signals: list[tuple[str, str]] = []
    if result.signals is not None:
        few = _("fewer than %(n)s") % {"n": SMALL_COUNT}
        signals = [
            (
                _("People who hold it"),
                few if result.signals.holders is None else f"{result.signals.holders:,}",
            ),
            (
                _("Organisations that verified it"),
                few
                if result.signals.verifier_orgs is None
                else f"{result.signals.verifier_orgs:,}",
            ),
            (_("Endorsements"), f"{result.signals.endorsements:,}"),
        ]
    return TrustView(
        facts=tuple(_facts(result.quality, _)),
        signals=tuple(signals),
        endorsements=tuple(_endorsements(result)),
    )
