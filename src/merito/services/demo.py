"""The demos: ``seed_demo`` fills a database with a demo issuer through the services
(``merito demo``); ``run_demo`` needs no database (``merito demo --offline``).

The offline demo makes a demo issuer key, sample credentials in every proof format and their
verification reports, including a tampered, an expired and a revoked credential; everything
runs in memory, and an in-memory fetcher serves the status list, so it shows the revocation
check without a network.
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
from merito.errors import Conflict, FetchError
from merito.formats import status_list
from merito.proofs import data_integrity
from merito.proofs.keys import Signer
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import (
    accounts,
    analytics,
    catalog,
    credentials,
    hiring,
    issuers,
    pathways,
    platform_verification,
    sharing,
    skills,
    wallet,
)
from merito.services.accounts import User
from merito.services.credentials import CredentialRecord
from merito.services.issuing import IssuedCredential, issue_credential, parse_achievement
from merito.services.keyfiles import new_signer
from merito.services.platform import Actor, Permission, Platform
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


# --- the seeded demo (`merito demo`): a whole issuer programme, through the services -------------

DEMO_ORG_SLUG: Final = "example-academy"
DEMO_ORG_NAME: Final = "Example Academy"
DEMO_OWNER_EMAIL: Final = "demo@merito.test"
DEMO_API_KEY_NAME: Final = "demo"
#: the learners: each also gets an account (same password as the owner) to try the learner side
DEMO_LEARNERS: Final[tuple[str, ...]] = (
    "ada@merito.test",
    "grace@merito.test",
    "alan@merito.test",
    "katherine@merito.test",
    "linus@merito.test",
)
_ESCO: Final = "http://data.europa.eu/esco/skill/"
DEMO_ACHIEVEMENTS: Final[tuple[dict[str, Any], ...]] = (
    {
        "name": "Data Analysis with Python",
        "description": "Cleans, analyses and visualises tabular data with pandas and matplotlib.",
        "achievementType": "Competency",
        "criteria": {"narrative": "Passed a graded analysis project reviewed against the rubric."},
        "alignment": [
            {
                "targetName": "Python (computer programming)",
                "targetUrl": _ESCO + "ccd0a1d9-afda-43d9-b901-96344886e14d",
                "targetFramework": "ESCO",
                "targetType": "ext:ESCOSkill",
            },
            {
                "targetName": "perform data analysis",
                "targetUrl": _ESCO + "1a0c4f5c-6a2f-4e8e-b4e6-7d1e1b5f0c01",
                "targetFramework": "ESCO",
                "targetType": "ext:ESCOSkill",
            },
        ],
        "hours": 40,
        "tag": ["data", "python"],
    },
    {
        "name": "SQL Fundamentals",
        "description": "Writes correct SELECT, JOIN and aggregate queries on relational data.",
        "achievementType": "Badge",
        "criteria": {"narrative": "Scored at least 80% on the proctored SQL exam."},
        "alignment": [
            {
                "targetName": "SQL",
                "targetUrl": _ESCO + "598de5b0-5b58-4ea7-8058-a4bc4d18c742",
                "targetFramework": "ESCO",
                "targetType": "ext:ESCOSkill",
            }
        ],
        "hours": 12,
    },
    {
        "name": "Accessible Web Design",
        "description": "Builds web pages that meet WCAG 2.2 level AA.",
        "achievementType": "MicroCredential",
        "criteria": {"narrative": "Delivered an audited site with no WCAG 2.2 AA failures."},
        "alignment": [
            {
                "targetName": "Web Content Accessibility Guidelines 2.2, level AA",
                "targetUrl": "https://www.w3.org/TR/WCAG22/",
                "targetFramework": "W3C WCAG",
                "targetCode": "WCAG22-AA",
                "targetType": "ext:Standard",
            }
        ],
        "hours": 24,
        "price": {"amount": "149.00", "currency": "EUR"},
    },
)
#: (achievement, learner, proof format) of each demo credential, by position
DEMO_CREDENTIALS: Final[tuple[tuple[int, int, str], ...]] = (
    (0, 0, "eddsa-rdfc-2022"),
    (1, 0, "eddsa-jcs-2022"),
    (2, 0, "vc-jwt"),
    (0, 1, "eddsa-rdfc-2022"),
    (1, 1, "vc-jwt"),
    (0, 2, "eddsa-jcs-2022"),
    (2, 2, "eddsa-rdfc-2022"),
    (1, 3, "eddsa-rdfc-2022"),
    (2, 3, "eddsa-jcs-2022"),
    (1, 4, "vc-jwt"),
)
#: the position of the credential the demo revokes
DEMO_REVOKED: Final = 9
DEMO_REVOCATION_REASON: Final = "Issued to the wrong learner (demo)"


@dataclass(frozen=True, slots=True)
class DemoAchievement:
    id: str
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class DemoSeed:
    """What ``seed_demo`` left in the database (the same on every run)."""

    org_id: str
    org_slug: str
    owner_email: str
    owner_user_id: str
    issuer_did: str
    achievements: tuple[DemoAchievement, ...]
    learners: tuple[str, ...]
    credentials: tuple[CredentialRecord, ...]
    revoked: CredentialRecord
    #: the demo API key, only on the run that created it (it is shown once)
    api_key: str | None
    #: False when everything already existed (nothing was written)
    created: bool
    #: wallet item ids of the credentials claimed into the first learner's wallet
    wallet_items: tuple[str, ...] = ()
    #: the demo pathway (all three achievements): the first learner completed it, others partway
    pathway_id: str | None = None


DEMO_PATHWAY: Final[dict[str, Any]] = {
    "name": "Web Data Practitioner",
    "description": "Analyses data with Python and SQL and publishes it on accessible pages.",
    "achievementType": "Certificate",
    "criteria": {"narrative": "Earned all three: Python analysis, SQL and accessible design."},
}


def _seed_pathway(
    platform: Platform, actor: Actor, *, org_id: str, achievements: list[DemoAchievement]
) -> tuple[str, bool]:
    """A published pathway over the three demo achievements; awards who completed it."""
    created = False
    existing = {a.name: a for a in catalog.list_achievements(platform, actor, org_id=org_id)}
    view = existing.get(DEMO_PATHWAY["name"])
    if view is None:
        view = catalog.create_achievement(platform, actor, org_id=org_id, fields=DEMO_PATHWAY)
        created = True
    if view.status != "published":
        view = catalog.publish_achievement(platform, actor, org_id=org_id, achievement_id=view.id)
        created = True
    found = next(
        (
            p
            for p in pathways.list_pathways(platform, actor, org_id=org_id)
            if p.achievement_id == view.id
        ),
        None,
    )
    if found is None:
        found = pathways.create_pathway(
            platform,
            actor,
            org_id=org_id,
            achievement_id=view.id,
            requirement={
                "kind": "all",
                "children": [{"kind": "achievement", "achievement_id": a.id} for a in achievements],
            },
        )
        created = True
    if found.status != "published":
        pathways.publish_pathway(platform, actor, org_id=org_id, pathway_id=found.id)
        created = True
    awarded = pathways.award_eligible(platform, actor, org_id=org_id, pathway_id=found.id)
    return found.id, created or bool(awarded)


def _demo_user(platform: Platform, *, email: str, password: str) -> tuple[User, bool]:
    try:
        return accounts.create_user(
            platform, Actor.system("demo"), email=email, password=password
        ), True
    except Conflict:
        # seeded before: the password proves it is the demo's own account
        return accounts.login(platform, email=email, password=password, ip=None).user, False


def _demo_activity(
    platform: Platform, records: list[CredentialRecord], *, items: tuple[str, ...]
) -> None:
    """What the studio's analytics shows of the demo: the first learner shares a credential
    by link, and five credentials are verified the way a verifier's check would be counted."""
    learner = wallet.account_actor(platform, DEMO_LEARNERS[0])
    if items and not sharing.list_share_links(platform, learner):
        sharing.create_share_link(platform, learner, target="item", item_id=items[0])
    options = VerifyOptions(clock=platform.clock)
    for record in records[:5]:
        document = record.jwt if record.jwt is not None else json.dumps(record.document)
        platform_verification.verify_as_platform(platform, document, options)
    analytics.flush(platform)  # the seeded database holds its counts, whoever copies it next


