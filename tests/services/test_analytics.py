"""Issuer analytics on SQLite and PostgreSQL: every series from the rows that record it, the
verification counter, the achievement filter, top skills, tenancy and formula-safe CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from services_support import MovableClock, SeededOrg
from sharing_support import issue, new_learner, put_in_wallet, seed_achievement

from merito.domain.verification import VerificationReport
from merito.errors import InvalidInput, NotFound, PermissionDenied
from merito.services import analytics, credentials, sharing
from merito.services.platform import Platform
from merito.storage.tables import MembershipRow
from merito.storage.tables_issuance import CredentialClaimRow
from merito.storage.tables_skills import SkillRow

Seed = Callable[..., SeededOrg]
DAY1 = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)


def _report(credential_id: str) -> VerificationReport:
    return VerificationReport(checks=(), credential={"id": credential_id})


def _on(series: analytics.Activity, metric: str, day: date) -> int:
    return series.series[metric][series.period.days.index(day)]


def test_every_series_counts_on_its_utc_day_and_filters_by_achievement(
    platform: Platform, clock: MovableClock, seed_org: Seed
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id, name="SQL")
    other = seed_achievement(platform, org.org_id, name="Python")
    clock.instant = DAY1  # 23:30 UTC on the 10th
    first = issue(platform, org, achievement_id=sql)
    clock.advance(hours=1)  # 00:30 on the 11th
    second = issue(platform, org, achievement_id=sql, recipient="bob@example.org")
    third = issue(platform, org, achievement_id=other, recipient="eve@example.org")
    learner = new_learner(platform)
    item = put_in_wallet(platform, learner, first)  # claimed on the 11th
    with platform.transaction() as session:  # a claim link redeemed on the 11th, then again
        session.add(
            CredentialClaimRow(
                id="c" * 36,
                org_id=org.org_id,
                credential_row_id=first.id,
                token_hash="0" * 64,
                claimed_at=clock.now(),
            )
        )
    clock.advance(days=1)  # the 12th
    sharing.create_share_link(platform, learner, target="item", item_id=item)
    analytics.record_share(platform, first.credential_id)  # e.g. a PDF certificate
    for _ in range(3):
        analytics.record_verification(platform, _report(first.credential_id))
    analytics.record_verification(platform, _report(third.credential_id))
    analytics.record_verification(platform, _report("https://elsewhere.example/credentials/x"))
    analytics.record_verification(platform, _report(platform.url("/credentials/" + "f" * 36)))
    credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=second.id, reason="issued in error"
    )
    span = analytics.period(clock.now(), start="2026-01-10", end="2026-01-12")
    everything = analytics.activity(platform, org.actor, org.org_id, span=span)
    assert everything.series == {
        "issued": (1, 2, 0),
        "claimed": (0, 1, 0),
        "shared": (0, 0, 2),
        "verified": (0, 0, 4),
        "revoked": (0, 0, 1),
    }
    assert everything.totals["verified"] == 4
    only_python = analytics.activity(
        platform, org.actor, org.org_id, span=span, achievement_id=other
    )
    assert only_python.totals == {
        "issued": 1,
        "claimed": 0,
        "shared": 0,
        "verified": 1,
        "revoked": 0,
    }
    # counting is additive across flushes (the UPSERT adds to the day's row)
    analytics.record_verification(platform, _report(first.credential_id))
    assert analytics.flush(platform) == 1
    again = analytics.activity(platform, org.actor, org.org_id, span=span, achievement_id=sql)
    assert _on(again, "verified", date(2026, 1, 12)) == 4
    assert again.to_dict()["days"][1] == {
        "date": "2026-01-11",
        "issued": 1,
        "claimed": 1,
        "shared": 0,
        "verified": 0,
        "revoked": 0,
    }


def test_top_skills_weigh_alignments_by_credentials_and_prefer_taxonomy_labels(
    platform: Platform, clock: MovableClock, seed_org: Seed
) -> None:
    org = seed_org()
    sql = seed_achievement(platform, org.org_id, name="SQL")
    for n in range(3):
        issue(platform, org, achievement_id=sql, recipient=f"l{n}@example.org")
    with platform.transaction() as session:
        session.add(
            SkillRow(
                id="s" * 36,
                uri="http://data.europa.eu/esco/skill/sql",
                preferred_label="SQL (structured query language)",
            )
        )
    span = analytics.period(clock.now(), days=7)
    skills = analytics.top_skills(platform, org.actor, org.org_id, span=span)
    assert [(s.label, s.credentials, s.in_taxonomy) for s in skills] == [
        ("Data modelling", 3, False),  # a tie: by label
        ("SQL (structured query language)", 3, True),
    ]
    assert analytics.top_skills(platform, org.actor, org.org_id, span=span, limit=1)[0].uri == (
        "https://academy.example.org/skills/dm-1"
    )
    board = analytics.dashboard(platform, org.actor, org.org_id, span=span)
    assert [a.name for a in board.achievements] == ["SQL"]
    assert board.activity.totals["issued"] == 3


def test_another_tenant_sees_nothing_and_a_viewer_is_refused(
    platform: Platform, clock: MovableClock, seed_org: Seed
) -> None:
    org, stranger = seed_org(), seed_org()
    span = analytics.period(clock.now(), days=30)
    with pytest.raises(NotFound):
        analytics.activity(platform, stranger.actor, org.org_id, span=span)
    other_achievement = seed_achievement(platform, stranger.org_id)
    with pytest.raises(NotFound, match="achievement"):
        analytics.activity(
            platform, org.actor, org.org_id, span=span, achievement_id=other_achievement
        )
    with platform.transaction() as session:
        session.add(MembershipRow(org_id=org.org_id, user_id=stranger.user_id, role="viewer"))
    with pytest.raises(PermissionDenied, match="analytics:read"):
        analytics.dashboard(platform, stranger.actor, org.org_id, span=span)


def test_period_ranges_and_refusals() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert analytics.period(now, days="7") == analytics.Period(date(2026, 2, 23), date(2026, 3, 1))
    assert len(analytics.period(now).days) == 30
    assert analytics.period(now, start="2026-02-27").days[-1] == date(2026, 3, 1)
    for kwargs, prop in [
        ({"days": "8"}, "range"),
        ({"days": "week"}, "range"),
        ({"start": "2026-02-30"}, "start"),
        ({"end": "2026-02-01"}, "start"),
        ({"start": "2026-03-01", "end": "2026-03-02"}, "end"),
        ({"start": "2026-02-02", "end": "2026-02-01"}, "start"),
        ({"start": "2020-01-01"}, "start"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            analytics.period(now, **kwargs)
        assert caught.value.property == prop, kwargs


def test_csv_is_rfc4180_with_iso_dates_and_no_formula_cells() -> None:
    span = analytics.Period(date(2026, 1, 1), date(2026, 1, 2))
    result = analytics.Activity(
        org_id="o",
        period=span,
        achievement_id=None,
        series=dict.fromkeys(analytics.METRICS, (1, 2)),
    )
    text = analytics.activity_csv(result)
    assert text.startswith(
        "date,issued,claimed,shared,verified,revoked\r\n2026-01-01,1,1,1,1,1\r\n"
    )
    skills = [
        analytics.SkillCount(
            uri="urn:x", label='=HYPERLINK("evil")', credentials=2, in_taxonomy=False
        ),
        analytics.SkillCount(uri="urn:y", label="-1+1", credentials=1, in_taxonomy=True),
    ]
    rows = list(csv.reader(io.StringIO(analytics.skills_csv(skills))))
    assert rows == [
        ["skill_uri", "label", "credentials"],
        ["urn:x", '\'=HYPERLINK("evil")', "2"],
        ["urn:y", "'-1+1", "1"],
    ]


def test_a_failed_flush_keeps_its_counts_and_verification_never_raises(
    platform: Platform, clock: MovableClock, seed_org: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = seed_org()
    record = issue(platform, org)
    analytics.record_verification(platform, VerificationReport(checks=(), credential=None))
    analytics.record_verification(platform, _report(record.credential_id))

    def broken(session: object, counts: object) -> None:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(analytics, "_write", broken)
    assert analytics.flush(platform) == 0
    monkeypatch.undo()
    assert analytics.flush(platform) == 1
    span = analytics.period(clock.now(), days=7)
    assert analytics.activity(platform, org.actor, org.org_id, span=span).totals["verified"] == 1
