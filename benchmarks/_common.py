"""Shared benchmark helpers: a typical ~3 KB OB 3.0 credential and a rate timer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from merito.domain.achievements import Achievement, Profile
from merito.domain.identifiers import WIRE_CONTEXT, salted_identity_object
from merito.formats.ob3 import build_credential
from merito.formats.status_list import bitstring_status_list_entry
from merito.services import catalog, credentials
from merito.services.platform import Actor
from merito.storage.tables import MembershipRow, OrganisationRow, UserRow

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def typical_credential(issuer_did: str, n: int = 0) -> dict[str, Any]:
    """An OB 3.0 credential of about 3 KB: criteria, image, alignments, results, evidence."""
    achievement = Achievement.model_validate(
        {
            "id": "https://academy.example.org/achievements/data-analysis-python",
            "type": ["Achievement"],
            "achievementType": "Certificate",
            "name": "Data Analysis with Python",
            "description": "Cleans, analyses and visualises tabular data with pandas; "
            "communicates findings in a reproducible notebook.",
            "criteria": {
                "id": "https://academy.example.org/achievements/data-analysis-python/criteria",
                "narrative": "Learners complete four graded labs and a capstone analysis, "
                "assessed against the published rubric with a score of at least 70%.",
            },
            "image": {
                "id": "https://academy.example.org/achievements/data-analysis-python/image.png",
                "type": "Image",
                "caption": "Data Analysis with Python",
            },
            "alignment": [
                {
                    "type": ["Alignment"],
                    "targetName": name,
                    "targetUrl": f"http://data.europa.eu/esco/skill/{uri}",
                    "targetFramework": "ESCO",
                    "targetType": "ext:ESCOSkill",
                }
                for name, uri in [
                    ("Python (computer programming)", "ccd0a1d9-afda-43d9-b901-96344886e14d"),
                    ("perform data analysis", "1a0c4f5c-6a2f-4e8e-b4e6-7d1e1b5f0c01"),
                    ("visualise data", "9f1b7b36-54a6-4e5e-8f69-3a2e2d6f1c77"),
                ]
            ],
            "resultDescription": [
                {
                    "id": "urn:uuid:2f1a5c3e-8b7d-4c1a-9e5f-0a6b7c8d9e01",
                    "type": ["ResultDescription"],
                    "name": "Capstone score",
                    "resultType": "Percent",
                    "valueMin": "0",
                    "valueMax": "100",
                }
            ],
            "creditsAvailable": 2.5,
            "tag": ["python", "pandas", "data analysis"],
            "inLanguage": "en",
        },
        context=WIRE_CONTEXT,
    )
    issuer = Profile.model_validate(
        {
            "id": issuer_did,
            "type": ["Profile"],
            "name": "Example Academy",
            "url": "https://academy.example.org",
            "email": "credentials@academy.example.org",
        },
        context=WIRE_CONTEXT,
    )
    return build_credential(
        credential_id=f"urn:uuid:6a9c1d2e-3f4b-4c5d-8e6f-{n:012d}",
        issuer=issuer,
        achievement=achievement,
        recipient=salted_identity_object(f"learner{n}@example.org", salt="f00dfeed"),
        valid_from=NOW,
        results=[
            {
                "type": ["Result"],
                "resultDescription": "urn:uuid:2f1a5c3e-8b7d-4c1a-9e5f-0a6b7c8d9e01",
                "value": "86",
            }
        ],
        evidence=[
            {
                "id": f"https://academy.example.org/evidence/{n}",
                "type": ["Evidence"],
                "name": "Capstone notebook",
                "narrative": "Analysis of city bike-share usage, reviewed by two assessors.",
            }
        ],
        credential_status=bitstring_status_list_entry(
            status_list_credential="https://academy.example.org/status/1", index=n
        ),
    )


def paired_rate(
    fn: Callable[[], object], floor: Callable[[], object], *, seconds: float = 1.0
) -> tuple[float, float]:
    """Calls per CPU-second of ``fn`` and of ``floor``, measured in alternating rounds.

    Measuring the floor beside each operation, rather than once at the start, keeps a
    machine whose speed drifts (frequency, neighbours' cache pressure) from biasing the
    ratio either way. Best round of each over ``seconds`` in all.
    """
    best_fn = best_floor = 0.0
    for _ in range(3):
        best_floor = max(best_floor, rate(floor, seconds=seconds / 6, rounds=1))
        best_fn = max(best_fn, rate(fn, seconds=seconds / 6, rounds=1))
    return best_fn, best_floor


def rate(fn: Callable[[], object], *, seconds: float = 1.0, rounds: int = 3) -> float:
    """Calls per CPU-second of ``fn`` over at least ``seconds`` (best of ``rounds`` rounds).

    CPU time of this process, not wall time: on a shared machine the wall clock also counts
    the time other processes held the core, which skews each row by a different amount and
    makes the ratios to the raw Ed25519 floor meaningless. One process, one thread: this is
    the rate per core the goals are stated in.
    """
    best = 0.0
    for _ in range(rounds):
        calls = 0
        start = time.process_time()
        deadline = start + seconds / rounds
        while True:
            for _ in range(20):
                fn()
            calls += 20
            now = time.process_time()
            if now >= deadline:
                break
        best = max(best, calls / (now - start))
    return best


def skills_issuer(
    platform: Any, skills: list[str], *, slug: str
) -> tuple[Actor, str, list[credentials.CredentialRecord]]:
    """An issuer organisation with its owner, one published 10-hour achievement per skill and
    one template credential of each: (owner actor, org id, the template records)."""
    owner_id, org_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            OrganisationRow(id=org_id, slug=f"{slug}-{org_id[:8]}", name="Bench", kind="issuer")
        )
        session.add(
            UserRow(id=owner_id, email=f"owner-{owner_id[:8]}@bench.example", password_hash="!")
        )
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=owner_id, role="owner"))
    owner = Actor(kind="user", id=owner_id, user_id=owner_id)
    templates = []
    for n, skill in enumerate(skills):
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
    return owner, org_id, templates
