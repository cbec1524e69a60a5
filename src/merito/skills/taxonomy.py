"""The skills taxonomy model: skills (and skill groups), hierarchy, occupations and their links.

A ``Taxonomy`` is a plain value: the ESCO parser (``merito.skills.esco``) and the bundled data
file (``merito.skills.bundle``) both produce one, and the import service writes it to the
database. Concepts are identified by their URI; ``concept_id`` derives the stable database id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "ESCO_ATTRIBUTION",
    "ESCO_LICENCE_URL",
    "Occupation",
    "OccupationSkill",
    "Skill",
    "SkillRelation",
    "Taxonomy",
    "concept_id",
]

SkillKind = Literal["skill", "group"]
SkillType = Literal["skill", "knowledge"]
Relation = Literal["essential", "optional"]

#: the credit ESCO's reuse terms ask for (Commission Decision 2011/833/EU; CC BY 4.0)
ESCO_ATTRIBUTION: Final = (
    "This service uses the ESCO classification of the European Commission "
    "(ESCO v1.1.1, https://esco.ec.europa.eu/). ESCO is © European Union, reused under "
    "Commission Decision 2011/833/EU (CC BY 4.0)."
)
ESCO_LICENCE_URL: Final = "https://creativecommons.org/licenses/by/4.0/"


def concept_id(uri: str) -> str:
    """The database id of a taxonomy concept: a UUIDv5 of its URI (stable across imports)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, uri))


@dataclass(frozen=True, slots=True, kw_only=True)
class Skill:
    """A skill, knowledge concept or skill group of the skills pillar."""

    uri: str
    preferred_label: str
    alt_labels: tuple[str, ...] = ()
    description: str = ""
    kind: SkillKind = "skill"
    skill_type: SkillType | None = None
    #: transversal, cross-sector, sector-specific or occupation-specific
    reuse_level: str | None = None
    #: a skill group's code (e.g. 'S1.2'); None for skills
    code: str | None = None
    #: ESCO collections the skill belongs to (digital, green, language, transversal, ...)
    collections: tuple[str, ...] = ()
    #: URIs of the broader concepts (a polyhierarchy: several are allowed)
    broader: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return concept_id(self.uri)


@dataclass(frozen=True, slots=True, kw_only=True)
class Occupation:
    uri: str
    preferred_label: str
    alt_labels: tuple[str, ...] = ()
    description: str = ""
    code: str | None = None
    #: the ISCO-08 unit group (4 digits)
    isco_group: str | None = None
    #: the URI of the broader ESCO occupation, if any
    broader: str | None = None

    @property
    def id(self) -> str:
        return concept_id(self.uri)


@dataclass(frozen=True, slots=True)
class OccupationSkill:
    occupation_uri: str
    skill_uri: str
    relation: Relation


@dataclass(frozen=True, slots=True)
class SkillRelation:
    skill_uri: str
    related_skill_uri: str
    relation: Relation


@dataclass(frozen=True, slots=True, kw_only=True)
class Taxonomy:
    """A whole taxonomy release, ready to import."""

    #: e.g. 'ESCO v1.1.1'
    version: str
    language: str = "en"
    skills: tuple[Skill, ...] = ()
    occupations: tuple[Occupation, ...] = ()
    occupation_skills: tuple[OccupationSkill, ...] = ()
    skill_relations: tuple[SkillRelation, ...] = ()
    #: anything the source dropped, with a count (e.g. links to an unknown occupation)
    dropped: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "skills": sum(1 for s in self.skills if s.kind == "skill"),
            "skill_groups": sum(1 for s in self.skills if s.kind == "group"),
            "occupations": len(self.occupations),
            "occupation_skills": len(self.occupation_skills),
            "essential": sum(1 for r in self.occupation_skills if r.relation == "essential"),
            "skill_broader": sum(len(s.broader) for s in self.skills),
            "skill_relations": len(self.skill_relations),
        }
