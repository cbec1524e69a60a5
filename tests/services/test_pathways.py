"""Pathways end to end through the real services, on SQLite and PostgreSQL.

An issuer publishes constituent achievements and a pathway over them; credentials issued to a
learner's email are handed to the listener exactly as the outbox would (the ``webhook.*``
messages their transactions wrote), so the stacked credential is awarded automatically, once,
even when several threads deliver the same events at the same time, and redelivery changes
nothing. Revoking a constituent flags or revokes the award as the pathway's policy says.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import func, select

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.services import catalog, credentials, pathways, wallet
from merito.services.platform import Actor, Platform
from merito.storage.tables import AuditLogRow, CredentialRow, OutboxRow, UserRow
from merito.storage.tables_pathways import PathwayAwardRow

Seed = Callable[..., SeededOrg]


def achievement(platform: Platform, org: SeededOrg, name: str, hours: float | None = None) -> str:
    fields: dict[str, Any] = {
        "name": name,
        "description": f"{name}.",
        "criteria": {"narrative": "Pass the assessment."},
    }
    if hours is not None:
        fields["hours"] = hours
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=fields)
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


def claim_token(platform: Platform, credential_row_id: str) -> str:
    """The token of the claim link in the queued email (as the learner would read it)."""
    with platform.reading() as session:
        payload = session.scalar(
            select(OutboxRow.payload).where(
                OutboxRow.idempotency_key == f"credential-issued:{credential_row_id}"
            )
        )
    found = re.search(r"/claim/([A-Za-z0-9_-]+)", json.dumps(payload))
    assert found is not None
    return found.group(1)


def leaf(achievement_id: str) -> dict[str, str]:
    return {"kind": "achievement", "achievement_id": achievement_id}


class Events:
    """Hands each new ``webhook.*`` outbox message to the pathway listener, as the worker does."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.seen: set[int] = set()

    def pending(self) -> list[tuple[int, dict[str, Any]]]:
        with self.platform.reading() as session:
            rows = session.execute(
                select(OutboxRow.id, OutboxRow.payload)
                .where(OutboxRow.topic.like("webhook.%"))
                .order_by(OutboxRow.id)
            ).all()
        return [(i, dict(p)) for i, p in rows if i not in self.seen]

    def deliver(self) -> int:
        delivered = 0
        while batch := self.pending():
            for message_id, payload in batch:
                self.seen.add(message_id)
                pathways.on_event(self.platform, payload)
                delivered += 1
        return delivered


@dataclass
class World:
    org: SeededOrg
    sql: str
    python: str
    viz: str
    stats: str
    certificate: str
    events: Events

    def issue(self, platform: Platform, achievement_id: str, to: Actor) -> str:
        return credentials.issue_credential(
            platform,
            self.org.actor,
            org_id=self.org.org_id,
            achievement_id=achievement_id,
            recipient=email(platform, to),
            notify=False,
        ).id


@pytest.fixture
def world(platform: Platform, seed_org: Seed) -> World:
    org = seed_org(slug="academy")
    return World(
        org=org,
        sql=achievement(platform, org, "SQL", hours=10),
        python=achievement(platform, org, "Python", hours=20),
        viz=achievement(platform, org, "Visualisation", hours=5),
        stats=achievement(platform, org, "Statistics", hours=15),
        certificate=achievement(platform, org, "Data Analyst Certificate"),
        events=Events(platform),
    )


def analyst_pathway(platform: Platform, w: World, *, policy: str = "flag") -> str:
    """SQL and Python, and 1 of (Visualisation, Statistics)."""
    made = pathways.create_pathway(
        platform,
        w.org.actor,
        org_id=w.org.org_id,
        achievement_id=w.certificate,
        requirement={
            "kind": "all",
            "children": [
                leaf(w.sql),
                leaf(w.python),
                {"kind": "n_of", "n": 1, "children": [leaf(w.viz), leaf(w.stats)]},
            ],
        },
        revocation_policy=policy,
    )
    pathways.publish_pathway(platform, w.org.actor, org_id=w.org.org_id, pathway_id=made.id)
    return made.id


def awards(platform: Platform) -> list[PathwayAwardRow]:
    with platform.reading() as session:
        return list(session.scalars(select(PathwayAwardRow)))


def certificates(platform: Platform, w: World) -> int:
    with platform.reading() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(CredentialRow)
                .where(CredentialRow.idempotency_key.like("pathway-award:%"))
            )
            or 0
        )


