"""Verifying with the trust checks, beside the platform verification of the same credential.

Run: .venv/bin/python benchmarks/trust_verify.py [--n 50]

Seeds (SQLite, in a temporary folder) an issuer, an endorser, a published achievement with
one endorsement, and a credential that embeds it; then times, in this process:

- the floor: ``platform_verification.verify_as_platform`` (every built-in check);
- ``trust.verify_with_trust`` with Merito's registry chosen: the same checks plus the embedded
  endorsement verified like a credential, the registry lookup, the DID Configuration check,
  quality facts and counts.

It prints both rates and their ratio (the trust checks roughly double the signature work: the
endorsement is a second signed credential).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from merito import bootstrap
from merito.config import Settings
from merito.services import catalog, credentials, endorsements, platform_verification, trust
from merito.services.platform import Actor, Platform
from merito.storage.tables import MembershipRow, OrganisationRow, UserRow
from merito.verification import VerifyOptions


def _org(platform: Platform, slug: str) -> tuple[str, Actor]:
    org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug=slug, name=slug.title(), kind="issuer"))
        session.add(UserRow(id=user_id, email=f"{slug}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role="owner"))
    return org_id, Actor(kind="user", id=user_id, user_id=user_id)


def _rate(run: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        run()  # type: ignore[operator]
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url=f"sqlite:///{folder}/bench.db",
            master_key="66" * 32,
            base_url="https://merito.test",
        )
        platform = bootstrap.platform(settings)
        academy, owner = _org(platform, "academy")
        industry, endorser = _org(platform, "industry")
        made = catalog.create_achievement(
            platform,
            owner,
            org_id=academy,
            fields={"name": "Welding", "description": "Welds.", "criteria": {"narrative": "Test."}},
        )
        catalog.publish_achievement(platform, owner, org_id=academy, achievement_id=made.id)
        endorsements.issue_endorsement(
            platform,
            endorser,
            org_id=industry,
            subject_org_id=academy,
            achievement_id=made.id,
            comment="Industry standard.",
        )
        record = credentials.issue_credential(
            platform,
            owner,
            org_id=academy,
            achievement_id=made.id,
            recipient="learner@example.org",
            notify=False,
        )
        text = json.dumps(record.document)
        options = VerifyOptions()
        registries = trust.registries_for(platform, None, org_id=None, ids=["merito"])

        def floor() -> None:
            assert platform_verification.verify_as_platform(platform, text, options).verified

        def trusted() -> None:
            result = trust.verify_with_trust(platform, text, options, registries=registries)
            assert result.report.verified
            assert result.report.check("endorsements").passed  # type: ignore[union-attr]

        floor()
        trusted()
        base = _rate(floor, args.n)
        with_trust = _rate(trusted, args.n)
        print(f"verify_as_platform (floor): {base:8.1f} verifications/s")
        print(f"verify_with_trust:          {with_trust:8.1f} verifications/s")
        print(f"ratio trust/floor:          {with_trust / base:8.2f}")
        platform.sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main()
