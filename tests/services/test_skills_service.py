"""Skills service: lookups, search, organisations' own skills and their ESCO mappings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from services_support import SeededOrg
from sqlalchemy import select

from merito.errors import InvalidInput, NotFound, PermissionDenied
from merito.services import skills
from merito.services.platform import Actor, Platform
from merito.storage.tables import AuditLogRow

FIXTURES = Path(__file__).parents[1] / "fixtures" / "esco"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
PROGRAMMING = "http://data.europa.eu/esco/skill/21d2f96d-35f7-4e3f-9745-c533d2dd6e97"
DEVELOPER = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1"


@pytest.fixture
def esco(platform: Platform) -> Platform:
    skills.import_taxonomy(platform, Actor.system("test"), skills.read_taxonomy(FIXTURES))
    return platform


def test_skill_lookup_by_id_or_uri_with_hierarchy_and_occupations(esco: Platform) -> None:
    python = skills.get_skill(esco, PYTHON)
    assert skills.get_skill(esco, python.id) == python
    assert python.preferred_label == "Python (computer programming)"
    assert PROGRAMMING in {b.uri for b in python.broader}
    assert [o.uri for o in python.optional_for] == [DEVELOPER]
    programming = skills.get_skill(esco, PROGRAMMING)
    assert PYTHON in {n.uri for n in programming.narrower}
    assert [o.uri for o in programming.essential_for] == [DEVELOPER]
    with pytest.raises(NotFound):
        skills.get_skill(esco, "no-such-skill")


def test_occupation_with_essential_and_optional_skills(esco: Platform) -> None:
    developer = skills.get_occupation(esco, DEVELOPER)
    assert developer.preferred_label == "software developer"
    assert [s.uri for s in developer.essential_skills] == [PROGRAMMING]
    assert PYTHON in {s.uri for s in developer.optional_skills}
    assert skills.get_occupation(esco, developer.id) == developer
    found = skills.search_occupations(esco, "programmer", limit=1)
    assert found[0].occupation.uri == DEVELOPER
    with pytest.raises(NotFound):
        skills.get_occupation(esco, "nope")


def test_search_normalises_free_text(esco: Platform) -> None:
    (best, *_) = skills.search_skills(esco, "python dev", limit=3)
    assert best.skill.uri == PYTHON
    exact = skills.search_skills(esco, "SQL", limit=1)[0]
    assert exact.exact
    with pytest.raises(InvalidInput):
        skills.search_skills(esco, "   ")
    batch = skills.normalize_skills(esco, ["python dev", "devops"], limit=1)
    assert [m[0].skill.preferred_label for m in batch] == [best.skill.preferred_label, "DevOps"]


def test_org_skills_crud_search_and_mappings(
    esco: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org, other = seed_org(), seed_org()
    created = skills.create_org_skill(
        esco,
        org.actor,
        org_id=org.org_id,
        fields=skills.OrgSkillFields(
            preferred_label="Acme pipeline scripting",
            alt_labels=["acme scripting", "Acme pipeline scripting", " "],
            description="Writing Acme's build pipelines.",
        ),
    )
    assert created.org_id == org.org_id
    assert created.uri == f"urn:uuid:{created.id}"
    assert created.alt_labels == ("acme scripting",)

    # searchable by members with the organisation, never in the public ESCO search
    mine = skills.search_skills(esco, "acme scripting", org_id=org.org_id, actor=org.actor)
    assert mine[0].skill.id == created.id
    assert all(m.skill.id != created.id for m in skills.search_skills(esco, "acme scripting"))
    with pytest.raises(NotFound):
        skills.search_skills(esco, "acme", org_id=org.org_id, actor=other.actor)

    # the index follows edits (cache invalidated by the row fingerprint)
    skills.update_org_skill(
        esco,
        org.actor,
        org_id=org.org_id,
        skill_id=created.id,
        fields=skills.OrgSkillUpdate(preferred_label="Zephyr deployment"),
    )
    renamed = skills.search_skills(esco, "zephyr deployment", org_id=org.org_id, actor=org.actor)
    assert renamed[0].skill.id == created.id
    assert renamed[0].exact

    mapped = skills.set_skill_mappings(
        esco,
        org.actor,
        org_id=org.org_id,
        skill_id=created.id,
        mappings=[
            skills.MappingFields(esco_skill=PYTHON, match="close"),
            skills.MappingFields(esco_skill=skills.get_skill(esco, PROGRAMMING).id, match="broad"),
        ],
    )
    assert {(m.esco.uri, m.match) for m in mapped.mappings} == {
        (PYTHON, "close"),
        (PROGRAMMING, "broad"),
    }
    with pytest.raises(InvalidInput, match=r"mappings\.0\.esco_skill"):
        skills.set_skill_mappings(
            esco,
            org.actor,
            org_id=org.org_id,
            skill_id=created.id,
            mappings=[skills.MappingFields(esco_skill=created.id)],  # not an ESCO skill
        )
    cleared = skills.set_skill_mappings(
        esco, org.actor, org_id=org.org_id, skill_id=created.id, mappings=[]
    )
    assert cleared.mappings == ()

    # another tenant sees nothing of it, through any door
    for call in (
        lambda: skills.get_org_skill(esco, other.actor, org_id=org.org_id, skill_id=created.id),
        lambda: skills.get_org_skill(esco, other.actor, org_id=other.org_id, skill_id=created.id),
        lambda: skills.get_skill(esco, created.id, actor=other.actor),
        lambda: skills.get_skill(esco, created.id),
        lambda: skills.delete_org_skill(
            esco, other.actor, org_id=other.org_id, skill_id=created.id
        ),
    ):
        with pytest.raises(NotFound):
            call()
    assert skills.get_skill(esco, created.id, actor=org.actor).id == created.id
    assert [s.id for s in skills.list_org_skills(esco, org.actor, org_id=org.org_id)] == [
        created.id
    ]
    assert skills.list_org_skills(esco, other.actor, org_id=other.org_id) == []

    skills.delete_org_skill(esco, org.actor, org_id=org.org_id, skill_id=created.id)
    assert skills.list_org_skills(esco, org.actor, org_id=org.org_id) == []
    gone = skills.search_skills(esco, "zephyr deployment", org_id=org.org_id, actor=org.actor)
    assert all(m.skill.id != created.id for m in gone)
    with esco.reading() as session:
        actions = session.scalars(
            select(AuditLogRow.action)
            .where(AuditLogRow.org_id == org.org_id, AuditLogRow.action.like("skills.%"))
            .order_by(AuditLogRow.id)
        ).all()
    assert actions == [
        "skills.created",
        "skills.updated",
        "skills.mapped",
        "skills.mapped",
        "skills.deleted",
    ]


def test_org_skills_need_achievements_write(
    esco: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    viewer = seed_org(role="viewer")
    with pytest.raises(PermissionDenied):
        skills.create_org_skill(
            esco,
            viewer.actor,
            org_id=viewer.org_id,
            fields=skills.OrgSkillFields(preferred_label="x"),
        )
    assert skills.list_org_skills(esco, viewer.actor, org_id=viewer.org_id) == []
    owner = seed_org()
    with pytest.raises(InvalidInput, match="uri"):
        skills.create_org_skill(
            esco,
            owner.actor,
            org_id=owner.org_id,
            fields=skills.OrgSkillFields(preferred_label="x", uri="not a uri"),
        )


def test_alignment_for_a_skill_with_a_required_level(esco: Platform) -> None:
    made = skills.alignment_for_skill(esco, PYTHON, required_level="intermediate")
    assert made["alignment"]["targetUrl"] == PYTHON
    assert made["resultDescription"]["requiredLevel"].endswith("-intermediate")
    with pytest.raises(InvalidInput, match="unknown proficiency level") as caught:
        skills.alignment_for_skill(esco, PYTHON, required_level="guru")
    assert caught.value.property == "required_level"
