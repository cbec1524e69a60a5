"""The skills inventory of N consenting employees, read from the database.

Run: .venv/bin/python benchmarks/workforce_inventory.py [--employees N] [--database-url URL]
Seeds N employees (SQLite file by default) in teams of 50, each holding 3 of 12 ESCO-aligned
credentials (copies of a real signed one) and sharing all of them, then times
``workforce.inventory`` (by team, k-anonymous) and ``workforce.coverage`` of one role, beside a
floor measured in the same run: reading the employees' consent rows and their credentials'
status columns (what any correct inventory computed from current consent must read).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))

from _common import skills_issuer
from merito import bootstrap
from merito.config import Settings
from merito.services import hiring, workforce
from merito.services.platform import Actor, Platform
from merito.storage import create_engine_for, migrate
from merito.storage.tables import CredentialRow, UserRow
from merito.storage.tables_workforce import EmployeeRow, SharedCredentialRow

SKILLS = [f"http://data.europa.eu/esco/skill/wf-bench-{i}" for i in range(12)]
TEAM = 50


def _timed(fn: Callable[[], object], times: int) -> float:
    measured = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        measured.append((time.perf_counter() - started) * 1000)
    return statistics.median(measured)


def _seed(platform: Platform, size: int) -> tuple[Actor, str, str]:
    owner, org_id, templates = skills_issuer(platform, SKILLS, slug="wf")
    with platform.reading() as session:
        rows = [session.get(CredentialRow, t.id) for t in templates]
    role = hiring.create_role(
        platform,
        owner,
        org_id=org_id,
        fields={
            "title": "Bench",
            "status": "closed",
            "requirements": [{"skill": s} for s in SKILLS[:4]],
        },
    )
    with platform.transaction() as session:
        for i in range(size):
            user_id, email = str(uuid.uuid4()), f"employee-{i}@bench.example"
            session.add(UserRow(id=user_id, email=email, password_hash="!"))
            session.flush()
            session.add(
                EmployeeRow(
                    id=str(uuid.uuid4()),
                    org_id=org_id,
                    user_id=user_id,
                    team=f"team-{i // TEAM:03d}",
                    job_role_id=role.id if i % 2 == 0 else None,
                    share_all=True,
                    show_individual=False,
                )
            )
            for k in range(3):
                template = rows[(i + 5 * k) % len(rows)]
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
    return owner, org_id, role.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="merito-workforce-bench-"))
    url = args.database_url or f"sqlite:///{data / 'bench.db'}"
    settings = Settings(data_dir=data, database_url=url, master_key="55" * 32)
    migrate(create_engine_for(url))
    platform = bootstrap.platform(settings)
    started = time.perf_counter()
    owner, org_id, _role_id = _seed(platform, args.employees)
    seed_s = time.perf_counter() - started

    def floor() -> None:
        with platform.reading() as session:
            employees = session.execute(
                select(EmployeeRow.id, EmployeeRow.user_id, EmployeeRow.share_all).where(
                    EmployeeRow.org_id == org_id
                )
            ).all()
            ids = [e.id for e in employees]
            users = [e.user_id for e in employees]
            for i in range(0, len(ids), 500):
                session.execute(
                    select(SharedCredentialRow.credential_id).where(
                        SharedCredentialRow.employee_id.in_(ids[i : i + 500])
                    )
                ).all()
            emails = []
            for i in range(0, len(users), 500):
                emails += session.scalars(
                    select(UserRow.email).where(UserRow.id.in_(users[i : i + 500]))
                ).all()
            for i in range(0, len(emails), 500):
                session.execute(
                    select(
                        CredentialRow.id,
                        CredentialRow.recipient,
                        CredentialRow.revoked_at,
                        CredentialRow.achievement_version_id,
                    ).where(CredentialRow.recipient.in_(emails[i : i + 500]))
                ).all()

    table = workforce.inventory(platform, owner, org_id=org_id)
    inventory_ms = _timed(lambda: workforce.inventory(platform, owner, org_id=org_id), args.repeat)
    coverage_ms = _timed(lambda: workforce.coverage(platform, owner, org_id=org_id), args.repeat)
    floor_ms = _timed(floor, args.repeat)
    backend = url.split(":")[0]
    print(
        f"{args.employees:,} consenting employees x 3 credentials in {len(table.groups)} teams "
        f"({backend}), seeded in {seed_s:.1f} s; {len(table.skills)} skills published"
    )
    print(
        f"  inventory by team: median {inventory_ms:.0f} ms; coverage of one role: "
        f"{coverage_ms:.0f} ms"
    )
    print(
        f"  floor: reading the consent and credential status rows {floor_ms:.0f} ms "
        f"(inventory {inventory_ms / floor_ms:.1f}x it, coverage {coverage_ms / floor_ms:.1f}x)"
    )


if __name__ == "__main__":
    main()
