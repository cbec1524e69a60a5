"""Workforce end to end through the real services, on SQLite and PostgreSQL.

An employer invites employees (email through the outbox, accept link), they choose what to
share, the inventory counts only consented credentials that verify now, withdrawing consent or
leaving takes effect on the next read, small groups are suppressed (with complements against
differencing), team gaps get a least-cost learning path, demand counts open roles, and
sponsored vouchers complete when the achievement is earned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import select
from test_hiring import (
    ESCO,
    LABELS,
    PY,
    SQL,
    VIS,
    achievement,
    email,
    issue,
    learner,
    seed_taxonomy,
)

from merito.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from merito.services import credentials, events, hiring, workforce
from merito.services.platform import Actor, Platform
from merito.storage.tables import AuditLogRow, OutboxRow
from merito.storage.tables_hiring import HiringRoleRow

Seed = Callable[..., SeededOrg]
K = 3  # a small k keeps the worlds small; the default (5) is checked on its own


@pytest.fixture
def kplatform(platform: Platform) -> Platform:
    return Platform(
        sessions=platform.sessions,
        keystore=platform.keystore,
        clock=platform.clock,
        mailer=platform.mailer,
        base_url=platform.base_url,
        status_list_size=platform.status_list_size,
        extras={"workforce_min_group_size": K},
    )


def _token(p: Platform, address: str) -> str:
    with p.reading() as session:
        payloads = session.scalars(
            select(OutboxRow.payload).where(OutboxRow.topic == "email.workforce_invitation")
        ).all()
    links = [m["text"] for m in payloads if m["to"] == address]
    assert links, f"no invitation email to {address}"
    found = re.search(r"/workforce/invitations/(\S+)", links[-1])
    assert found
    return found.group(1)


def _hire(p: Platform, org: SeededOrg, person: Actor, *, team: str, role: str | None) -> str:
    address = email(p, person)
    workforce.invite_employee(
        p, org.actor, org_id=org.org_id, email=address, team=team, job_role_id=role
    )
    return workforce.accept_invitation(p, person, token=_token(p, address)).id


def test_invite_accept_consent_inventory_withdraw_and_leave(
    kplatform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    p = kplatform
    seed_taxonomy(p)
    employer = seed_org()
    analyst = hiring.create_role(
        p,
        employer.actor,
        org_id=employer.org_id,
        fields={"title": "Analyst", "status": "closed", "requirements": [{"skill": PY}]},
    )
    # the employer's academy issues internal credentials: they count like any other
    academy_py = achievement(p, employer, "Academy Python", [PY], hours=4)
    teams = ["data"] * 3 + ["ops"] + ["sales"] * 2
    people = [learner(p) for _ in teams]
    jobs = []
    for team, person in zip(teams, people, strict=True):
        jobs.append(_hire(p, employer, person, team=team, role=analyst.id))
        issue(p, employer, academy_py, person)

    # nobody shares anything yet: the inventory is empty
    empty = workforce.inventory(p, employer.actor, org_id=employer.org_id)
    assert empty.skills == ()
    assert empty.groups == ()
    listed = workforce.list_employees(p, employer.actor, org_id=employer.org_id)
    assert [e.share_all for e in listed] == [False] * 6

    for person, job in zip(people, jobs, strict=True):
        workforce.set_consent(p, person, employment_id=job, share_all=True)
    table = workforce.inventory(p, employer.actor, org_id=employer.org_id)
    # ops (1) and sales (2) are below k; hidden together they hold 3 people, so data shows
    assert [(g.key, g.size) for g in table.groups] == [("data", 3), ("ops", None), ("sales", None)]
    assert table.total == 6
    (python,) = table.skills
    assert (python.skill, python.total, python.counts) == (PY, 6, (3, None, None))

    # one in data withdraws consent: at once, data is 2 and the hidden remainder would be 1
    # person if data showed: every team is hidden, the total still shows
    workforce.set_consent(p, people[0], employment_id=jobs[0], share_all=False)
    after = workforce.inventory(p, employer.actor, org_id=employer.org_id)
    assert after.total == 5
    assert [g.size for g in after.groups] == [None, None, None]
    assert after.skills[0].counts == (None, None, None)

    # three more leave: 2 people share, fewer than k, so nothing is published
    for person, job in zip(people[1:4], jobs[1:4], strict=True):
        workforce.leave(p, person, employment_id=job)
    gone = workforce.inventory(p, employer.actor, org_id=employer.org_id)
    assert gone.total is None
    assert gone.skills == ()
    assert gone.hidden_skills == 1
    assert len(workforce.list_employees(p, employer.actor, org_id=employer.org_id)) == 3
    with pytest.raises(NotFound):
        workforce.get_employment(p, people[1], employment_id=jobs[1])
    csv_rows = workforce.inventory_csv(p, employer.actor, org_id=employer.org_id).splitlines()
    assert csv_rows[1].startswith(",consenting employees,<3")

    with p.reading() as session:
        actions = set(session.scalars(select(AuditLogRow.action)))
    assert {
        "workforce.employee_invited",
        "workforce.invitation_accepted",
        "workforce.consent_set",
        "workforce.employee_left",
    } <= actions


def test_per_credential_consent_and_revocation_count_only_what_verifies_now(
    kplatform: Platform, seed_org: Seed
) -> None:
    p = kplatform
    seed_taxonomy(p)
    issuer, employer = seed_org(), seed_org()
    py, sql = achievement(p, issuer, "Python", [PY]), achievement(p, issuer, "SQL", [SQL])
    person = learner(p)
    job = _hire(p, employer, person, team="t", role=None)
    issue(p, issuer, py, person)
    sql_row = issue(p, issuer, sql, person)
    mine = workforce.get_employment(p, person, employment_id=job)
    by_name = {c.name: c.credential_id for c in mine.credentials}
    assert set(by_name) == {"Python", "SQL"}
    assert not any(c.shared for c in mine.credentials)

    workforce.set_consent(
        p, person, employment_id=job, share_all=False, credential_ids=[by_name["SQL"]]
    )
    (view,) = workforce.list_employees(p, employer.actor, org_id=employer.org_id)
    assert view.shared_credentials == 1
    # aggregate-only consent: the employer cannot see the credential itself
    detail = workforce.get_employee(p, employer.actor, org_id=employer.org_id, employee_id=job)
    assert not detail.visible
    assert detail.credentials == ()
    assert detail.skills == ()

    workforce.set_consent(
        p,
        person,
        employment_id=job,
        share_all=False,
        credential_ids=[by_name["SQL"]],
        show_individual=True,
    )
    detail = workforce.get_employee(p, employer.actor, org_id=employer.org_id, employee_id=job)
    assert [c.name for c in detail.credentials] == ["SQL"]  # not the unshared Python one
    assert [s.skill for s in detail.skills] == [SQL]

    # the issuer revokes SQL: it no longer verifies, so it counts nowhere
    credentials.revoke(p, issuer.actor, org_id=issuer.org_id, credential_id=sql_row, reason="error")
    detail = workforce.get_employee(p, employer.actor, org_id=employer.org_id, employee_id=job)
    assert detail.credentials == ()
    assert detail.skills == ()

    with pytest.raises(InvalidInput, match="not one of your verified"):
        workforce.set_consent(
            p, person, employment_id=job, share_all=False, credential_ids=["urn:uuid:forged"]
        )
    stranger = learner(p)
    with pytest.raises(NotFound):
        workforce.set_consent(p, stranger, employment_id=job, share_all=True)
    with pytest.raises(NotFound):
        workforce.get_employee(p, issuer.actor, org_id=employer.org_id, employee_id=job)


def test_invitations_are_single_use_for_the_invited_address_and_expire(
    kplatform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    p = kplatform
    employer = seed_org()
    person, other = learner(p), learner(p)
    address = email(p, person)
    invited = workforce.invite_employee(
        p, employer.actor, org_id=employer.org_id, email=address.upper(), team="x"
    )
    assert invited.email == address
    assert invited.status == "pending"
    with pytest.raises(Conflict, match="pending"):
        workforce.invite_employee(p, employer.actor, org_id=employer.org_id, email=address)
    token = _token(p, address)
    preview = workforce.preview_invitation(p, token)
    assert preview.team == "x"
    assert preview.org_name.startswith("Org ")
    with pytest.raises(PermissionDenied, match="another email"):
        workforce.accept_invitation(p, other, token=token)
    workforce.accept_invitation(p, person, token=token)
    with pytest.raises(Conflict):
        workforce.accept_invitation(p, person, token=token)
    with pytest.raises(Conflict, match="already an employee"):
        workforce.invite_employee(p, employer.actor, org_id=employer.org_id, email=address)
    with pytest.raises(NotFound):
        workforce.preview_invitation(p, "not-a-token")
    with pytest.raises(InvalidInput):
        workforce.invite_employee(p, employer.actor, org_id=employer.org_id, email="nope")

    late = workforce.invite_employee(
        p, employer.actor, org_id=employer.org_id, email=email(p, other)
    )
    clock.advance(days=workforce.INVITATION_DAYS + 1)
    assert workforce.preview_invitation(p, _token(p, email(p, other))).status == "expired"
    with pytest.raises(Conflict, match="expired"):
        workforce.accept_invitation(p, other, token=_token(p, email(p, other)))
    with pytest.raises(Conflict):
        workforce.revoke_invitation(
            p, employer.actor, org_id=employer.org_id, invitation_id=invited.id
        )
    assert (
        workforce.revoke_invitation(
            p, employer.actor, org_id=employer.org_id, invitation_id=late.id
        ).status
        == "revoked"
    )

    viewer = seed_org(role="viewer")
    with pytest.raises(NotFound):  # another organisation's member
        workforce.list_invitations(p, viewer.actor, org_id=employer.org_id)


def test_coverage_gaps_and_the_least_cost_team_path(kplatform: Platform, seed_org: Seed) -> None:
    p = kplatform
    seed_taxonomy(p)
    issuer, employer = seed_org(), seed_org()
    py = achievement(p, issuer, "Python", [PY], hours=10)
    achievement(p, issuer, "SQL masterclass", [SQL], hours=40)
    achievement(p, issuer, "SQL and charts", [SQL, VIS], hours=6)
    role = hiring.create_role(
        p,
        employer.actor,
        org_id=employer.org_id,
        fields={"title": "Analyst", "requirements": [{"skill": PY}, {"skill": SQL}]},
    )
    team = [learner(p) for _ in range(3)]
    for person in team:
        job = _hire(p, employer, person, team="data", role=role.id)
        issue(p, issuer, py, person)
        workforce.set_consent(p, person, employment_id=job, share_all=True)

    (cov,) = workforce.coverage(p, employer.actor, org_id=employer.org_id)
    assert cov.assigned == 3
    assert cov.population == 3
    assert [(r.skill, r.in_role, r.total) for r in cov.requirements] == [(PY, 3, 3), (SQL, 0, 0)]
    assert cov.ready_in_role == 0

    (gap,) = workforce.gaps(p, employer.actor, org_id=employer.org_id)
    assert gap.team == "data"
    assert gap.size == 3
    assert not gap.suppressed
    assert [(g.skill, g.needed, g.met) for g in gap.gaps] == [(SQL, 3, 0)]
    assert [s.name for s in gap.steps] == ["SQL and charts"]
    assert gap.total_cost == 6
    assert gap.coverage == 1.0
    assert gap.optimal

    with pytest.raises(InvalidInput):
        workforce.gaps(p, employer.actor, org_id=employer.org_id, cost="beer")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        workforce.inventory(p, employer.actor, org_id=employer.org_id, by="age")  # type: ignore[arg-type]


def test_demand_counts_open_roles_by_month_against_suppressed_supply(
    kplatform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    p = kplatform
    seed_taxonomy(p)
    issuer, a, b = seed_org(), seed_org(), seed_org()
    py = achievement(p, issuer, "Python", [PY])
    achievement(p, issuer, "Cooking", [ESCO + "cook"])
    for org, skills in ((a, [PY, SQL]), (b, [PY])):
        hiring.create_role(
            p,
            org.actor,
            org_id=org.org_id,
            fields={"title": "Dev", "requirements": [{"skill": s} for s in skills]},
        )
    hiring.create_role(  # a closed role is not demand
        p,
        b.actor,
        org_id=b.org_id,
        fields={"title": "Old", "status": "closed", "requirements": [{"skill": VIS}]},
    )
    later = hiring.create_role(
        p, a.actor, org_id=a.org_id, fields={"title": "Later", "requirements": [{"skill": PY}]}
    )
    # roles are stamped with the wall clock: post them on the test clock's months instead
    with p.transaction() as session:
        for role in session.scalars(select(HiringRoleRow)):
            role.created_at = clock.now() - timedelta(days=0 if role.id == later.id else 40)
    pool = [learner(p) for _ in range(K)]
    for person in pool:
        issue(p, issuer, py, person)
        hiring.set_discoverability(p, person, public=True)

    table = workforce.demand(p, a.actor, org_id=a.org_id, months=3)
    assert table.open_roles == 3
    assert table.pool == K
    by_skill = {s.skill: s for s in table.skills}
    assert set(by_skill) == {PY, SQL}
    assert (by_skill[PY].roles, by_skill[PY].orgs, by_skill[PY].supply) == (3, 2, K)
    assert by_skill[SQL].supply == 0
    assert by_skill[PY].by_month[-2:] == (2, 1)
    assert sum(table.totals_by_month) == 4
    rows = workforce.demand_csv(p, a.actor, org_id=a.org_id, months=3).splitlines()
    assert rows[0].startswith("skill,label,open_roles,organisations,supply,")
    assert rows[1].startswith(f"{PY},{LABELS[PY]},3,2,{K},")

    # the issuer sees which of its achievements cover skills in demand
    mine = workforce.achievements_in_demand(p, issuer.actor, org_id=issuer.org_id)
    assert [(x.name, x.demand) for x in mine] == [("Python", 3), ("Cooking", 0)]

    # one fewer discoverable learner than k: supply is suppressed
    hiring.set_discoverability(p, pool[0], public=False)
    table = workforce.demand(p, a.actor, org_id=a.org_id, months=3)
    assert table.pool is None
    assert {s.skill: s.supply for s in table.skills}[PY] is None
    assert "<3" in workforce.demand_csv(p, a.actor, org_id=a.org_id)


def test_sponsorship_vouchers_redeem_once_and_complete_when_earned(
    kplatform: Platform, seed_org: Seed, clock: MovableClock
) -> None:
    p = kplatform
    seed_taxonomy(p)
    issuer, employer = seed_org(), seed_org()
    py = achievement(p, issuer, "Python", [PY], hours=10)
    made = workforce.create_sponsorship(
        p,
        employer.actor,
        org_id=employer.org_id,
        achievement_id=py,
        vouchers=4,
        expires_at=clock.now() + timedelta(days=30),
        note="Q3 upskilling",
    )
    codes = [v.code for v in made.codes]
    assert len(set(codes)) == 4
    assert all(re.fullmatch(r"MRT-\w{4}-\w{4}-\w{4}", c) for c in codes)
    staff = [learner(p) for _ in range(3)]
    for person in staff:
        _hire(p, employer, person, team="t", role=None)
    outsider = learner(p)
    with pytest.raises(NotFound):  # not an employee of the sponsor
        workforce.redeem_voucher(p, outsider, code=codes[0])
    first = workforce.redeem_voucher(p, staff[0], code=codes[0].lower().replace("-", " "))
    assert first.achievement_name == "Python"
    assert first.completed_at is None
    with pytest.raises(Conflict, match="already used"):
        workforce.redeem_voucher(p, staff[1], code=codes[0])
    with pytest.raises(Conflict, match="already redeemed"):
        workforce.redeem_voucher(p, staff[0], code=codes[1])
    for person, code in zip(staff[1:], codes[1:], strict=False):
        workforce.redeem_voucher(p, person, code=code)

    # earning the credential completes the voucher: the credential.issued event's listener
    assert workforce.on_event in events.listeners()
    for person in staff:
        issue(p, issuer, py, person)
    with p.reading() as session:
        payloads = session.scalars(
            select(OutboxRow.payload).where(OutboxRow.topic == "webhook.credential.issued")
        ).all()
    for payload in [*payloads, *payloads]:  # a redelivered event changes nothing
        events.dispatch(p, payload)
    with p.reading() as session:
        done = session.scalars(
            select(AuditLogRow.target).where(AuditLogRow.action == "workforce.voucher_completed")
        ).all()
    assert len(done) == 3
    (listed,) = workforce.list_sponsorships(p, employer.actor, org_id=employer.org_id)
    assert (listed.vouchers, listed.redeemed, listed.completed) == (4, 3, 3)
    assert listed.completion_rate == 1.0
    assert listed.codes == ()
    assert [v.completed_at is not None for v in workforce.my_vouchers(p, staff[0])] == [True]

    clock.advance(days=31)
    extra = learner(p)
    _hire(p, employer, extra, team="t", role=None)
    with pytest.raises(Conflict, match="expired"):
        workforce.redeem_voucher(p, extra, code=codes[3])
    with pytest.raises(InvalidInput):
        workforce.create_sponsorship(
            p, employer.actor, org_id=employer.org_id, achievement_id=py, vouchers=0
        )
    with pytest.raises(NotFound):
        workforce.create_sponsorship(
            p, employer.actor, org_id=employer.org_id, achievement_id="nope", vouchers=1
        )
    viewer = seed_org(role="viewer")
    with pytest.raises(NotFound):
        workforce.get_sponsorship(p, viewer.actor, org_id=employer.org_id, sponsorship_id=made.id)
