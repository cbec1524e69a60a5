"""The in-memory candidate index: rankings are identical with and without it, whatever changed
and whoever changed it (a revocation written by another process is seen at once); events and
consent changes drop the learners they concern. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from services_support import MovableClock
from sqlalchemy import update
from test_hiring import (  # the hiring world: an issuer, an employer, four learners, a role
    World,
    email,
    issue,
    learner,
    world,  # noqa: F401  (the fixture)
)

from merito.services import candidate_index, credentials, events, hiring
from merito.services.platform import Platform
from merito.storage.tables import CredentialRow


@pytest.fixture
def hired(world: World) -> World:  # noqa: F811  (the imported fixture)
    return world


def _plain(platform: Platform) -> Platform:
    return dataclasses.replace(platform, extras={**platform.extras, "candidate_index": False})


def _ranking(platform: Platform, hired: World, **filters: Any) -> list[Any]:
    ranking = hiring.rank_candidates(
        platform,
        hired.employer.actor,
        org_id=hired.employer.org_id,
        role_id=hired.role_id,
        **filters,
    )
    return [(r.user_id, r.rank, r.score, r.explanation) for r in ranking.results]


def _both(platform: Platform, hired: World, **filters: Any) -> list[Any]:
    indexed = _ranking(platform, hired, **filters)
    assert indexed == _ranking(_plain(platform), hired, **filters)
    return indexed


def _cache(platform: Platform) -> candidate_index.CandidateCache:
    return candidate_index.cache_for(str(platform.sessions.kw["bind"].url))


def test_results_are_identical_with_and_without_the_index(
    platform: Platform, hired: World, clock: MovableClock
) -> None:
    first = _both(platform, hired)
    assert [u for u, *_ in first] == [hired.full.user_id, hired.half.user_id, hired.broad.user_id]
    cache = _cache(platform)
    hits = cache.hits
    assert _both(platform, hired) == first  # unchanged: every learner reused
    assert cache.hits == hits + 3
    # a new credential, a revocation, a suspension, a consent change, an expiry
    issue(platform, hired.issuer, hired.sql, hired.half)
    after_issue = _both(platform, hired)
    assert after_issue[0][0] in (hired.full.user_id, hired.half.user_id)
    assert after_issue != first
    credentials.revoke(
        platform,
        hired.issuer.actor,
        org_id=hired.issuer.org_id,
        credential_id=hired.sql_credential,
        reason="issued in error",
    )
    assert next(u for u, *_ in _both(platform, hired)) == hired.half.user_id
    hiring.set_discoverability(platform, hired.hidden, public=True)
    assert hired.hidden.user_id in {u for u, *_ in _both(platform, hired)}
    expiring = learner(platform)
    credentials.issue_credential(
        platform,
        hired.issuer.actor,
        org_id=hired.issuer.org_id,
        achievement_id=hired.python,
        recipient=email(platform, expiring),
        notify=False,
        valid_until=clock.now().replace(year=clock.now().year + 1),
    )
    hiring.set_discoverability(platform, expiring, public=True)
    assert expiring.user_id in {u for u, *_ in _both(platform, hired)}
    clock.advance(days=400)  # expired, and the cached levels are older than MAX_AGE
    assert expiring.user_id not in {u for u, *_ in _both(platform, hired)}
    _both(platform, hired, require_all=True)
    _both(platform, hired, min_score=0.5, limit=1)


def test_a_change_made_by_another_process_is_seen_at_once(platform: Platform, hired: World) -> None:
    before = _ranking(platform, hired)
    assert before[0][0] == hired.full.user_id
    # another worker revokes, suspends: this process hears nothing (no event, no invalidation)
    with platform.transaction() as session:
        session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == hired.sql_credential)
            .values(suspended=True)
        )
    after = _ranking(platform, hired)
    assert after == _ranking(_plain(platform), hired)
    full = next(r for r in after if r[0] == hired.full.user_id)
    assert full[2] == pytest.approx(1 / 2.5)  # SQL no longer counts
    with platform.transaction() as session:
        session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == hired.sql_credential)
            .values(suspended=False)
        )
    assert _ranking(platform, hired) == before


def test_events_and_consent_changes_drop_the_learners_they_concern(
    platform: Platform, hired: World
) -> None:
    _ranking(platform, hired)
    cache = _cache(platform)
    keys = {hired.full.user_id, hired.half.user_id, hired.broad.user_id}
    assert keys <= set(cache._entries)
    assert hiring.on_event in events.listeners()
    revoked = {
        "event": "credential.revoked",
        "org_id": hired.issuer.org_id,
        "credential_row_id": hired.sql_credential,
    }
    hiring.on_event(platform, revoked)
    assert hired.full.user_id not in cache._entries
    assert hired.half.user_id in cache._entries
    hiring.on_event(platform, revoked)  # redelivered: nothing more happens
    hiring.on_event(platform, {"event": "pathway.completed", "org_id": hired.issuer.org_id})
    assert hired.half.user_id in cache._entries
    hiring.set_discoverability(platform, hired.half, public=True)
    assert hired.half.user_id not in cache._entries