def seed_demo(platform: Platform, *, password: str) -> DemoSeed:
    """Seeds (or finds) the demo issuer through the services: its owner, organisation and
    profile, three published achievements, five learners and ten credentials in the three
    proof formats, one of them revoked. Running it again changes nothing.

    The first credential notifies its learner by email (through the outbox), so the demo
    shows one notification; the others are issued quietly.
    """
    owner, created = _demo_user(platform, email=DEMO_OWNER_EMAIL, password=password)
    actor = Actor(kind="user", id=owner.id, user_id=owner.id)
    # the bundled ESCO taxonomy (skills, occupations): a few seconds, once
    created = skills.ensure_taxonomy(platform, Actor.system("demo")) is not None or created
    org = next(
        (o for o in accounts.list_my_organisations(platform, actor) if o.slug == DEMO_ORG_SLUG),
        None,
    )
    if org is None:
        org = accounts.create_organisation(
            platform, actor, slug=DEMO_ORG_SLUG, name=DEMO_ORG_NAME, kind="issuer"
        )
        issuers.update_profile(
            platform,
            actor,
            org_id=org.id,
            fields=issuers.ProfileFields(
                name=DEMO_ORG_NAME,
                url="https://academy.example.org/",
                email="badges@academy.example.org",
                description="A fictional school that issues Open Badges 3.0 with Merito.",
            ),
        )
        created = True
    api_key: str | None = None
    if not any(
        k.name == DEMO_API_KEY_NAME for k in accounts.list_api_keys(platform, actor, org.id)
    ):
        api_key = accounts.create_api_key(
            platform,
            actor,
            org_id=org.id,
            name=DEMO_API_KEY_NAME,
            scopes=[p.value for p in Permission if p is not Permission.ORG_DELETE],
        ).secret
        created = True

    existing = {a.name: a for a in catalog.list_achievements(platform, actor, org_id=org.id)}
    achievements: list[DemoAchievement] = []
    for fields in DEMO_ACHIEVEMENTS:
        view = existing.get(fields["name"])
        if view is None:
            view = catalog.create_achievement(platform, actor, org_id=org.id, fields=fields)
            created = True
        if view.status != "published":
            view = catalog.publish_achievement(
                platform, actor, org_id=org.id, achievement_id=view.id
            )
            created = True
        achievements.append(DemoAchievement(id=view.id, name=view.name, url=view.url))

    for email in DEMO_LEARNERS:
        try:
            accounts.create_user(platform, Actor.system("demo"), email=email, password=password)
            created = True
        except Conflict:
            pass  # seeded before

    records: list[CredentialRecord] = []
    for n, (achievement, learner, proof_format) in enumerate(DEMO_CREDENTIALS, start=1):
        record = credentials.issue_credential(
            platform,
            actor,
            org_id=org.id,
            achievement_id=achievements[achievement].id,
            recipient=DEMO_LEARNERS[learner],
            proof_format=proof_format,
            idempotency_key=f"demo-credential-{n}",
            notify=n == 1,
        )
        created = created or record.created
        records.append(record)
    revoked = records[DEMO_REVOKED]
    if revoked.state != "revoked":
        revoked = credentials.revoke(
            platform,
            actor,
            org_id=org.id,
            credential_id=revoked.id,
            reason=DEMO_REVOCATION_REASON,
        )
        records[DEMO_REVOKED] = revoked
        created = True
    # a role the demo organisation hires for; the first three learners are discoverable
    created = (
        hiring.seed_demo_role(
            platform,
            actor,
            org_id=org.id,
            required=[a["targetUrl"] for f in DEMO_ACHIEVEMENTS[:2] for a in f["alignment"]],
            optional=[a["targetUrl"] for a in DEMO_ACHIEVEMENTS[2]["alignment"]],
            learners=DEMO_LEARNERS[:3],
        )
        or created
    )
    # the first learner has claimed theirs: their wallet shows them, verified
    wallet_items = tuple(
        wallet.claim_for_recipient_account(
            platform, Actor.system("demo"), credential_row_id=record.id
        ).id
        for record, (_, learner, _) in zip(records, DEMO_CREDENTIALS, strict=True)
        if learner == 0
    )
    # a pathway stacking the three: the first learner holds all of them, the others some
    pathway_id, seeded = _seed_pathway(platform, actor, org_id=org.id, achievements=achievements)
    created = created or seeded
    if created:
        _demo_activity(platform, records, items=wallet_items)
    return DemoSeed(
        org_id=org.id,
        org_slug=org.slug,
        owner_email=owner.email,
        owner_user_id=owner.id,
        issuer_did=issuers.signer_for(platform, org.id).controller,
        achievements=tuple(achievements),
        learners=DEMO_LEARNERS,
        credentials=tuple(records),
        revoked=revoked,
        api_key=api_key,
        created=created,
        wallet_items=wallet_items,
        pathway_id=pathway_id,
    )
