"""The bulk signing step: a credential made from its batch's template is byte for byte the one
``issuing.issue_credential`` builds and signs for the same row."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from merito.domain.achievements import Profile
from merito.domain.identifiers import WIRE_CONTEXT
from merito.formats import jcs
from merito.services import credentials, issuing, keyfiles
from merito.services.credentials import _SigningBatch, _SigningJob

ISSUED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
ACHIEVEMENT = {
    "id": "https://academy.example.org/achievements/sql",
    "type": ["Achievement"],
    "name": "SQL Fundamentals",
    "description": "Writes and tunes relational queries.",
    "criteria": {"narrative": "Passed the final exam."},
}


def _job(n: int, recipient: str, **fields: Any) -> _SigningJob:
    values: dict[str, Any] = {
        "row_id": f"row-{n}",
        "credential_id": f"https://merito.example/credentials/row-{n}",
        "recipient": recipient,
        "achievement_key": "version-1",
        "status_entry": {
            "id": f"https://merito.example/status/list-1#{n}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(n),
            "statusListCredential": "https://merito.example/status/list-1",
        },
        "valid_until": None,
        "evidence": (),
    }
    values.update(fields)
    return _SigningJob(**values)


@pytest.mark.parametrize("proof_format", ["eddsa-rdfc-2022", "eddsa-jcs-2022"])
def test_templated_credentials_equal_fully_built_ones(proof_format: str) -> None:
    signer = keyfiles.new_signer("ed25519", seed=b"\x07" * 32)
    profile = Profile.model_validate(
        {"id": signer.controller, "type": ["Profile"], "name": "Example Academy"},
        context=WIRE_CONTEXT,
    )
    until = datetime(2030, 6, 30, 23, 59, 59, tzinfo=UTC)
    url = {"type": ["Evidence"], "id": "https://academy.example.org/e/1", "narrative": "Exam"}
    told = {"type": ["Evidence"], "narrative": "Project"}
    jobs = (
        _job(1, "ada@example.org"),
        _job(2, "bob@example.org"),  # templated
        _job(3, "did:example:carol"),
        _job(4, "did:example:dan"),  # templated
        _job(5, "erin@example.org", valid_until=until),
        _job(6, "fay@example.org", valid_until=until, evidence=(url,)),
        _job(7, "gus@example.org", valid_until=until, evidence=(url,)),  # templated
        _job(8, "hal@example.org", evidence=(told,)),
        _job(9, "ivy@example.org", evidence=(told,)),  # templated
    )
    batch = _SigningBatch(
        issued_at=ISSUED_AT,
        proof_format=proof_format,
        notify=None,
        achievements={"version-1": ACHIEVEMENT},
        jobs=jobs,
    )
    cache: dict[str, Any] = {}
    signed = credentials._sign_batch(batch, signer=signer, profile=profile, cache=cache)
    assert len(cache["templates"][1]) == 5  # one full build per shape
    achievement = issuing.parse_achievement(ACHIEVEMENT)
    for job, result in zip(jobs, signed, strict=True):
        document = json.loads(result.document)
        identifier = document["credentialSubject"].get("identifier")
        direct = issuing.issue_credential(
            achievement=achievement,
            recipient=job.recipient,
            signer=signer,
            issued_at=ISSUED_AT,
            issuer=profile,
            proof_format=proof_format,
            valid_until=job.valid_until,
            credential_id=job.credential_id,
            evidence=job.evidence,
            credential_status=job.status_entry,
            salt=identifier[0]["salt"] if identifier else None,
        )
        # same content, same key order, same proof (Ed25519 signatures are deterministic)
        assert list(document) == list(direct.document)
        assert document == direct.document
        unsigned = {k: v for k, v in direct.document.items() if k != "proof"}
        assert result.leaf_sha256 == hashlib.sha256(jcs.canonicalize(unsigned)).hexdigest()
