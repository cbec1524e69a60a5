"""The offline demo: a demo issuer key, sample credentials in every proof format, and their
verification reports, including a tampered, an expired and a revoked credential.

Everything runs in memory; the status list is served by an in-memory fetcher, so the demo
shows the revocation check without a network.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from merito.domain.ports import FetchResponse, FixedClock
from merito.domain.verification import VerificationReport
from merito.errors import FetchError
from merito.formats import status_list
from merito.proofs import data_integrity
from merito.proofs.keys import Signer
from merito.proofs.resolution import VerificationMethodResolver
from merito.services.issuing import IssuedCredential, issue_credential, parse_achievement
from merito.services.keyfiles import new_signer
from merito.verification import VerifyOptions, verify

ISSUER_NAME: Final = "Merito Demo Academy"
STATUS_LIST_URL: Final = "https://demo.merito.example/status/1"

ACHIEVEMENTS: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": "https://demo.merito.example/achievements/python-data-analysis",
        "type": ["Achievement"],
        "achievementType": "Competency",
        "name": "Data Analysis with Python",
        "description": "Cleans, analyses and visualises tabular data with pandas and matplotlib.",
        "criteria": {
            "narrative": "Passed a graded analysis project reviewed against the course rubric."
        },
        "alignment": [
            {
                "type": ["Alignment"],
                "targetName": "Python (computer programming)",
                "targetUrl": "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d",
                "targetFramework": "ESCO",
                "targetType": "ext:ESCOSkill",
            }
        ],
    },
    {
        "id": "https://demo.merito.example/achievements/sql-fundamentals",
        "type": ["Achievement"],
        "achievementType": "Badge",
        "name": "SQL Fundamentals",
        "description": "Writes correct SELECT, JOIN and aggregate queries on relational data.",
        "criteria": {"narrative": "Scored at least 80% on the proctored SQL exam."},
    },
)


@dataclass(frozen=True, slots=True)
class DemoCase:
    title: str
    slug: str
    credential: IssuedCredential
    presented: str | dict[str, Any]
    report: VerificationReport


@dataclass(frozen=True, slots=True)
class DemoRun:
    issuer_did: str
    cases: tuple[DemoCase, ...]
    status_list: dict[str, Any]


class _StatusListFetcher:
    """Serves the demo's signed status list credential and refuses everything else."""

    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        self._documents = dict(documents)

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        doc = self._documents.get(url)
        if doc is None:
            raise FetchError(f"the demo serves no document at {url}")
        body = json.dumps(doc).encode()
        return FetchResponse(status=200, body=body, content_type="application/vc+ld+json", url=url)


def _signed_status_list(signer: Signer, *, revoked: list[int], now: datetime) -> dict[str, Any]:
    bits = status_list.new_status_list()
    for index in revoked:
        status_list.set_status(bits, index, 1)
    unsigned = status_list.bitstring_status_list_credential(
        id=STATUS_LIST_URL,
        issuer=signer.controller,
        encoded_list=status_list.encode_status_list(bits),
        valid_from=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return data_integrity.sign(unsigned, signer=signer, created=now)


def _status(index: int) -> dict[str, Any]:
    return status_list.bitstring_status_list_entry(
        status_list_credential=STATUS_LIST_URL, index=index
    )


def run_demo(*, now: datetime, seed: bytes | None = None) -> DemoRun:
    """Issues the demo credentials and verifies each as an employer would."""
    signer = new_signer("ed25519", seed=seed)
    data_analysis, sql = (parse_achievement(a) for a in ACHIEVEMENTS)
    issued_at = now - timedelta(days=30)

    def issue(achievement: Any, recipient: str, fmt: str, **extra: Any) -> IssuedCredential:
        return issue_credential(
            achievement=achievement,
            recipient=recipient,
            signer=signer,
            issued_at=extra.pop("issued_at", issued_at),
            issuer_name=ISSUER_NAME,
            proof_format=fmt,
            **extra,
        )

    rdfc = issue(data_analysis, "ada@example.org", "eddsa-rdfc-2022", credential_status=_status(7))
    jcs = issue(sql, "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "eddsa-jcs-2022")
    jwt = issue(data_analysis, "grace@example.org", "vc-jwt")
    expired = issue(
        sql,
        "linus@example.org",
        "eddsa-rdfc-2022",
        issued_at=now - timedelta(days=400),
        valid_until=now - timedelta(days=35),
    )
    revoked = issue(sql, "alan@example.org", "eddsa-rdfc-2022", credential_status=_status(42))
    tampered_doc = copy.deepcopy(rdfc.document)
    tampered_doc["credentialSubject"]["achievement"]["name"] = "Senior Data Scientist"

    status_doc = _signed_status_list(signer, revoked=[42], now=issued_at)
    fetcher = _StatusListFetcher({STATUS_LIST_URL: status_doc})
    options = VerifyOptions(
        clock=FixedClock(now), fetcher=fetcher, resolver=VerificationMethodResolver()
    )
    presented: list[tuple[str, str, IssuedCredential, str | dict[str, Any]]] = [
        ("Open Badge 3.0, eddsa-rdfc-2022 (the OB 3.0 default)", "rdfc", rdfc, rdfc.document),
        ("Open Badge 3.0, eddsa-jcs-2022", "jcs", jcs, jcs.document),
        ("Open Badge 3.0, VC-JWT (EdDSA)", "vc-jwt", jwt, jwt.serialized),
        ("Tampered copy: achievement name changed after signing", "tampered", rdfc, tampered_doc),
        ("Expired credential", "expired", expired, expired.document),
        ("Revoked credential (Bitstring Status List)", "revoked", revoked, revoked.document),
    ]
    cases = tuple(
        DemoCase(title, slug, cred, doc, verify(doc, options=options))
        for title, slug, cred, doc in presented
    )
    return DemoRun(issuer_did=signer.controller, cases=cases, status_list=status_doc)