def test_progress_then_auto_award_with_evidence_and_event(platform: Platform, world: World) -> None:
    w = world
    pathway_id = analyst_pathway(platform, w)
    ada = learner(platform)
    sql_row = w.issue(platform, w.sql, ada)
    w.events.deliver()

    mine = pathways.my_progress(platform, ada, pathway_id=pathway_id)
    assert not mine.satisfied
    assert mine.award is None
    assert (mine.leaves_done, mine.leaves_total) == (1, 4)
    sql_leaf = mine.tree.children[0]
    assert sql_leaf.satisfied
    assert sql_leaf.credential is not None
    assert sql_leaf.credential.credential_id.endswith(f"/credentials/{sql_row}")
    assert {a.name for a in mine.left} == {"Python", "Visualisation", "Statistics"}
    assert [p.pathway.id for p in pathways.my_pathways(platform, ada)] == [pathway_id]

    w.issue(platform, w.python, ada)
    w.issue(platform, w.stats, ada)
    w.events.deliver()

    (award,) = awards(platform)
    assert award.user_id == ada.user_id
    assert award.status == "awarded"
    with platform.reading() as session:
        stacked = session.get(CredentialRow, award.credential_row_id)
        assert stacked is not None
        assert stacked.recipient == email(platform, ada)
        evidence = stacked.document["evidence"]
        awarded = session.scalar(
            select(OutboxRow.payload).where(OutboxRow.topic == "webhook.pathway.awarded")
        )
        logged = session.scalar(
            select(AuditLogRow.details).where(AuditLogRow.action == "pathway.awarded")
        )
    assert sorted(e["name"] for e in evidence) == ["Python", "SQL", "Statistics"]
    assert all(e["id"].startswith("https://merito.test/credentials/") for e in evidence)
    assert all(e["type"] == ["Evidence"] and e["narrative"] for e in evidence)
    assert awarded is not None
    assert awarded["event"] == "pathway.awarded"
    assert awarded["pathway_id"] == pathway_id
    assert awarded["user_id"] == ada.user_id
    assert awarded["credential_row_id"] == award.credential_row_id
    assert logged is not None
    assert logged["pathway_id"] == pathway_id

    done = pathways.my_progress(platform, ada, pathway_id=pathway_id)
    assert done.satisfied
    assert done.award is not None
    assert done.left == []
    # the same events again: nothing new
    w.events.seen.clear()
    w.events.deliver()
    assert len(awards(platform)) == 1
    assert certificates(platform, w) == 1

    funnel = pathways.funnel(platform, w.org.actor, org_id=w.org.org_id, pathway_id=pathway_id)
    assert (funnel.started, funnel.satisfied, funnel.awarded) == (1, 1, 1)
    assert [s.learners for s in funnel.by_leaves] == [0, 0, 1, 0]


def test_concurrent_awards_issue_one_credential(platform: Platform, world: World) -> None:
    w = world
    pathway_id = analyst_pathway(platform, w)
    ada = learner(platform)
    for a in (w.sql, w.python, w.viz):
        w.issue(platform, a, ada)  # no events delivered yet
    assert ada.user_id is not None
    results: list[Any] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(pathways._award(platform, pathway_id=pathway_id, user_id=ada.user_id))
        except Exception as e:  # collected: asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.id for r in results}) == 1
    assert len(awards(platform)) == 1
    assert certificates(platform, w) == 1
    w.events.deliver()  # the three issued events, and the award's own: still one
    assert len(awards(platform)) == 1
    assert certificates(platform, w) == 1


