"""Skills: the taxonomy (ESCO and organisations' own skills), hierarchy, occupations (0011).

Tables and columns (other modules build on these names):

``skills``  one concept of the skills pillar: an ESCO skill or skill group (``org_id`` NULL) or
    an organisation's own skill (``org_id`` set).
    ``id`` (36 chars; for ESCO rows ``uuid5(NAMESPACE_URL, uri)``, so it is stable across
    imports and databases), ``uri`` (the ESCO concept URI; ``urn:uuid:<id>`` or the
    organisation's own URI for its skills), ``org_id``, ``kind`` ('skill' | 'group'),
    ``skill_type`` ('skill' | 'knowledge' | NULL: ESCO's skill/competence vs knowledge),
    ``reuse_level`` ('transversal' | 'cross-sector' | 'sector-specific' |
    'occupation-specific' | NULL), ``preferred_label``, ``alt_labels`` (JSON list of strings),
    ``description``, ``code`` (a skill group's code, e.g. 'S1.2.1'), ``collections`` (JSON
    list: 'digital', 'green', 'language', 'transversal', 'research', 'digcomp'),
    ``created_at``, ``updated_at``.
``skill_broader``  the hierarchy: (``skill_id``, ``broader_id``), both ``skills.id``; a
    skill may have several broader concepts (ESCO is a polyhierarchy).
``skill_relations``  ESCO's skill-to-skill links: (``skill_id``, ``related_skill_id``,
    ``relation`` 'essential' | 'optional').
``occupations``  ``id`` (uuid5 of the uri), ``uri``, ``preferred_label``, ``alt_labels``,
    ``description``, ``code`` (ESCO code, e.g. '2512.4'), ``isco_group`` (4-digit ISCO-08
    code), ``broader_id`` (the broader ESCO occupation, if any).
``occupation_skills``  (``occupation_id``, ``skill_id``, ``relation`` 'essential' |
    'optional').
``skill_mappings``  an organisation's skill mapped onto ESCO: (``skill_id`` the org skill,
    ``esco_skill_id``), ``org_id``, ``match`` (SKOS mapping relation: 'exact' | 'close' |
    'broad' | 'narrow' | 'related'), ``created_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from merito.storage.tables import Base, JsonDocument, utcnow

__all__ = [
    "MAPPING_MATCHES",
    "OccupationRow",
    "OccupationSkillRow",
    "SkillBroaderRow",
    "SkillMappingRow",
    "SkillRelationRow",
    "SkillRow",
]

SKILL_KINDS: Final = ("skill", "group")
SKILL_TYPES: Final = ("skill", "knowledge")
REUSE_LEVELS: Final = ("transversal", "cross-sector", "sector-specific", "occupation-specific")
RELATIONS: Final = ("essential", "optional")
MAPPING_MATCHES: Final = ("exact", "close", "broad", "narrow", "related")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SkillRow(Base):
    """A skill or skill group: ESCO's (``org_id`` NULL) or an organisation's own."""

    __tablename__ = "skills"
    __table_args__ = (
        CheckConstraint(_one_of("kind", SKILL_KINDS), name="kind"),
        CheckConstraint(_one_of("skill_type", SKILL_TYPES), name="skill_type"),
        CheckConstraint(_one_of("reuse_level", REUSE_LEVELS), name="reuse_level"),
        Index(None, "org_id", "kind"),
        # ESCO URIs are unique; an organisation's URIs are unique within it only, so one
        # tenant cannot learn (by a conflict) which URIs another one uses
        Index(
            "uq_skills_esco_uri",
            "uri",
            unique=True,
            sqlite_where=text("org_id IS NULL"),
            postgresql_where=text("org_id IS NULL"),
        ),
        Index(
            "uq_skills_org_uri",
            "org_id",
            "uri",
            unique=True,
            sqlite_where=text("org_id IS NOT NULL"),
            postgresql_where=text("org_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    uri: Mapped[str] = mapped_column(String(500))
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="skill")
    skill_type: Mapped[str | None] = mapped_column(String(16))
    reuse_level: Mapped[str | None] = mapped_column(String(24))
    preferred_label: Mapped[str] = mapped_column(String(300))
    alt_labels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(32))
    collections: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SkillBroaderRow(Base):
    """``skill_id`` is narrower than ``broader_id`` (SKOS broader)."""

    __tablename__ = "skill_broader"

    skill_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    broader_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SkillRelationRow(Base):
    """ESCO skill-to-skill link: ``related_skill_id`` is essential/optional for ``skill_id``."""

    __tablename__ = "skill_relations"
    __table_args__ = (CheckConstraint(_one_of("relation", RELATIONS), name="relation"),)

    skill_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    related_skill_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    relation: Mapped[str] = mapped_column(String(16))


class OccupationRow(Base):
    """An ESCO occupation."""

    __tablename__ = "occupations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    uri: Mapped[str] = mapped_column(String(500), unique=True)
    preferred_label: Mapped[str] = mapped_column(String(300))
    alt_labels: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(32))
    isco_group: Mapped[str | None] = mapped_column(String(8), index=True)
    broader_id: Mapped[str | None] = mapped_column(
        ForeignKey("occupations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OccupationSkillRow(Base):
    """A skill an occupation needs: essential or optional (ESCO occupationSkillRelations)."""

    __tablename__ = "occupation_skills"
    __table_args__ = (CheckConstraint(_one_of("relation", RELATIONS), name="relation"),)

    occupation_id: Mapped[str] = mapped_column(
        ForeignKey("occupations.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    relation: Mapped[str] = mapped_column(String(16))


class SkillMappingRow(Base):
    """An organisation's own skill mapped onto an ESCO skill (a SKOS mapping relation)."""

    __tablename__ = "skill_mappings"
    __table_args__ = (CheckConstraint(_one_of("match", MAPPING_MATCHES), name="match"),)

    skill_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True
    )
    esco_skill_id: Mapped[str] = mapped_column(
        ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    match: Mapped[str] = mapped_column(String(16), default="exact")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
