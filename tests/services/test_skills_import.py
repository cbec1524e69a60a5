"""Importing the taxonomy: all of ESCO, idempotently, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select

from merito.errors import InvalidInput
from merito.services import skills
from merito.services.platform import Actor, Platform
from merito.skills.taxonomy import Skill, Taxonomy
from merito.storage.tables import AuditLogRow
from merito.storage.tables_skills import (
    OccupationRow,
    OccupationSkillRow,
    SkillBroaderRow,
    SkillRelationRow,
    SkillRow,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "esco"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
DEVELOPER = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1"
OPERATOR = Actor.system("test")


def _counts(platform: Platform) -> dict[str, int]:
    with platform.reading() as session:
        return {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (
                SkillRow,
                SkillBroaderRow,
                SkillRelationRow,
                OccupationRow,
                OccupationSkillRow,
            )
        }


def test_reading_the_esco_csvs_from_a_folder_or_a_zip(tmp_path: Path) -> None:
    import zipfile

    from_folder = skills.read_taxonomy(FIXTURES)
    archive = tmp_path / "esco.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for csv in FIXTURES.glob("*.csv"):
            z.write(csv, f"some folder/{csv.name}")
    assert skills.read_taxonomy(archive) == from_folder
    with pytest.raises(InvalidInput, match="no such file"):
        skills.read_taxonomy(tmp_path / "missing")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(InvalidInput, match="cannot read"):
        skills.read_taxonomy(tmp_path / "bad.zip")


def test_import_is_idempotent_and_applies_changes(platform: Platform) -> None:
    taxonomy = skills.read_taxonomy(FIXTURES)
    first = skills.import_taxonomy(platform, OPERATOR, taxonomy)
    assert first.tables["skills"]["inserted"] == len(taxonomy.skills)
    counts = _counts(platform)
    assert counts == {
        "skills": len(taxonomy.skills),
        "skill_broader": sum(len(s.broader) for s in taxonomy.skills),
        "skill_relations": len(taxonomy.skill_relations),
        "occupations": 1,
        "occupation_skills": len(taxonomy.occupation_skills),
    }

    again = skills.import_taxonomy(platform, OPERATOR, taxonomy)
    assert _counts(platform) == counts
    assert all(t["inserted"] == t["updated"] == t["deleted"] == 0 for t in again.tables.values()), (
        again.tables
    )

    # a new release: one label changed, one link gone, one skill dropped from the release
    python = next(s for s in taxonomy.skills if s.uri == PYTHON)
    renamed = dataclasses.replace(python, preferred_label="Python", alt_labels=("py",))
    kept = tuple(
        renamed if s.uri == PYTHON else s
        for s in taxonomy.skills
        if s.preferred_label != "show initiative"
    )
    changed = dataclasses.replace(
        taxonomy,
        skills=kept,
        occupation_skills=tuple(r for r in taxonomy.occupation_skills if r.skill_uri != PYTHON),
    )
    third = skills.import_taxonomy(platform, OPERATOR, changed)
    assert third.tables["skills"]["updated"] == 1
    assert third.tables["occupation_skills"]["deleted"] == 1
    assert third.stale_skills == 1  # kept: profiles and mappings may cite it
    with platform.reading() as session:
        row = session.scalars(select(SkillRow).where(SkillRow.uri == PYTHON)).one()
        assert (row.preferred_label, row.alt_labels) == ("Python", ["py"])
        assert session.scalar(select(func.count()).select_from(SkillRow)) == counts["skills"]
        actions = session.scalars(
            select(AuditLogRow.action).where(AuditLogRow.action == "skills.taxonomy_imported")
        ).all()
        assert len(actions) == 3


def test_relation_changes_are_updates_not_duplicates(platform: Platform) -> None:
    taxonomy = skills.read_taxonomy(FIXTURES)
    skills.import_taxonomy(platform, OPERATOR, taxonomy)
    flipped = dataclasses.replace(
        taxonomy,
        occupation_skills=tuple(
            dataclasses.replace(r, relation="essential") for r in taxonomy.occupation_skills
        ),
    )
    result = skills.import_taxonomy(platform, OPERATOR, flipped)
    assert result.tables["occupation_skills"]["updated"] == sum(
        1 for r in taxonomy.occupation_skills if r.relation == "optional"
    )
    with platform.reading() as session:
        relations = set(session.scalars(select(OccupationSkillRow.relation)))
    assert relations == {"essential"}


def test_the_bundled_esco_loads_whole(platform: Platform) -> None:
    """All of ESCO v1.1.1 (English), twice: the second run changes nothing."""
    taxonomy = skills.bundled_taxonomy()
    assert taxonomy.version == "ESCO v1.1.1"
    assert taxonomy.counts()["skills"] == 13_896
    assert taxonomy.counts()["occupations"] == 3_007
    # 123,855 links in the release, less the 67 naming an occupation it does not describe
    assert taxonomy.counts()["occupation_skills"] == 123_855 - 67
    assert skills.ensure_taxonomy(platform, OPERATOR) is not None
    assert _counts(platform)["occupation_skills"] == 123_788
    assert skills.ensure_taxonomy(platform, OPERATOR) is None
    with platform.reading() as session:
        developer = session.scalars(select(OccupationRow).where(OccupationRow.uri == DEVELOPER))
        assert developer.one().preferred_label == "software developer"


def test_an_unknown_skill_in_a_link_is_refused_before_writing(platform: Platform) -> None:
    taxonomy = Taxonomy(
        version="x",
        skills=(Skill(uri="urn:x:a", preferred_label="a", broader=("urn:x:missing",)),),
    )
    with pytest.raises(InvalidInput, match="not in the release"):
        skills.import_taxonomy(platform, OPERATOR, taxonomy)
    assert _counts(platform)["skills"] == 0