@pytest.mark.parametrize("policy", ["flag", "revoke"])
def test_revoking_a_constituent_applies_the_policy(
    platform: Platform, world: World, policy: str
) -> None:
    w = world
    pathway_id = analyst_pathway(platform, w, policy=policy)
    ada = learner(platform)
    sql = w.issue(platform, w.sql, ada)
    w.issue(platform, w.python, ada)
    viz = w.issue(platform, w.viz, ada)
    stats = w.issue(platform, w.stats, ada)
    w.events.deliver()
    (award,) = awards(platform)
    used = {c["credential_row_id"] for c in award.constituents}
    assert len(used) == 4
    assert {sql, viz, stats} <= used

    # Visualisation revoked: Statistics still satisfies the 1-of-2 group -> nothing changes
    credentials.revoke(platform, w.org.actor, org_id=w.org.org_id, credential_id=viz, reason="x")
    w.events.deliver()
    assert awards(platform)[0].status == "awarded"

    credentials.revoke(
        platform, w.org.actor, org_id=w.org.org_id, credential_id=sql, reason="exam fraud"
    )
    w.events.deliver()
    w.events.seen.clear()
    w.events.deliver()  # redelivered: applied once
    (after,) = awards(platform)
    with platform.reading() as session:
        stacked = session.get(CredentialRow, after.credential_row_id)
        assert stacked is not None
    assert after.attention is not None
    assert "exam fraud" in after.attention
    if policy == "flag":
        assert after.status == "flagged"
        assert stacked.revoked_at is None
        flagged = pathways.list_awards(platform, w.org.actor, org_id=w.org.org_id, status="flagged")
        assert [a.id for a in flagged] == [after.id]
        resolved = pathways.resolve_award(
            platform, w.org.actor, org_id=w.org.org_id, award_id=after.id
        )
        assert resolved.status == "awarded"
        assert resolved.attention is None
    else:
        assert after.status == "revoked"
        assert stacked.revoked_at is not None
        assert stacked.revocation_reason is not None
        assert "exam fraud" in stacked.revocation_reason
    progress = pathways.my_progress(platform, ada, pathway_id=pathway_id)
    assert not progress.satisfied
    assert [a.name for a in progress.left] == ["SQL"]


def test_hours_window_and_claimed_credentials(
    platform: Platform, world: World, clock: MovableClock, seed_org: Seed
) -> None:
    w = world
    # 1 of (SQL, Python, Visualisation), at least 25 hours, all within 30 days
    made = pathways.create_pathway(
        platform,
        w.org.actor,
        org_id=w.org.org_id,
        achievement_id=w.certificate,
        requirement={
            "kind": "any",
            "min_hours": 25,
            "within_days": 30,
            "children": [leaf(w.sql), leaf(w.python), leaf(w.viz)],
        },
    )
    pathways.publish_pathway(platform, w.org.actor, org_id=w.org.org_id, pathway_id=made.id)
    ada = learner(platform)
    w.issue(platform, w.sql, ada)  # 10 h
    clock.advance(days=40)
    w.issue(platform, w.viz, ada)  # 5 h, 40 days later: no 30-day window has 25 h
    w.events.deliver()
    progress = pathways.my_progress(platform, ada, pathway_id=made.id)
    assert not progress.satisfied
    assert progress.tree.hours_short > 0
    assert awards(platform) == []

    # Python (20 h) claimed into the wallet under another address, 10 days after Visualisation
    clock.advance(days=10)
    other = credentials.issue_credential(
        platform,
        w.org.actor,
        org_id=w.org.org_id,
        achievement_id=w.python,
        recipient="ada.other@example.net",
    )
    w.events.deliver()
    assert awards(platform) == []  # nobody owns that address yet
    wallet.claim(platform, ada, claim_token(platform, other.id))
    w.events.deliver()
    (award,) = awards(platform)
    assert award.user_id == ada.user_id
    assert {c["credential_row_id"] for c in award.constituents} >= {other.id}
    view = pathways.my_progress(platform, ada, pathway_id=made.id)
    assert view.tree.hours == 25
    assert view.tree.window_start is not None


