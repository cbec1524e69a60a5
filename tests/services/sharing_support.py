"""Helpers for the sharing tests: learners, real issued credentials in their wallets."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services_support import SeededOrg

from merito import bootstrap
from merito.config import Settings
from merito.services import credentials, issuers
from merito.services.credentials import CredentialRecord
from merito.services.platform import Actor, Platform
from merito.storage.tables import AchievementRow, AchievementVersionRow, UserRow
from merito.storage.tables_wallet import WalletItemRow
from merito.verification import VerifyOptions, verify

SKILLED_ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/sql",
    "type": ["Achievement"],
    "achievementType": "Badge",
    "name": "SQL Fundamentals",
    "description": "Writes correct SELECT, JOIN and aggregate queries.",
    "criteria": {"narrative": "Scored at least 80% on the proctored SQL exam."},
    "alignment": [
        {
            "type": ["Alignment"],
            "targetName": "SQL",
            "targetUrl": "http://data.europa.eu/esco/skill/sql",
            "targetFramework": "ESCO",
        },
        {
            "type": ["Alignment"],
            "targetName": "Data modelling",
            "targetUrl": "https://academy.example.org/skills/dm-1",
            "targetCode": "DM-1",
        },
    ],
}


def new_learner(platform: Platform, email: str | None = None) -> Actor:
    user_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(UserRow(id=user_id, email=email or f"{user_id}@example.org", password_hash="!"))
    return Actor(kind="user", id=user_id, user_id=user_id)


def seed_achievement(platform: Platform, org_id: str, *, name: str = "SQL Fundamentals") -> str:
    achievement_id, version_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            AchievementRow(
                id=achievement_id, org_id=org_id, status="published", current_version=1, name=name
            )
        )
        session.flush()
        session.add(
            AchievementVersionRow(
                id=version_id,
                org_id=org_id,
                achievement_id=achievement_id,
                version=1,
                document={**SKILLED_ACHIEVEMENT, "name": name},
            )
        )
    return achievement_id


def verifier(platform: Platform) -> VerifyOptions:
    """Offline options knowing the DID documents the platform serves (status not fetched)."""
    return bootstrap.verify_options(
        Settings(), documents=issuers.did_documents(platform), clock=platform.clock
    )


def put_in_wallet(
    platform: Platform,
    learner: Actor,
    record: CredentialRecord,
    *,
    visibility: str = "private",
    verdict: str | None = "valid",
    at: datetime | None = None,
) -> str:
    """Stores the issued credential in the learner's wallet as a claim would."""
    document = record.document
    raw = record.jwt
    item_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            WalletItemRow(
                id=item_id,
                user_id=learner.user_id,
                credential_row_id=record.id,
                source="claimed",
                format="vc-jwt" if raw else "ob3",
                document=document,
                raw=raw,
                content_hash=hashlib.sha256(
                    (raw or json.dumps(document, sort_keys=True)).encode()
                ).hexdigest(),
                credential_id=record.credential_id,
                name=document["credentialSubject"]["achievement"]["name"],
                issuer_id=document["issuer"]["id"],
                issuer_name=document["issuer"].get("name"),
                verdict=verdict,
                verified_at=at or platform.clock.now(),
                visibility=visibility,
                created_at=at or platform.clock.now(),
            )
        )
    return item_id


def issue(
    platform: Platform,
    org: SeededOrg,
    *,
    recipient: str = "ada@example.org",
    achievement_id: str | None = None,
    proof_format: str = "eddsa-rdfc-2022",
    **extra: Any,
) -> CredentialRecord:
    return credentials.issue_credential(
        platform,
        org.actor,
        org_id=org.org_id,
        achievement_id=achievement_id or seed_achievement(platform, org.org_id),
        recipient=recipient,
        proof_format=proof_format,
        notify=False,
        **extra,
    )


def credential_verifies(platform: Platform, document: Any) -> bool:
    return verify(document, options=verifier(platform)).verified


Seeder = Callable[..., SeededOrg]
