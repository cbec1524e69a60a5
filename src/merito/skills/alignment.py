"""OB 3.0 alignments of achievements to taxonomy skills, and how a proficiency level is said.

An achievement aligns to an ESCO skill with an OB 3.0 §B.1.5 Alignment whose ``targetUrl``
and ``targetCode`` are the skill's ESCO URI (``targetFramework`` names the release). ESCO has
no proficiency scale, so Merito uses four levels (``PROFICIENCY_LEVELS``, after the e-CF/EQF
style "foundation .. expert"). A level is expressed the OB 3.0 way:

- the achievement carries a §B.1.16 ResultDescription of ``resultType`` "RubricCriterionLevel"
  aligned to the skill, listing the four levels (§B.1.19 RubricCriterionLevel, each aligned
  to the skill too) and the ``requiredLevel`` the achievement demands;
- a credential's §B.1.15 Result points at that ResultDescription with ``achievedLevel`` (the
  level's id) and, for verifiers that read percentages (Merito's skill profiles among them),
  ``value`` as the level's percentage ("75%") and the skill in its ``alignment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "PROFICIENCY_LEVELS",
    "ProficiencyLevel",
    "proficiency_result",
    "proficiency_result_description",
    "skill_alignment",
]


@dataclass(frozen=True, slots=True)
class ProficiencyLevel:
    #: the id suffix and the ``level`` value
    key: str
    name: str
    description: str
    #: the level as a share of mastery, 0..100
    percent: int


PROFICIENCY_LEVELS: Final = (
    ProficiencyLevel(
        "foundation", "Foundation", "Applies the skill to routine tasks with guidance.", 25
    ),
    ProficiencyLevel(
        "intermediate", "Intermediate", "Applies the skill independently to usual tasks.", 50
    ),
    ProficiencyLevel(
        "advanced", "Advanced", "Applies the skill to complex, unfamiliar tasks; guides others.", 75
    ),
    ProficiencyLevel(
        "expert", "Expert", "Extends the practice of the skill; recognised as an authority.", 100
    ),
)
_LEVELS: Final = {level.key: level for level in PROFICIENCY_LEVELS}


def level(key: str) -> ProficiencyLevel:
    found = _LEVELS.get(key)
    if found is None:
        raise ValueError(f"unknown proficiency level {key!r} (one of {', '.join(_LEVELS)})")
    return found


def skill_alignment(
    *,
    uri: str,
    name: str,
    description: str | None = None,
    framework: str = "ESCO v1.1.1",
) -> dict[str, Any]:
    """The OB 3.0 Alignment of a taxonomy skill (ESCO URI as ``targetUrl`` and ``targetCode``)."""
    alignment: dict[str, Any] = {
        "type": ["Alignment"],
        "targetName": name,
        "targetUrl": uri,
        "targetCode": uri,
        "targetFramework": framework,
        "targetType": "ext:ESCOSkill"
        if uri.startswith("http://data.europa.eu/esco/")
        else "ext:Skill",
    }
    if description:
        alignment["targetDescription"] = description[:10_000]
    return alignment


def proficiency_result_description(
    alignment: dict[str, Any], *, required_level: str, base_id: str
) -> dict[str, Any]:
    """A ResultDescription of the skill's four levels, ``required_level`` the one demanded.

    ``base_id`` is a URI the level ids extend (e.g. the achievement's id + "#skill-1")."""
    required = level(required_level)
    return {
        "id": base_id,
        "type": ["ResultDescription"],
        "name": f"Proficiency: {alignment['targetName']}",
        "resultType": "RubricCriterionLevel",
        "alignment": [alignment],
        "rubricCriterionLevel": [
            {
                "id": f"{base_id}-{lv.key}",
                "type": ["RubricCriterionLevel"],
                "name": lv.name,
                "level": lv.key,
                "description": lv.description,
                "alignment": [alignment],
            }
            for lv in PROFICIENCY_LEVELS
        ],
        "requiredLevel": f"{base_id}-{required.key}",
    }


def proficiency_result(
    result_description: dict[str, Any], *, achieved_level: str
) -> dict[str, Any]:
    """The credential's Result for a level reached on the skill of ``result_description``."""
    reached = level(achieved_level)
    return {
        "type": ["Result"],
        "resultDescription": result_description["id"],
        "achievedLevel": f"{result_description['id']}-{reached.key}",
        "value": f"{reached.percent}%",
        "alignment": list(result_description["alignment"]),
    }