def test_trusted_issuers_and_invalid_trees(
    platform: Platform, world: World, seed_org: Seed
) -> None:
    w = world
    partner = seed_org(slug="partner")
    foreign = achievement(platform, partner, "Partner course", hours=3)

    def create(requirement: Any, **kw: Any) -> Any:
        return pathways.create_pathway(
            platform,
            w.org.actor,
            org_id=w.org.org_id,
            achievement_id=w.certificate,
            requirement=requirement,
            **kw,
        )

    bad: list[tuple[Any, str]] = [
        ({"kind": "all", "children": [leaf(foreign)]}, "requirement.children[0].achievement_id"),
        ({"kind": "n_of", "n": 3, "children": [leaf(w.sql), leaf(w.python)]}, "requirement.n"),
        ({"kind": "n_of", "n": 0, "children": [leaf(w.sql)]}, "requirement.n"),
        ({"kind": "all", "children": []}, "requirement.children"),
        ({"kind": "some", "children": [leaf(w.sql)]}, "requirement.kind"),
        (leaf(w.sql), "requirement.kind"),
        (
            {"kind": "all", "children": [leaf(w.sql), leaf(w.sql)]},
            "requirement.children[1].achievement_id",
        ),
        ({"kind": "all", "min_hours": 100, "children": [leaf(w.sql)]}, "requirement.min_hours"),
        ({"kind": "all", "within_days": 0, "children": [leaf(w.sql)]}, "requirement.within_days"),
        (
            {"kind": "all", "earned_after": "soon", "children": [leaf(w.sql)]},
            "requirement.earned_after",
        ),
        ({"kind": "all", "children": [leaf(w.certificate)]}, "requirement"),
        (
            {"kind": "all", "children": [leaf(str(uuid.uuid4()))]},
            "requirement.children[0].achievement_id",
        ),
    ]
    deep: dict[str, Any] = leaf(w.sql)
    for _ in range(6):
        deep = {"kind": "all", "children": [deep]}
    bad.append((deep, "requirement" + ".children[0]" * 5 + ".children"))
    for requirement, prop in bad:
        with pytest.raises(InvalidInput) as e:
            create(requirement)
        assert e.value.property == prop, (requirement, e.value.message)
    with pytest.raises(InvalidInput) as e:
        create({"kind": "all", "children": [leaf(w.sql)]}, trusted_issuers=["nowhere"])
    assert e.value.property == "trusted_issuers[0]"
    with pytest.raises(InvalidInput):
        create({"kind": "all", "children": [leaf(w.sql)]}, revocation_policy="ignore")

    made = create(
        {"kind": "all", "children": [leaf(w.sql), leaf(foreign)]}, trusted_issuers=["partner"]
    )
    assert [t["id"] for t in made.trusted_issuers] == [partner.org_id]
    assert {c.org_name for c in made.constituents} == {"Org academy", "Org partner"}
    with pytest.raises(Conflict):
        create({"kind": "all", "children": [leaf(w.sql)]})  # one pathway per achievement
    # a cycle: the certificate requires "Capstone", whose pathway requires the certificate
    capstone = achievement(platform, w.org, "Capstone")
    pathways.create_pathway(
        platform,
        w.org.actor,
        org_id=w.org.org_id,
        achievement_id=capstone,
        requirement={"kind": "all", "children": [leaf(w.certificate)]},
    )
    with pytest.raises(InvalidInput) as e:
        pathways.update_pathway(
            platform,
            w.org.actor,
            org_id=w.org.org_id,
            pathway_id=made.id,
            requirement={"kind": "all", "children": [leaf(capstone)]},
        )
    assert "cycle" in e.value.message

    # the partner's credential counts toward the academy's pathway
    pathways.publish_pathway(platform, w.org.actor, org_id=w.org.org_id, pathway_id=made.id)
    ada = learner(platform)
    w.issue(platform, w.sql, ada)
    credentials.issue_credential(
        platform,
        partner.actor,
        org_id=partner.org_id,
        achievement_id=foreign,
        recipient=email(platform, ada),
        notify=False,
    )
    w.events.deliver()
    (award,) = awards(platform)
    assert award.pathway_id == made.id


def test_access(platform: Platform, world: World, seed_org: Seed) -> None:
    w = world
    pathway_id = analyst_pathway(platform, w)
    other = seed_org(slug="other")
    viewer = seed_org(role="viewer")
    ada, bob = learner(platform), learner(platform)
    w.issue(platform, w.sql, ada)
    with pytest.raises(NotFound):
        pathways.get_pathway(platform, other.actor, org_id=w.org.org_id, pathway_id=pathway_id)
    with pytest.raises(NotFound):
        pathways.get_pathway(platform, other.actor, org_id=other.org_id, pathway_id=pathway_id)
    with pytest.raises(PermissionDenied):
        pathways.create_pathway(
            platform,
            Actor(kind="user", id=viewer.user_id, user_id=viewer.user_id),
            org_id=viewer.org_id,
            achievement_id=w.sql,
            requirement={"kind": "all", "children": [leaf(w.python)]},
        )
    assert ada.user_id is not None
    assert bob.user_id is not None
    seen = pathways.progress(
        platform, w.org.actor, org_id=w.org.org_id, pathway_id=pathway_id, user_id=ada.user_id
    )
    assert seen.leaves_done == 1
    with pytest.raises(NotFound):  # not one of the academy's learners
        pathways.progress(
            platform, w.org.actor, org_id=w.org.org_id, pathway_id=pathway_id, user_id=bob.user_id
        )
    with pytest.raises(PermissionDenied):
        pathways.my_progress(platform, w.org.actor.__class__.system(), pathway_id=pathway_id)
    # a draft pathway is invisible to learners
    draft = pathways.create_pathway(
        platform,
        w.org.actor,
        org_id=w.org.org_id,
        achievement_id=w.stats,
        requirement={"kind": "all", "children": [leaf(w.viz)]},
    )
    with pytest.raises(NotFound):
        pathways.my_progress(platform, ada, pathway_id=draft.id)
