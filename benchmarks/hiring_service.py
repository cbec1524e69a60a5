"""Ranking through the service: N discoverable learners' profiles read from the database.

Run: .venv/bin/python benchmarks/hiring_service.py [--learners N [N ...]] [--database-url URL]
Seeds N learners (SQLite file by default; each size adds learners to the last), each holding
3 of 12 ESCO-aligned credentials (copies of real signed ones), all publicly discoverable, then
times ``hiring.rank_candidates`` for one role, per size:

- with the in-memory candidate index (``services.candidate_index``), warm: each learner's
  state key read and compared, levels reused;
- without it (``extras={"candidate_index": False}``): every profile rebuilt from the rows;

beside two floors measured in the same run: reading the pool's credential status rows (what
any correct ranking must read) and the pure sparse product (``skills.ranking.rank`` over a
prepared index of the same pool).
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

import dataclasses

from _common import skills_issuer
from merito import bootstrap
from merito.config import Settings
from merito.services import hiring
from merito.skills.ranking import CandidateIndex, Requirement, SkillSpace, rank
from merito.storage import create_engine_for, migrate
from merito.storage.tables import CredentialRow, UserRow
from merito.storage.tables_hiring import DiscoverabilityRow

SKILLS = [f"http://data.europa.eu/esco/skill/bench-{i}" for i in range(12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="merito-hiring-bench-"))
    url = args.database_url or f"sqlite:///{data / 'bench.db'}"
    settings = Settings(data_dir=data, database_url=url, master_key="55" * 32)
    migrate(create_engine_for(url))
    platform = bootstrap.platform(settings)

    owner, org_id, templates = skills_issuer(platform, SKILLS, slug="bench")
    with platform.reading() as session:
        rows = {t.id: session.get(CredentialRow, t.id) for t in templates}
    role = hiring.create_role(
        platform,
        owner,
        org_id=org_id,
        fields={"title": "Bench", "requirements": [{"skill": s} for s in SKILLS[:4]]},
    )
    unindexed = dataclasses.replace(platform, extras={**platform.extras, "candidate_index": False})
    seeded = 0
    backend = url.split(":")[0]
    for size in sorted(args.learners):
        started = time.perf_counter()
        with platform.transaction() as session:
            for i in range(seeded, size):
                user_id = str(uuid.uuid4())
                email = f"learner-{i}@bench.example"
                session.add(UserRow(id=user_id, email=email, password_hash="!"))
                session.add(
                    DiscoverabilityRow(id=str(uuid.uuid4()), user_id=user_id, scope="public")
                )
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
        seeded = size
        seed_s = time.perf_counter() - started
        report(platform, unindexed, owner, org_id, role.id, args.repeat, size, seed_s, backend)


def report(  # type: ignore[no-untyped-def]
    platform, unindexed, owner, org_id, role_id, repeat, size, seed_s, backend
) -> None:
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

    def timed(fn, times=repeat) -> float:  # type: ignore[no-untyped-def]
        measured = []
        for _ in range(times):
            t = time.perf_counter()
            fn()
            measured.append((time.perf_counter() - t) * 1000)
        return statistics.median(measured)

    def ranked(on):  # type: ignore[no-untyped-def]
        return hiring.rank_candidates(on, owner, org_id=org_id, role_id=role_id, limit=20)

    cold_ms = timed(lambda: ranked(platform), times=1)  # builds the new learners' entries
    indexed_ms = timed(lambda: ranked(platform))
    plain_ms = timed(lambda: ranked(unindexed), times=max(1, min(repeat, 3)))
    # the clock moves between two calls (recency): same candidates, scores within 1e-6
    # (tests/services/test_candidate_index.py checks exact equality on a frozen clock)
    with_index, without = ranked(platform).results, ranked(unindexed).results
    same = [r.user_id for r in with_index] == [r.user_id for r in without] and all(
        abs(a.score - b.score) < 1e-6 for a, b in zip(with_index, without, strict=True)
    )
    floor_ms = timed(floor)
    # the pure sparse product over the same pool (levels as the profiles make them)
    ids = [f"c{i}" for i in range(size)]
    levels = [{SKILLS[(i + 5 * k) % len(SKILLS)]: 1.0 for k in range(3)} for i in range(size)]
    index = CandidateIndex.from_levels(SkillSpace(SKILLS), levels, ids)
    requirements = [Requirement(skill=s) for s in SKILLS[:4]]
    product_ms = timed(lambda: rank(index, requirements, k=20), times=max(repeat, 20))
    print(f"{size:,} learners x 3 credentials ({backend}), seeded in {seed_s:.1f} s")
    print(
        f"  rank_candidates (top 20), candidate index warm: median {indexed_ms:.0f} ms "
        f"(first call, building the new entries: {cold_ms:.0f} ms); without the index "
        f"(profiles rebuilt from the rows): {plain_ms:.0f} ms -> {plain_ms / indexed_ms:.1f}x "
        f"faster; same results: {same}"
    )
    print(
        f"  floor: reading the pool's credential status rows {floor_ms:.0f} ms "
        f"(indexed ranking / floor: ratio {indexed_ms / floor_ms:.2f}x); floor: the pure sparse "
        f"product over the same pool {product_ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
