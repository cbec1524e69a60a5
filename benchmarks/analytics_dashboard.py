"""The issuer dashboard over N credentials, and what counting a verification costs.

Run: .venv/bin/python benchmarks/analytics_dashboard.py [--credentials N] [--database-url URL]
Seeds one organisation (SQLite file by default) with N credentials of 3 skill-aligned
achievements issued over the last 365 days (rows copied from real issued ones, with a small
document: the dashboard never reads credential documents), a third of them claimed, 2 % revoked,
and a year of daily verification counters; then times

- ``analytics.activity`` (the five daily series) and ``analytics.dashboard`` (series, top skills,
  achievement list) over 365 days, beside a floor from the same run: ``SELECT COUNT(*)`` of the
  organisation's credentials (one index range scan of the rows the series group by day);
- ``analytics.record_verification`` per call (the hot path's added work), beside verifying one
  of the credentials (``verifying.verify_document``, what the request does anyway), and the
  flush of the counts it buffered.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from merito import bootstrap
from merito.config import Settings
from merito.domain.verification import VerificationReport
from merito.services import analytics, catalog, credentials, issuers, verifying
from merito.services.platform import Actor, Platform
from merito.storage import create_engine_for, migrate
from merito.storage.tables import CredentialRow, MembershipRow, OrganisationRow, UserRow
from merito.storage.tables_analytics import AnalyticsDailyCountRow
from merito.storage.tables_issuance import CredentialClaimRow

SKILLS = [f"http://data.europa.eu/esco/skill/analytics-bench-{i}" for i in range(6)]
BATCH = 5_000


def _timed(fn: Callable[[], object], times: int) -> float:
    measured = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        measured.append((time.perf_counter() - started) * 1000)
    return statistics.median(measured)


def _seed(platform: Platform, size: int) -> tuple[Actor, str, list[credentials.CredentialRecord]]:
    owner_id, org_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            OrganisationRow(id=org_id, slug=f"an-{org_id[:8]}", name="Bench", kind="issuer")
        )
        session.add(
            UserRow(id=owner_id, email=f"o-{owner_id[:8]}@bench.example", password_hash="!")
        )
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=owner_id, role="owner"))
    owner = Actor(kind="user", id=owner_id, user_id=owner_id)
    templates = []
    for n in range(3):
        made = catalog.create_achievement(
            platform,
            owner,
            org_id=org_id,
            fields={
                "name": f"Course {n}",
                "description": "Bench.",
                "criteria": {"narrative": "Passed."},
                "alignment": [
                    {"targetName": f"skill {k}", "targetUrl": SKILLS[k]} for k in (n, n + 3)
                ],
            },
        )
        catalog.publish_achievement(platform, owner, org_id=org_id, achievement_id=made.id)
        templates.append(
            credentials.issue_credential(
                platform,
                owner,
                org_id=org_id,
                achievement_id=made.id,
                recipient=f"t{n}@bench.example",
                notify=False,
            )
        )
    with platform.reading() as session:
        rows = [session.get(CredentialRow, t.id) for t in templates]
    now = platform.clock.now()
    for start in range(0, size, BATCH):
        batch, claims = [], []
        for i in range(start, min(size, start + BATCH)):
            template = rows[i % 3]
            assert template is not None
            row_id = str(uuid.uuid4())
            issued = now - timedelta(minutes=(i * 5_256) % (365 * 24 * 60))
            batch.append(
                {
                    "id": row_id,
                    "org_id": org_id,
                    "credential_id": platform.url(f"/credentials/{row_id}"),
                    "achievement_version_id": template.achievement_version_id,
                    "recipient": f"l{i}@bench.example",
                    "document": {"id": platform.url(f"/credentials/{row_id}")},
                    "issued_at": issued,
                    "revoked_at": issued + timedelta(days=1) if i % 50 == 0 else None,
                }
            )
            if i % 3 == 0:
                claims.append(
                    {
                        "id": str(uuid.uuid4()),
                        "org_id": org_id,
                        "credential_row_id": row_id,
                        "token_hash": uuid.uuid4().hex * 2,
                        "created_at": issued,
                        "claimed_at": issued + timedelta(hours=6),
                    }
                )
        with platform.transaction() as session:
            session.execute(insert(CredentialRow), batch)
            session.execute(insert(CredentialClaimRow), claims)
    with platform.transaction() as session:
        today = now.date()
        session.execute(
            insert(AnalyticsDailyCountRow),
            [
                {
                    "org_id": org_id,
                    "metric": "verified",
                    "day": today - timedelta(days=d),
                    "achievement_id": t.achievement_id,
                    "count": 1 + d % 7,
                }
                for d in range(365)
                for t in templates
            ],
        )
    return owner, org_id, templates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credentials", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--verifications", type=int, default=20_000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="merito-analytics-bench-"))
    url = args.database_url or f"sqlite:///{data / 'bench.db'}"
    settings = Settings(data_dir=data, database_url=url, master_key="55" * 32)
    migrate(create_engine_for(url))
    platform = bootstrap.platform(settings)
    started = time.perf_counter()
    owner, org_id, templates = _seed(platform, args.credentials)
    seed_s = time.perf_counter() - started
    span = analytics.period(datetime.now(UTC), days=365)

    def floor() -> None:
        with platform.reading() as session:
            session.scalar(select(func.count()).where(CredentialRow.org_id == org_id))

    series = analytics.activity(platform, owner, org_id, span=span)
    activity_ms = _timed(
        lambda: analytics.activity(platform, owner, org_id, span=span), args.repeat
    )
    dashboard_ms = _timed(
        lambda: analytics.dashboard(platform, owner, org_id, span=span), args.repeat
    )
    floor_ms = _timed(floor, args.repeat)
    backend = url.split(":")[0]
    print(
        f"{args.credentials:,} credentials over 365 days ({backend}), seeded in {seed_s:.1f} s; "
        f"totals {series.totals}"
    )
    print(
        f"  activity (5 daily series, 365 days): median {activity_ms:.0f} ms; "
        f"whole dashboard (+ top skills, achievements): {dashboard_ms:.0f} ms"
    )
    print(
        f"  floor: SELECT COUNT(*) of the organisation's credentials {floor_ms:.1f} ms "
        f"(activity {activity_ms / floor_ms:.1f}x it, dashboard {dashboard_ms / floor_ms:.1f}x)"
    )

    record = templates[0]
    report = VerificationReport(checks=(), credential={"id": record.credential_id})
    count = args.verifications
    analytics.flush(platform)
    started = time.perf_counter()
    for _ in range(count):
        analytics.record_verification(platform, report)
    record_us = (time.perf_counter() - started) / count * 1e6
    started = time.perf_counter()
    written = analytics.flush(platform)
    flush_ms = (time.perf_counter() - started) * 1000
    options = bootstrap.verify_options(
        settings, documents=issuers.did_documents(platform), clock=platform.clock
    )
    document = json.dumps(record.document)
    verifying.verify_document(document, options)
    verify_us = _timed(lambda: verifying.verify_document(document, options), 20) * 1000
    print(
        f"  counting a verification: {record_us:.2f} µs per call, beside verifying the "
        f"credential {verify_us:,.0f} µs ({record_us / verify_us:.2%} of it); "
        f"flushing {written:,} buffered counts: {flush_ms:.1f} ms"
    )


if __name__ == "__main__":
    main()
