"""Ranking through the service: N discoverable learners' profiles read from the database.

Run: .venv/bin/python benchmarks/hiring_service.py [--learners N] [--database-url URL]
Seeds N learners (SQLite file by default), each holding 3 of 12 ESCO-aligned credentials
(copies of real signed ones), all publicly discoverable, then times
``hiring.rank_candidates`` for one role (profiles rebuilt from the rows on every call, as in
production) beside the floor of reading the pool's credential status rows in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))

from merito import bootstrap
from merito.config import Settings
from merito.services import catalog, credentials, hiring
from merito.services.platform import Actor
from merito.storage import create_engine_for, migrate
from merito.storage.tables import CredentialRow, MembershipRow, OrganisationRow, UserRow
from merito.storage.tables_hiring import DiscoverabilityRow

SKILLS = [f"http://data.europa.eu/esco/skill/bench-{i}" for i in range(12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="merito-hiring-bench-"))
    url = args.database_url or f"sqlite:///{data / 'bench.db'}"
    settings = Settings(data_dir=data, database_url=url, master_key="55" * 32)
    migrate(create_engine_for(url))
    platform = bootstrap.platform(settings)

    owner_id = str(uuid.uuid4())
    org_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            OrganisationRow(id=org_id, slug=f"bench-{org_id[:8]}", name="Bench", kind="issuer")
        )
        session.add(
            UserRow(id=owner_id, email=f"owner-{owner_id[:8]}@bench.example", password_hash="!")
        )
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=owner_id, role="owner"))
    owner = Actor(kind="user", id=owner_id, user_id=owner_id)
    templates = []
    for n, skill in enumerate(SKILLS):
        made = catalog.create_achievement(
            platform,
            owner,
            org_id=org_id,
            fields={
                "name": f"Course {n}",
                "description": "Bench.",
                "criteria": {"narrative": "Passed."},
                "alignment": [{"targetName": f"skill {n}", "targetUrl": skill}],
                "hours": 10,
            },
        )
        catalog.publish_achievement(platform, owner, org_id=org_id, achievement_id=made.id)
        templates.append(
            credentials.issue_credential(
                platform,
                owner,
                org_id=org_id,
                achievement_id=made.id,
                recipient=f"template-{n}@bench.example",
                notify=False,
            )
        )
    with platform.reading() as session:
        rows = {t.id: session.get(CredentialRow, t.id) for t in templates}
    started = time.perf_counter()
    with platform.transaction() as session:
        for i in range(args.learners):
            user_id = str(uuid.uuid4())
            email = f"learner-{i}@bench.example"
            session.add(UserRow(id=user_id, email=email, password_hash="!"))
            session.add(DiscoverabilityRow(id=str(uuid.uuid4()), user_id=user_id, scope="public"))
            for k in range(3):
                template = rows[templates[(i + 5 * k) % len(templates)].id]
                assert template is not None
                row_id = str(uuid.uuid4())
                session.add(
                    CredentialRow(
                        id=row_id,
                        org_id=org_id,
                        credential_id=f"https://merito.test/credentials/{row_id}",
                        achievement_version_id=template.achievement_version_id,
                        recipient=email,
                        document=template.document,
                        issued_at=template.issued_at,
                    )
                )
    seed_s = time.perf_counter() - started
    role = hiring.create_role(
        platform,
        owner,
        org_id=org_id,
        fields={"title": "Bench", "requirements": [{"skill": s} for s in SKILLS[:4]]},
    )

    def floor() -> None:
        # the rows a ranking must read at least: the pool's credentials' status columns
        with platform.reading() as session:
            emails = list(session.scalars(select(UserRow.email)))
            for i in range(0, len(emails), 500):
                session.execute(
                    select(
                        CredentialRow.id,
                        CredentialRow.recipient,
                        CredentialRow.revoked_at,
                        CredentialRow.achievement_version_id,
                    ).where(CredentialRow.recipient.in_(emails[i : i + 500]))
                ).all()

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)

    rank_ms = timed(
        lambda: hiring.rank_candidates(platform, owner, org_id=org_id, role_id=role.id, limit=20)
    )
    floor_ms = timed(floor)
    backend = url.split(":")[0]
    print(f"{args.learners:,} learners x 3 credentials ({backend}), seeded in {seed_s:.1f} s")
    print(
        f"rank_candidates (top 20, profiles rebuilt from the rows): median {rank_ms:.0f} ms; "
        f"floor: reading those credentials' status rows {floor_ms:.0f} ms "
        f"-> ratio {rank_ms / floor_ms:.2f}x"
    )


if __name__ == "__main__":
    main()
