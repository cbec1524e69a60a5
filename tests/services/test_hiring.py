"""Hiring end to end through the real services: issue, rank, explain, revoke, consent, paths.

An issuer publishes achievements aligned to ESCO skills and issues credentials to learners'
email addresses; an employer's role ranks the learners who opted in, with explanations that
cite the credentials; revoking a credential removes its skills at once; learning paths are
optimal on a hand-checked instance and respect prerequisites. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy.exc import IntegrityError

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.services import catalog, credentials, hiring
from merito.services.platform import Actor, Platform
from merito.skills.ranking import specificity
from merito.skills.taxonomy import concept_id
from merito.storage.tables import AuditLogRow, MembershipRow, UserRow
from merito.storage.tables_hiring import DiscoverabilityRow
from merito.storage.tables_skills import (
    OccupationRow,
    OccupationSkillRow,
    SkillBroaderRow,
    SkillRow,
)
from merito.storage.tables_wallet import WalletItemRow

Seed = Callable[..., SeededOrg]
ESCO = "http://data.europa.eu/esco/skill/"
PROG, PY, SQL, VIS, COOK = (ESCO + x for x in ("programming", "python", "sql", "visualise", "cook"))
ANALYST = "http://data.europa.eu/esco/occupation/data-analyst"
LABELS = {PROG: "programming", PY: "Python", SQL: "SQL", VIS: "visualise data", COOK: "cook"}


def seed_taxonomy(platform: Platform) -> None:
    with platform.transaction() as session:
        for uri, label in LABELS.items():
            session.add(SkillRow(id=concept_id(uri), uri=uri, preferred_label=label, kind="skill"))
        session.flush()
        session.add(SkillBroaderRow(skill_id=concept_id(PY), broader_id=concept_id(PROG)))
        session.add(
            OccupationRow(id=concept_id(ANALYST), uri=ANALYST, preferred_label="data analyst")
        )
        session.flush()
        for skill, relation in ((PY, "essential"), (SQL, "essential"), (VIS, "optional")):
            session.add(
                OccupationSkillRow(
                    occupation_id=concept_id(ANALYST), skill_id=concept_id(skill), relation=relation
                )
            )


def achievement(
    platform: Platform, org: SeededOrg, name: str, skills: list[str], **metadata: Any
) -> str:
    made = catalog.create_achievement(
        platform,
        org.actor,
        org_id=org.org_id,
        fields={
            "name": name,
            "description": f"{name}.",
            "criteria": {"narrative": "Pass the assessment."},
            "alignment": [
                {"targetName": LABELS[s], "targetUrl": s, "targetFramework": "ESCO"} for s in skills
            ],
            **metadata,
        },
    )
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)
    return made.id


def learner(platform: Platform) -> Actor:
    user_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(UserRow(id=user_id, email=f"{user_id[:8]}@learners.example", password_hash="!"))
    return Actor(kind="user", id=user_id, user_id=user_id)


def email(platform: Platform, actor: Actor) -> str:
    with platform.reading() as session:
        user = session.get(UserRow, actor.user_id)
        assert user is not None
        return user.email


def issue(platform: Platform, org: SeededOrg, achievement_id: str, to: Actor) -> str:
    record = credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id,
        recipient=email(platform, to),
        notify=False,
    )
    return record.id


@dataclass
class World:
    issuer: SeededOrg
    employer: SeededOrg
    python: str
    sql: str
    prog: str
    full: Actor  # Python + SQL, public
    half: Actor  # Python only, discoverable by the employer only
    hidden: Actor  # Python + SQL, not discoverable
    broad: Actor  # programming (broader than Python), public
    sql_credential: str
    role_id: str


@pytest.fixture
def world(platform: Platform, seed_org: Seed) -> World:
    seed_taxonomy(platform)
    issuer = seed_org(slug="academy")
    employer = seed_org(kind="employer", slug="employer")
    python = achievement(platform, issuer, "Python course", [PY], hours=10)
    sql = achievement(platform, issuer, "SQL basics", [SQL], hours=5)
    prog = achievement(platform, issuer, "Programming 101", [PROG], hours=8)
    full, half, hidden, broad = (learner(platform) for _ in range(4))
    issue(platform, issuer, python, full)
    sql_credential = issue(platform, issuer, sql, full)
    issue(platform, issuer, python, half)
    issue(platform, issuer, python, hidden)
    issue(platform, issuer, sql, hidden)
    issue(platform, issuer, prog, broad)
    hiring.set_discoverability(platform, full, public=True)
    hiring.set_discoverability(platform, half, public=False, org_ids=[employer.org_id])
    hiring.set_discoverability(platform, broad, public=True)
    role = hiring.create_role(
        platform,
        employer.actor,
        org_id=employer.org_id,
        fields={
            "title": "Data analyst",
            "requirements": [
                {"skill": PY},
                {"skill": SQL},
                {"skill": VIS, "required": False, "weight": 0.5},
            ],
        },
    )
    return World(
        issuer=issuer,
        employer=employer,
        python=python,
        sql=sql,
        prog=prog,
        full=full,
        half=half,
        hidden=hidden,
        broad=broad,
        sql_credential=sql_credential,
        role_id=role.id,
    )


def test_ranking_orders_discoverable_learners_and_explains_each_score(
    platform: Platform, world: World
) -> None:
    ranking = hiring.rank_candidates(
        platform, world.employer.actor, org_id=world.employer.org_id, role_id=world.role_id
    )
    order = [r.user_id for r in ranking.results]
    assert order == [world.full.user_id, world.half.user_id, world.broad.user_id]
    assert world.hidden.user_id not in order
    assert ranking.pool == 3
    scores = [r.score for r in ranking.results]
    assert scores == pytest.approx([2 / 2.5, 1 / 2.5, 0.5 / 2.5])
    best = ranking.results[0].explanation
    python_match = best.matches[0]
    assert python_match.status == "met"
    assert python_match.match == "exact"
    assert python_match.label == "Python"
    (proof,) = python_match.proofs
    assert proof.achievement_name == "Python course"
    assert proof.issuer_name == "Org academy"
    assert proof.credential_id.startswith("https://merito.test/credentials/")
    assert [m.skill for m in best.missing] == [VIS]
    assert sum(m.contribution for m in best.matches) == pytest.approx(best.score)
    via_broader = ranking.results[2].explanation.matches[0]
    assert via_broader.match == "broader"
    assert via_broader.matched_skill == PROG
    assert via_broader.matched_label == "programming"


def test_revoking_a_credential_removes_its_skills_from_the_ranking(
    platform: Platform, world: World
) -> None:
    credentials.revoke(
        platform,
        world.issuer.actor,
        org_id=world.issuer.org_id,
        credential_id=world.sql_credential,
        reason="issued in error",
    )
    ranking = hiring.rank_candidates(
        platform, world.employer.actor, org_id=world.employer.org_id, role_id=world.role_id
    )
    full = next(r for r in ranking.results if r.user_id == world.full.user_id)
    assert full.score == pytest.approx(1 / 2.5)
    sql_match = full.explanation.matches[1]
    assert sql_match.status == "missing"
    assert full.explanation.missing_required == 1
    profile = hiring.my_profile(platform, world.full)
    assert [s.skill for s in profile] == [PY]


def test_expired_credentials_stop_counting(
    platform: Platform, world: World, clock: MovableClock
) -> None:
    learner_actor = learner(platform)
    credentials.issue_credential(
        platform,
        world.issuer.actor,
        org_id=world.issuer.org_id,
        achievement_id=world.sql,
        recipient=email(platform, learner_actor),
        notify=False,
        valid_until=clock.now().replace(year=clock.now().year + 1),
    )
    assert [s.skill for s in hiring.my_profile(platform, learner_actor)] == [SQL]
    clock.advance(days=400)
    assert hiring.my_profile(platform, learner_actor) == []


def test_a_learner_sees_the_explanation_the_employer_saw(platform: Platform, world: World) -> None:
    ranking = hiring.rank_candidates(
        platform, world.employer.actor, org_id=world.employer.org_id, role_id=world.role_id
    )
    (records,) = [hiring.my_rankings(platform, world.full)]
    assert [(r.role_title, r.rank) for r in records] == [("Data analyst", 1)]
    mine = hiring.my_explanation(platform, world.full, role_id=world.role_id)
    assert mine == ranking.results[0].explanation
    employer_view = hiring.explain_candidate(
        platform,
        world.employer.actor,
        org_id=world.employer.org_id,
        role_id=world.role_id,
        user_id=world.full.user_id,
    )
    assert employer_view == mine
    with pytest.raises(NotFound):
        hiring.my_explanation(platform, world.hidden, role_id=world.role_id)
    with pytest.raises(NotFound):
        hiring.explain_candidate(
            platform,
            world.employer.actor,
            org_id=world.employer.org_id,
            role_id=world.role_id,
            user_id=world.hidden.user_id,
        )


def test_withdrawing_consent_takes_a_learner_out_of_rankings(
    platform: Platform, world: World
) -> None:
    rank = lambda: [  # noqa: E731
        r.user_id
        for r in hiring.rank_candidates(
            platform, world.employer.actor, org_id=world.employer.org_id, role_id=world.role_id
        ).results
    ]
    assert world.full.user_id in rank()
    hiring.set_discoverability(platform, world.full, public=False)
    assert world.full.user_id not in rank()
    assert hiring.my_rankings(platform, world.full) == []
    assert hiring.get_discoverability(platform, world.full) == hiring.Discoverability(
        public=False, org_ids=()
    )
    # consent for another organisation does not make the learner visible to this one
    other = hiring.set_discoverability(
        platform, world.full, public=False, org_ids=[world.issuer.org_id]
    )
    assert other.org_ids == (world.issuer.org_id,)
    assert world.full.user_id not in rank()
    with pytest.raises(NotFound):
        hiring.set_discoverability(platform, world.full, public=False, org_ids=["no-such-org"])


def test_an_imported_wallet_credential_counts_only_when_it_verified(
    platform: Platform, world: World
) -> None:
    actor = learner(platform)
    document = {
        "id": "urn:uuid:imported-1",
        "issuer": {"id": "did:web:elsewhere.example", "name": "Elsewhere"},
        "validFrom": "2025-06-01T00:00:00Z",
        "credentialSubject": {
            "achievement": {
                "id": "https://elsewhere.example/a/1",
                "name": "Imported SQL",
                "alignment": [{"targetName": "SQL", "targetUrl": SQL}],
            }
        },
    }
    with platform.transaction() as session:
        for n, verdict in enumerate(("valid", "invalid")):
            session.add(
                WalletItemRow(
                    id=str(uuid.uuid4()),
                    user_id=actor.user_id,
                    source="imported",
                    format="ob3",
                    document={**document, "id": f"urn:uuid:imported-{n}"},
                    content_hash=f"{n:064d}",
                    credential_id=f"urn:uuid:imported-{n}",
                    name="Imported SQL",
                    issuer_id="did:web:elsewhere.example",
                    issuer_name="Elsewhere",
                    verdict=verdict,
                    visibility="private",
                )
            )
    (skill,) = hiring.my_profile(platform, actor)
    assert skill.skill == SQL
    assert [p.credential_id for p in skill.proofs] == ["urn:uuid:imported-0"]
    # an imported issuer weighs less than one hosted (and checked live) here
    assert skill.level < hiring.IMPORTED_TRUST + 1e-9
    assert skill.level > 0.5


def test_require_all_and_limits(platform: Platform, world: World) -> None:
    ranking = hiring.rank_candidates(
        platform,
        world.employer.actor,
        org_id=world.employer.org_id,
        role_id=world.role_id,
        require_all=True,
    )
    assert [r.user_id for r in ranking.results] == [world.full.user_id]
    with pytest.raises(InvalidInput):
        hiring.rank_candidates(
            platform,
            world.employer.actor,
            org_id=world.employer.org_id,
            role_id=world.role_id,
            limit=0,
        )


def test_roles_are_tenant_scoped_and_need_permissions(
    platform: Platform, world: World, seed_org: Seed
) -> None:
    stranger = seed_org()
    with pytest.raises(NotFound):
        hiring.rank_candidates(
            platform, stranger.actor, org_id=world.employer.org_id, role_id=world.role_id
        )
    with pytest.raises(NotFound):
        hiring.get_role(platform, stranger.actor, org_id=stranger.org_id, role_id=world.role_id)
    with platform.transaction() as session:
        session.add(
            MembershipRow(org_id=world.employer.org_id, user_id=stranger.user_id, role="viewer")
        )
    viewer = stranger.actor
    assert (
        hiring.get_role(platform, viewer, org_id=world.employer.org_id, role_id=world.role_id).title
        == "Data analyst"
    )
    with pytest.raises(PermissionDenied):
        hiring.rank_candidates(
            platform, viewer, org_id=world.employer.org_id, role_id=world.role_id
        )
    with pytest.raises(PermissionDenied):
        hiring.create_role(platform, viewer, org_id=world.employer.org_id, fields={"title": "X"})


def test_role_crud_prefill_from_an_occupation_and_audit(platform: Platform, world: World) -> None:
    org = world.employer
    role = hiring.create_role(
        platform,
        org.actor,
        org_id=org.org_id,
        fields={"title": "Analyst", "occupation": ANALYST},
    )
    # specificity weights: Python and SQL are essential for the only occupation, so they tell
    # little apart; visualisation is essential for none
    assert [(r.skill, r.required, r.weight) for r in role.requirements] == [
        (PY, True, specificity(1, 1)),
        (SQL, True, specificity(1, 1)),
        (VIS, False, round(specificity(0, 1) * hiring.OPTIONAL_WEIGHT, 4)),
    ]
    assert role.requirements[0].label == "Python"
    updated = hiring.update_role(
        platform,
        org.actor,
        org_id=org.org_id,
        role_id=role.id,
        fields={"status": "closed", "requirements": [{"skill": SQL, "min_level": 0.5}]},
    )
    assert updated.status == "closed"
    assert [(r.skill, r.min_level) for r in updated.requirements] == [(SQL, 0.5)]
    assert [
        r.id for r in hiring.list_roles(platform, org.actor, org_id=org.org_id, status="closed")
    ] == [role.id]
    for bad in (
        {"title": " "},
        {"title": "X", "requirements": [{"skill": "not a uri"}]},
        {"title": "X", "requirements": [{"skill": SQL}, {"skill": SQL}]},
        {"title": "X", "requirements": [{"skill": SQL, "weight": 0}]},
        {"title": "X", "unknown": 1},
    ):
        with pytest.raises(InvalidInput):
            hiring.create_role(platform, org.actor, org_id=org.org_id, fields=bad)
    with pytest.raises(NotFound):
        hiring.create_role(
            platform,
            org.actor,
            org_id=org.org_id,
            fields={"title": "X", "occupation": ANALYST + "x"},
        )
    hiring.delete_role(platform, org.actor, org_id=org.org_id, role_id=role.id)
    with pytest.raises(NotFound):
        hiring.get_role(platform, org.actor, org_id=org.org_id, role_id=role.id)
    with platform.reading() as session:
        actions = [
            a for (a,) in session.query(AuditLogRow.action).filter(AuditLogRow.org_id == org.org_id)
        ]
    assert {"hiring.role_created", "hiring.role_updated", "hiring.role_deleted"} <= set(actions)


def test_saved_searches_run_the_same_ranking(platform: Platform, world: World) -> None:
    org = world.employer
    saved = hiring.create_saved_search(
        platform,
        org.actor,
        org_id=org.org_id,
        fields={"name": "complete", "role_id": world.role_id, "require_all": True},
    )
    assert [s.id for s in hiring.list_saved_searches(platform, org.actor, org_id=org.org_id)] == [
        saved.id
    ]
    ran = hiring.run_saved_search(platform, org.actor, org_id=org.org_id, search_id=saved.id)
    assert [r.user_id for r in ran.results] == [world.full.user_id]
    hiring.delete_saved_search(platform, org.actor, org_id=org.org_id, search_id=saved.id)
    with pytest.raises(NotFound):
        hiring.run_saved_search(platform, org.actor, org_id=org.org_id, search_id=saved.id)


def test_learning_path_is_the_cheapest_cover_in_prerequisite_order(
    platform: Platform, world: World
) -> None:
    # the learner holds Python; the occupation's essential skills are Python and SQL, so SQL is
    # missing. Offers: "SQL basics" (5 h, already published in the world), a bundle of SQL +
    # visualisation (4 h) that needs "Intro to data" (2 h) first, and an expensive SQL course.
    issuer = world.issuer
    intro = achievement(platform, issuer, "Intro to data", [VIS], hours=2)
    achievement(platform, issuer, "SQL and charts", [SQL, VIS], hours=2, prerequisites=[intro])
    achievement(platform, issuer, "SQL masterclass", [SQL], hours=40)
    achievement(platform, issuer, "Unpriced SQL", [SQL])
    path = hiring.learning_path(platform, world.half, occupation=ANALYST, cost="hours")
    assert path.missing == (SQL,)
    assert [s.name for s in path.steps] == ["Intro to data", "SQL and charts"]
    assert path.total_cost == 4
    assert path.optimal
    assert path.coverage == 1.0
    assert path.labels == {SQL: "SQL"}
    # with a new credential the gap closes: the path updates on the next read
    issue(platform, issuer, world.sql, world.half)
    assert hiring.learning_path(platform, world.half, occupation=ANALYST).steps == ()


def test_learning_path_for_a_ranked_role_and_by_price(platform: Platform, world: World) -> None:
    hiring.rank_candidates(
        platform, world.employer.actor, org_id=world.employer.org_id, role_id=world.role_id
    )
    issuer = world.issuer
    achievement(
        platform, issuer, "Charts", [VIS], hours=1, price={"amount": "30.00", "currency": "EUR"}
    )
    achievement(
        platform, issuer, "Cheap SQL", [SQL], hours=50, price={"amount": "10.00", "currency": "EUR"}
    )
    achievement(
        platform, issuer, "Dear SQL", [SQL], hours=1, price={"amount": "90.00", "currency": "EUR"}
    )
    by_price = hiring.learning_path(platform, world.half, role_id=world.role_id, cost="price")
    assert by_price.currency == "EUR"
    assert sorted(s.name for s in by_price.steps) == ["Charts", "Cheap SQL"]
    assert by_price.total_cost == pytest.approx(40.0)
    by_hours = hiring.learning_path(platform, world.half, role_id=world.role_id, cost="hours")
    assert sorted(s.name for s in by_hours.steps) == ["Charts", "Dear SQL"]
    assert by_hours.total_cost == pytest.approx(2.0)
    with pytest.raises(NotFound):  # never ranked for that role: not theirs to see
        hiring.learning_path(platform, world.hidden, role_id=world.role_id)
    with pytest.raises(InvalidInput):
        hiring.learning_path(platform, world.half)


def test_only_signed_in_learners_have_profiles(platform: Platform, world: World) -> None:
    machine = Actor(kind="api_key", id="k", org_id=world.employer.org_id)
    with pytest.raises(PermissionDenied):
        hiring.my_profile(platform, machine)


def test_a_role_is_prefilled_from_a_pasted_job_description(
    platform: Platform, world: World
) -> None:
    text = (
        "Data analyst\n\nRequirements:\n- 2+ years of Python and SQL\n\n"
        "Nice to have:\n- visualise data\n- underwater basket weaving\n"
    )
    role = hiring.create_role(
        platform,
        world.employer.actor,
        org_id=world.employer.org_id,
        fields={"title": "From text", "job_text": text},
    )
    assert [(r.skill, r.required) for r in role.requirements] == [
        (PY, True),
        (SQL, True),
        (VIS, False),
    ]
    again = hiring.update_role(
        platform,
        world.employer.actor,
        org_id=world.employer.org_id,
        role_id=role.id,
        fields={"job_text": "You have:\n- SQL"},
    )
    assert [(r.skill, r.required) for r in again.requirements] == [(SQL, True)]


def test_a_claimed_wallet_credential_counts_by_its_live_status(
    platform: Platform, world: World
) -> None:
    # issued to a DID (not the learner's email), then held in the learner's wallet
    actor = learner(platform)
    record = credentials.issue_credential(
        platform,
        world.issuer.actor,
        org_id=world.issuer.org_id,
        achievement_id=world.sql,
        recipient="did:example:holder-1",
        notify=False,
    )
    with platform.transaction() as session:
        session.add(
            WalletItemRow(
                id=str(uuid.uuid4()),
                user_id=actor.user_id,
                credential_row_id=record.id,
                source="claimed",
                format="ob3",
                document=record.document,
                content_hash="c" * 64,
                credential_id=record.credential_id,
                name="SQL basics",
                verdict="valid",
                visibility="private",
            )
        )
    (skill,) = hiring.my_profile(platform, actor)
    assert skill.level == pytest.approx(1.0)  # hosted issuer, fresh: full weight
    assert skill.proofs[0].issuer_name == "Org academy"
    credentials.revoke(
        platform,
        world.issuer.actor,
        org_id=world.issuer.org_id,
        credential_id=record.id,
        reason="revoked in the test",
    )
    assert hiring.my_profile(platform, actor) == []


def test_the_consent_table_refuses_a_second_public_consent_and_an_org_scope_without_org(
    platform: Platform,
) -> None:
    actor = learner(platform)
    hiring.set_discoverability(platform, actor, public=True)
    with pytest.raises(Conflict), platform.transaction() as session:
        session.add(DiscoverabilityRow(id=str(uuid.uuid4()), user_id=actor.user_id, scope="public"))
    # a CHECK violation is a bug, not a conflict: it surfaces as the database's error
    with pytest.raises(IntegrityError, match="scope_org"), platform.transaction() as session:
        session.add(DiscoverabilityRow(id=str(uuid.uuid4()), user_id=actor.user_id, scope="org"))
