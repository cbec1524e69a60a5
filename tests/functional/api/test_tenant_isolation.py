"""Tenant isolation, for every route of the app: a caller from organisation A gets 404 for
organisation B's resources, on every method, with a user session and with an API key.

The sweep is data-driven from ``app.routes``, so a route added later is covered without
editing this file, or fails it with a message saying what to add:

- a route whose path has ``{org_id}`` is tenant-scoped. Each of its other path parameters
  needs a factory in ``RESOURCES`` that makes a real resource of that kind in a given
  organisation (so B's id is real and the 404 is isolation, not a typo), and each
  (method, path) that takes a request body needs a sample in ``REQUESTS``;
- a route under ``/api/v1/me/`` is user-scoped (the caller's own things, e.g. OAuth grants):
  its path parameters need factories in ``USER_RESOURCES`` making one for a given user, and
  user A's session must get 404 for user B's;
- any other route with path parameters must be listed in ``PUBLIC_ROUTES`` with the reason
  it is public (an explicit allow-list; nothing is skipped silently).

For each tenant-scoped route and caller the sweep sends the request to B (expects a 404
problem) and then, as a control, the same request to A with A's own resources (expects
neither 401, 404 nor a request-validation 422): the control proves that the sample reaches
the route's code and that B's 404 is not an artefact of the sample. At the end, B's audit
log must hold nothing A's callers did.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import struct
import urllib.parse
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
from accounts_support import Session, World, accounts_world
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from merito.api.app import create_app
from merito.config import Settings
from merito.formats.did_key import create_did_key
from merito.formats.trust_registry import build_registry
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.services import (
    assessment,
    catalog,
    claim_codes,
    credentials,
    endorsements,
    hiring,
    integrations,
    lti,
    oauth,
    pathways,
    sharing,
    skills,
    trust,
    webhooks_out,
)
from merito.services.platform import Actor, Permission, enqueue
from merito.storage.tables import AuditLogRow, OutboxRow, UserRow
from merito.storage.tables_wallet import WalletItemRow

TENANT_PARAM: Final = "org_id"
#: methods the sweep sends (HEAD and OPTIONS mirror GET and answer no data)
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: routes with path parameters that are public on purpose -> why
PUBLIC_ROUTES: Final[Mapping[str, str]] = {
    "/credentials/{credential_id}": "a credential's public URL: its id is the credential's URI",
    "/status/{list_id}": "Bitstring Status List credentials are fetched by verifiers",
    "/orgs/{slug}/did.json": "did:web resolution (DID documents are public)",
    "/orgs/{slug}/profile": "the issuer's public OB 3.0 Profile",
    "/achievements/{achievement_id}": "a published achievement's public URL",
    "/images/{sha256}": "content-addressed public badge images",
    "/docs/assets/{name}": "Swagger UI static files",
    "/p/{handle}": "a learner's portfolio page, public only once they enable it",
    "/s/{token}": "a share link: the unguessable token is the learner's consent",
    "/log/v1/sth/{tree_size}": "the transparency log's signed tree heads are public",
    "/api/v1/skills/{skill_id}": "the ESCO taxonomy is public; an org's own skill needs a member",
    "/api/v1/occupations/{occupation_id}": "ESCO occupations are public",
    "/webhooks/inbound/{endpoint_id}": "a learning platform's inbound webhook: the HMAC "
    "signature with the endpoint's secret authenticates it",
    "/endorsements/{endorsement_id}": "an EndorsementCredential's public URL (its id)",
    "/trust/achievements/{achievement_id}": "a published achievement's quality facts and "
    "counts-only signals, for verifiers",
    "/evidence/{evidence_id}": "an awarded credential's evidence file (its Evidence id URL); "
    "only awarded applications' files are served",
    "/api/v1/claim-codes/{code}": "an event's claim code: whoever holds the code may see it",
    "/api/v1/claim-codes/{code}/requests": "claiming by code: anyone with the code, rate-limited",
    "/api/v1/claim-codes/{code}/claims": "the emailed one-time token authenticates the claim",
}

ACHIEVEMENT: Final[dict[str, Any]] = {
    "name": "Tenant isolation",
    "description": "Keeps other organisations' data out of reach.",
    "criteria": {"narrative": "Passed the isolation sweep."},
}


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    rows = b"".join(b"\x00" + b"\x20\x80\xff" * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# --- the world: two organisations with an owner, a session and an all-scopes API key -------


@dataclass
class Org:
    id: str
    owner_id: str
    session: Session
    api_key: str
    published_achievement_id: str = ""
    serial: int = 0

    @property
    def owner(self) -> Actor:
        return Actor(kind="user", id=self.owner_id, user_id=self.owner_id, ip="192.0.2.50")

    def next(self) -> int:
        self.serial += 1
        return self.serial


@dataclass
class Sweep:
    world: World
    orgs: dict[str, Org] = field(default_factory=dict)

    def add_org(self, name: str) -> Org:
        email = f"owner-{name}@example.org"
        owner_id = self.world.register(email)
        session = self.world.login(email)
        org_id = self.world.create_org(session, f"org-{name}")
        key = self.world.api_key(session, org_id, sorted(p.value for p in Permission))
        org = Org(id=org_id, owner_id=owner_id, session=session, api_key=key)
        achievement = catalog.create_achievement(
            self.world.platform, org.owner, org_id=org_id, fields=ACHIEVEMENT
        )
        catalog.publish_achievement(
            self.world.platform, org.owner, org_id=org_id, achievement_id=achievement.id
        )
        org.published_achievement_id = achievement.id
        self.orgs[name] = org
        return org

    def new_user(self, org: Org) -> str:
        """A fresh account, not yet a member of anything; returns its email."""
        email = f"user-{org.id[:8]}-{org.next()}@example.org"
        self.world.register(email)
        return email


Factory = Callable[[Sweep, Org], str]


def _member(sweep: Sweep, org: Org) -> str:
    email = sweep.new_user(org)
    response = sweep.world.call(
        "POST",
        f"/api/v1/orgs/{org.id}/members",
        auth=org.session,
        json={"email": email, "role": "viewer"},
    )
    assert response.status_code == 201, response.text
    user_id: str = response.json()["user_id"]
    return user_id


def _key(sweep: Sweep, org: Org) -> str:
    response = sweep.world.call(
        "POST",
        f"/api/v1/orgs/{org.id}/api-keys",
        auth=org.session,
        json={"name": f"key {org.next()}", "scopes": ["org:read"]},
    )
    assert response.status_code == 201, response.text
    key_id: str = response.json()["id"]
    return key_id


def _achievement(sweep: Sweep, org: Org) -> str:
    made = catalog.create_achievement(
        sweep.world.platform, org.owner, org_id=org.id, fields=ACHIEVEMENT
    )
    return made.id


def _credential(sweep: Sweep, org: Org) -> str:
    record = credentials.issue_credential(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=org.published_achievement_id,
        recipient=f"learner-{org.next()}@example.org",
        status_purpose="suspension",
        notify=False,
    )
    return record.id


def _delivery(sweep: Sweep, org: Org) -> str:
    key = f"isolation-{uuid.uuid4()}"
    with sweep.world.platform.transaction() as session:
        enqueue(
            session,
            topic="webhook.isolation_probe",
            payload={"probe": True},
            idempotency_key=key,
            org_id=org.id,
        )
    with sweep.world.platform.reading() as session:
        delivery_id = session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key))
    assert delivery_id is not None
    return str(delivery_id)


PROBE_SKILL: Final = "http://data.europa.eu/esco/skill/isolation-probe"


def _role(sweep: Sweep, org: Org) -> str:
    role = hiring.create_role(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        fields={"title": f"Role {org.next()}", "requirements": [{"skill": PROBE_SKILL}]},
    )
    return role.id


def _candidate(sweep: Sweep, org: Org) -> str:
    """A learner discoverable by this organisation only."""
    email = sweep.new_user(org)
    with sweep.world.platform.reading() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email))
    assert user_id is not None
    learner = Actor(kind="user", id=user_id, user_id=user_id)
    hiring.set_discoverability(sweep.world.platform, learner, public=False, org_ids=[org.id])
    return user_id


def _saved_search(sweep: Sweep, org: Org) -> str:
    saved = hiring.create_saved_search(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        fields={"name": f"search {org.next()}", "role_id": _role(sweep, org)},
    )
    return saved.id


def _org_skill(sweep: Sweep, org: Org) -> str:
    fields = skills.OrgSkillFields(preferred_label=f"Probe skill {org.next()}")
    return skills.create_org_skill(sweep.world.platform, org.owner, org_id=org.id, fields=fields).id


def _endpoint(sweep: Sweep, org: Org) -> str:
    made = integrations.create_endpoint(sweep.world.platform, org.owner, org_id=org.id, name="p")
    return made.endpoint.id


def _rule(sweep: Sweep, org: Org) -> str:
    fields = integrations.RuleFields(
        source="webhook", trigger="probe", achievement_id=org.published_achievement_id
    )
    return integrations.create_rule(
        sweep.world.platform, org.owner, org_id=org.id, fields=fields
    ).id


def _xapi_client(sweep: Sweep, org: Org) -> str:
    made = integrations.create_xapi_client(sweep.world.platform, org.owner, org_id=org.id, name="p")
    return made.client.id


def _lti_fields(org: Org) -> dict[str, Any]:
    return {
        "name": "Probe LMS",
        "issuer": f"https://lms-{org.id[:8]}.example.org",
        "client_id": f"probe-{org.next()}",
        "deployment_ids": ["d1"],
        "auth_login_url": "https://lms.example.org/auth",
        "jwks_url": "https://lms.example.org/jwks",
    }


def _lti_platform(sweep: Sweep, org: Org) -> str:
    fields = lti.PlatformFields(**_lti_fields(org))
    return lti.register_platform(sweep.world.platform, org.owner, org_id=org.id, fields=fields).id


def _subscription(sweep: Sweep, org: Org) -> str:
    fields = webhooks_out.SubscriptionFields(url="https://hooks.example.org/probe")
    made = webhooks_out.create_subscription(
        sweep.world.platform, org.owner, org_id=org.id, fields=fields
    )
    return made.subscription.id


def _webhook_delivery(sweep: Sweep, org: Org) -> str:
    subscription = _subscription(sweep, org)
    event = {"event": "credential.issued", "org_id": org.id, "probe": org.next()}
    webhooks_out.on_event(sweep.world.platform, event)
    found = webhooks_out.list_deliveries(
        sweep.world.platform, org.owner, org_id=org.id, subscription_id=subscription
    )
    return found[0].id


def _other(sweep: Sweep, org: Org) -> Org:
    return next(o for o in sweep.orgs.values() if o.id != org.id)


def _published(sweep: Sweep, org: Org) -> str:
    made = catalog.create_achievement(
        sweep.world.platform, org.owner, org_id=org.id, fields=ACHIEVEMENT
    )
    catalog.publish_achievement(
        sweep.world.platform, org.owner, org_id=org.id, achievement_id=made.id
    )
    return made.id


def _incoming_request(sweep: Sweep, org: Org) -> str:
    """A pending request the other organisation sent to this one."""
    other = _other(sweep, org)
    return endorsements.request_endorsement(
        sweep.world.platform,
        other.owner,
        org_id=other.id,
        endorser_org_id=org.id,
        achievement_id=_published(sweep, other),
    ).id


def _outgoing_request(sweep: Sweep, org: Org) -> str:
    """A pending request this organisation sent to the other one."""
    return endorsements.request_endorsement(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        endorser_org_id=_other(sweep, org).id,
        achievement_id=_published(sweep, org),
    ).id


def _endorsement(sweep: Sweep, org: Org) -> str:
    """An endorsement this organisation issued (of the other one's profile)."""
    return endorsements.issue_endorsement(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        subject_org_id=_other(sweep, org).id,
        achievement_id=None,
        comment="Isolation probe.",
    ).id


def _registry_document(org: Org) -> dict[str, Any]:
    """A fresh registry signed by a fresh did:key (each import is a new registry)."""
    key = generate_key("Ed25519")
    multibase = key.public_key.to_multibase()
    signer = Signer(key=key, verification_method=f"{create_did_key(multibase)}#{multibase}")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    unsigned = build_registry(
        registry_id=f"https://registry.example.org/{org.id}/{org.next()}.json",
        name="Probe registry",
        publisher=signer.controller,
        publisher_name=None,
        version=1,
        issued=now,
        entries=[],
    )
    return data_integrity.sign(unsigned, signer=signer, cryptosuite="eddsa-jcs-2022", created=now)


def _trust_registry(sweep: Sweep, org: Org) -> str:
    return trust.import_registry(
        sweep.world.platform, org.owner, org_id=org.id, document=_registry_document(org)
    ).id


def _pathway(sweep: Sweep, org: Org) -> str:
    """A published pathway over the organisation's published achievement."""
    platform = sweep.world.platform
    stacked = catalog.create_achievement(
        platform, org.owner, org_id=org.id, fields={**ACHIEVEMENT, "name": f"Path {org.next()}"}
    )
    catalog.publish_achievement(platform, org.owner, org_id=org.id, achievement_id=stacked.id)
    made = pathways.create_pathway(
        platform,
        org.owner,
        org_id=org.id,
        achievement_id=stacked.id,
        requirement={
            "kind": "all",
            "children": [{"kind": "achievement", "achievement_id": org.published_achievement_id}],
        },
    )
    pathways.publish_pathway(platform, org.owner, org_id=org.id, pathway_id=made.id)
    return made.id


def _pathway_learner(sweep: Sweep, org: Org) -> str:
    """An account holding a credential of the organisation (one of its learners)."""
    email = sweep.new_user(org)
    credentials.issue_credential(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=org.published_achievement_id,
        recipient=email,
        notify=False,
    )
    with sweep.world.platform.reading() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email))
    assert user_id is not None
    return user_id


def _pathway_award(sweep: Sweep, org: Org) -> str:
    pathway_id = _pathway(sweep, org)
    _pathway_learner(sweep, org)
    awards = pathways.award_eligible(
        sweep.world.platform, org.owner, org_id=org.id, pathway_id=pathway_id
    )
    return awards[0].id


def _my_pathway(sweep: Sweep, org: Org) -> str:
    """A pathway the organisation's owner started (holds its constituent)."""
    with sweep.world.platform.reading() as session:
        email = session.scalar(select(UserRow.email).where(UserRow.id == org.owner_id))
    assert email is not None
    credentials.issue_credential(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=org.published_achievement_id,
        recipient=email,
        notify=False,
    )
    return _pathway(sweep, org)


def _workforce_token(sweep: Sweep, email: str) -> str:
    """The token of the invitation email last sent to ``email``."""
    with sweep.world.platform.reading() as session:
        texts = [
            p["text"]
            for p in session.scalars(
                select(OutboxRow.payload).where(OutboxRow.topic == "email.workforce_invitation")
            )
            if p["to"] == email
        ]
    return texts[-1].split("/workforce/invitations/")[1].split()[0]


def _invitation(sweep: Sweep, org: Org) -> str:
    from merito.services import workforce

    return workforce.invite_employee(
        sweep.world.platform, org.owner, org_id=org.id, email=sweep.new_user(org)
    ).id


def _link_employee(sweep: Sweep, org: Org, email: str) -> str:
    from merito.services import workforce

    platform = sweep.world.platform
    workforce.invite_employee(platform, org.owner, org_id=org.id, email=email)
    with platform.reading() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email))
    assert user_id is not None
    person = Actor(kind="user", id=user_id, user_id=user_id)
    return workforce.accept_invitation(platform, person, token=_workforce_token(sweep, email)).id


def _employee(sweep: Sweep, org: Org) -> str:
    """A fresh account, linked to the organisation as an employee."""
    return _link_employee(sweep, org, sweep.new_user(org))


def _sponsorship(sweep: Sweep, org: Org) -> str:
    from merito.services import workforce

    return workforce.create_sponsorship(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=org.published_achievement_id,
        vouchers=1,
    ).id


def _employment(sweep: Sweep, org: Org) -> str:
    """The organisation's owner, linked to it as an employee (again after leaving)."""
    from merito.services import workforce

    platform = sweep.world.platform
    for job in workforce.my_employments(platform, org.owner):
        if job.org_id == org.id:
            return job.id
    with platform.reading() as session:
        email = session.scalar(select(UserRow.email).where(UserRow.id == org.owner_id))
    assert email is not None
    return _link_employee(sweep, org, email)


EVIDENCE_PDF: Final = b"%PDF-1.4\n% isolation probe\n"
#: (scope, org id) -> (application id, evidence id) the factories below made last, so the
#: evidence of a route's path belongs to the application of the same path
_LATEST_APPLICATION: dict[tuple[str, str], tuple[str, str]] = {}


def _user_actor(sweep: Sweep, email: str) -> Actor:
    with sweep.world.platform.reading() as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email))
    assert user_id is not None
    return Actor(kind="user", id=user_id, user_id=user_id)


def _open_achievement(sweep: Sweep, org: Org, *, peer_review: bool = False) -> str:
    """A fresh published achievement open for application (one live application per learner
    and achievement: each factory call gets its own)."""
    achievement_id = _published(sweep, org)
    assessment.configure(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=achievement_id,
        fields=assessment.ConfigFields(open=True, peer_review=peer_review),
    )
    return achievement_id


def _apply(
    sweep: Sweep, org: Org, learner: Actor, achievement_id: str, *, submit: bool
) -> tuple[str, str]:
    platform = sweep.world.platform
    made = assessment.create_application(platform, learner, achievement_id=achievement_id)
    evidence = assessment.add_evidence(
        platform,
        learner,
        application_id=made.id,
        kind="file",
        name="probe.pdf",
        data=EVIDENCE_PDF,
        media_type="application/pdf",
    )
    if submit:
        assessment.submit(platform, learner, application_id=made.id)
    return made.id, evidence.id


def _application(sweep: Sweep, org: Org) -> str:
    """A learner's submitted application (with a file) for one of the organisation's
    achievements."""
    learner = _user_actor(sweep, sweep.new_user(org))
    made = _apply(sweep, org, learner, _open_achievement(sweep, org), submit=True)
    _LATEST_APPLICATION[("org", org.id)] = made
    return made[0]


def _application_evidence(sweep: Sweep, org: Org) -> str:
    return _LATEST_APPLICATION[("org", org.id)][1]


def _claim_code(sweep: Sweep, org: Org) -> str:
    return claim_codes.create_claim_code(
        sweep.world.platform, org.owner, org_id=org.id, achievement_id=_published(sweep, org)
    ).id


#: path parameter -> a factory making a real resource of that kind in an organisation
RESOURCES: Final[dict[str, Factory]] = {
    "application_id": _application,
    "evidence_id": _application_evidence,
    "code_id": _claim_code,
    "pathway_id": _pathway,
    "learner_id": _pathway_learner,
    "award_id": _pathway_award,
    "endpoint_id": _endpoint,
    "rule_id": _rule,
    "xapi_client_id": _xapi_client,
    "lti_platform_id": _lti_platform,
    "subscription_id": _subscription,
    "webhook_delivery_id": _webhook_delivery,
    "skill_id": _org_skill,
    "role_id": _role,
    "candidate_id": _candidate,
    "search_id": _saved_search,
    "user_id": _member,
    "key_id": _key,
    "achievement_id": _achievement,
    "credential_id": _credential,
    "delivery_id": _delivery,
    "invitation_id": _invitation,
    "employee_id": _employee,
    "sponsorship_id": _sponsorship,
    "incoming_id": _incoming_request,
    "request_id": _outgoing_request,
    "endorsement_id": _endorsement,
    "registry_id": _trust_registry,
}

REDIRECT: Final = "https://wallet.example.org/callback"


def _grant(sweep: Sweep, org: Org) -> str:
    """An OAuth grant of the organisation's owner to a wallet (consent + code + PKCE)."""
    platform = sweep.world.platform
    client = oauth.register_client(
        platform,
        {
            "client_name": "Isolation Wallet",
            "client_uri": "https://wallet.example.org/",
            "logo_uri": "https://wallet.example.org/logo.png",
            "tos_uri": "https://wallet.example.org/terms",
            "policy_uri": "https://wallet.example.org/privacy",
            "software_id": "c88b6ed8-269e-448e-99be-7e2ff47167d1",
            "software_version": "1.0",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": oauth.SCOPE_CREDENTIAL_READONLY,
        },
    )
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    request = oauth.check_authorization_request(
        platform,
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": REDIRECT,
            "scope": oauth.SCOPE_CREDENTIAL_READONLY,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    prompt = oauth.prepare_consent(platform, org.owner, request)
    url = oauth.decide_consent(
        platform, org.owner, consent_token=prompt.consent_token, approve=True
    )
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["code"]
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    oauth.exchange_token(
        platform,
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        authorization=f"Basic {basic}",
    )
    grants = oauth.list_user_grants(platform, org.owner)
    return next(g.grant_id for g in grants if g.client_id == client.client_id)


def _ranked_role(sweep: Sweep, org: Org) -> str:
    """A role the organisation's owner was ranked for (they hold a credential with its skill)."""
    platform = sweep.world.platform
    aligned = catalog.create_achievement(
        platform,
        org.owner,
        org_id=org.id,
        fields={
            **ACHIEVEMENT,
            "alignment": [{"targetName": "probe", "targetUrl": PROBE_SKILL}],
        },
    )
    catalog.publish_achievement(platform, org.owner, org_id=org.id, achievement_id=aligned.id)
    with platform.reading() as session:
        email = session.scalar(select(UserRow.email).where(UserRow.id == org.owner_id))
    assert email is not None
    credentials.issue_credential(
        platform,
        org.owner,
        org_id=org.id,
        achievement_id=aligned.id,
        recipient=email,
        notify=False,
    )
    hiring.set_discoverability(platform, org.owner, public=False, org_ids=[org.id])
    role_id = _role(sweep, org)
    ranking = hiring.rank_candidates(platform, org.owner, org_id=org.id, role_id=role_id)
    assert [r.user_id for r in ranking.results] == [org.owner_id]
    return role_id


def _wallet_item(sweep: Sweep, org: Org) -> str:
    """A credential issued for real, in the owner's wallet (as a claim stores it)."""
    record = credentials.issue_credential(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=org.published_achievement_id,
        recipient=f"wallet-{org.next()}@example.org",
        notify=False,
    )
    item_id = str(uuid.uuid4())
    with sweep.world.platform.transaction() as session:
        session.add(
            WalletItemRow(
                id=item_id,
                user_id=org.owner_id,
                credential_row_id=record.id,
                source="claimed",
                format="ob3",
                document=record.document,
                content_hash=hashlib.sha256(record.credential_id.encode()).hexdigest(),
                credential_id=record.credential_id,
                name="Tenant isolation",
                verdict="valid",
                visibility="private",
            )
        )
    return item_id


def _collection(sweep: Sweep, org: Org) -> str:
    made = sharing.create_collection(
        sweep.world.platform, org.owner, name=f"Collection {org.next()}"
    )
    return made.id


def _share_link(sweep: Sweep, org: Org) -> str:
    link = sharing.create_share_link(
        sweep.world.platform, org.owner, target="item", item_id=_wallet_item(sweep, org)
    )
    return link.id


def _my_application(sweep: Sweep, org: Org) -> str:
    """The owner's own draft application (with a file), as a learner."""
    made = _apply(sweep, org, org.owner, _open_achievement(sweep, org), submit=False)
    _LATEST_APPLICATION[("me", org.id)] = made
    return made[0]


def _my_evidence(sweep: Sweep, org: Org) -> str:
    return _LATEST_APPLICATION[("me", org.id)][1]


def _peer_application(sweep: Sweep, org: Org) -> str:
    """Someone else's submitted application for an achievement with peer review, which the
    owner holds (a credential issued to their address)."""
    achievement_id = _open_achievement(sweep, org, peer_review=True)
    with sweep.world.platform.reading() as session:
        email = session.scalar(select(UserRow.email).where(UserRow.id == org.owner_id))
    assert email is not None
    credentials.issue_credential(
        sweep.world.platform,
        org.owner,
        org_id=org.id,
        achievement_id=achievement_id,
        recipient=email,
        notify=False,
    )
    learner = _user_actor(sweep, sweep.new_user(org))
    return _apply(sweep, org, learner, achievement_id, submit=True)[0]


#: user-scoped path parameter -> a factory making one for the organisation's owner
USER_RESOURCES: Final[dict[str, Factory]] = {
    "application_id": _my_application,
    "evidence_id": _my_evidence,
    "peer_application_id": _peer_application,
    "pathway_id": _my_pathway,
    "grant_id": _grant,
    "role_id": _ranked_role,
    "item_id": _wallet_item,
    "collection_id": _collection,
    "link_id": _share_link,
    "employment_id": _employment,
}
USER_PREFIX: Final = "/api/v1/me/"

Request = Callable[[Sweep, Org], dict[str, Any]]


def _no_body(sweep: Sweep, org: Org) -> dict[str, Any]:
    return {}


def _json(body: Any) -> Request:
    return lambda sweep, org: {"json": body}


def _issue(sweep: Sweep, org: Org) -> dict[str, Any]:
    return {
        "json": {
            "achievement_id": org.published_achievement_id,
            "recipient": f"learner-{org.next()}@example.org",
            "notify": False,
        }
    }


def _bulk(sweep: Sweep, org: Org) -> dict[str, Any]:
    body = (
        f"recipient,achievement_id\nbulk-{org.next()}@example.org,{org.published_achievement_id}\n"
    )
    return {"content": body, "headers": {"Content-Type": "text/csv"}}


def _add_member(sweep: Sweep, org: Org) -> dict[str, Any]:
    return {"json": {"email": sweep.new_user(org), "role": "viewer"}}


#: (method, path) -> the request's body (httpx keyword arguments), for routes that take one
REQUESTS: Final[dict[tuple[str, str], Request]] = {
    ("POST", "/api/v1/orgs/{org_id}/pathways"): lambda s, o: {
        "json": {
            "achievement_id": _achievement(s, o),
            "requirement": {
                "kind": "all",
                "children": [{"kind": "achievement", "achievement_id": o.published_achievement_id}],
            },
        }
    },
    ("PATCH", "/api/v1/orgs/{org_id}/pathways/{pathway_id}"): _json(
        {"revocation_policy": "revoke"}
    ),
    ("PATCH", "/api/v1/orgs/{org_id}"): _json({"name": "Renamed"}),
    ("POST", "/api/v1/orgs/{org_id}/members"): _add_member,
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): _json({"role": "issuer_staff"}),
    ("POST", "/api/v1/orgs/{org_id}/api-keys"): _json({"name": "k", "scopes": ["org:read"]}),
    ("POST", "/api/v1/orgs/{org_id}/credentials"): _issue,
    ("POST", "/api/v1/orgs/{org_id}/credentials/bulk"): _bulk,
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/revoke"): _json(
        {"reason": "isolation probe"}
    ),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/suspend"): _json({}),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/unsuspend"): _json({}),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/reissue"): _json({}),
    ("PUT", "/api/v1/orgs/{org_id}/profile"): _json({"url": "https://example.org"}),
    ("POST", "/api/v1/orgs/{org_id}/keys"): _json({"algorithm": "P-256"}),
    ("POST", "/api/v1/orgs/{org_id}/keys/rotate"): _json({}),
    ("POST", "/api/v1/orgs/{org_id}/achievements"): _json(ACHIEVEMENT),
    ("PATCH", "/api/v1/orgs/{org_id}/achievements/{achievement_id}"): _json(
        {"description": "Edited."}
    ),
    ("PUT", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/image"): lambda s, o: {
        "content": _png(),
        "headers": {"Content-Type": "image/png"},
    },
    ("PATCH", "/api/v1/me/wallet/items/{item_id}"): _json({"visibility": "public"}),
    ("POST", "/api/v1/orgs/{org_id}/oauth-clients"): _json(
        {"client_name": "probe", "scopes": ["org:read"]}
    ),
    ("POST", "/api/v1/orgs/{org_id}/roles"): _json(
        {"title": "Probe", "requirements": [{"skill": PROBE_SKILL}]}
    ),
    ("PATCH", "/api/v1/orgs/{org_id}/roles/{role_id}"): _json({"description": "Edited."}),
    ("POST", "/api/v1/orgs/{org_id}/roles/{role_id}/ranking"): _json({}),
    ("PATCH", "/api/v1/me/collections/{collection_id}"): _json({"name": "Renamed"}),
    ("POST", "/api/v1/orgs/{org_id}/skills"): _json({"preferred_label": "Probe"}),
    ("PATCH", "/api/v1/orgs/{org_id}/skills/{skill_id}"): _json({"description": "Edited."}),
    ("PUT", "/api/v1/orgs/{org_id}/skills/{skill_id}/mappings"): _json({"mappings": []}),
    ("POST", "/api/v1/orgs/{org_id}/workforce/invitations"): lambda s, o: {
        "json": {"email": s.new_user(o), "team": "probe"}
    },
    ("PATCH", "/api/v1/orgs/{org_id}/workforce/employees/{employee_id}"): _json({"team": "probe"}),
    ("POST", "/api/v1/orgs/{org_id}/workforce/sponsorships"): lambda s, o: {
        "json": {"achievement_id": o.published_achievement_id, "vouchers": 1}
    },
    ("PUT", "/api/v1/me/employers/{employment_id}/consent"): _json({"share_all": True}),
    ("POST", "/api/v1/orgs/{org_id}/saved-searches"): lambda s, o: {
        "json": {"name": "probe", "role_id": _role(s, o)}
    },
    ("POST", "/api/v1/orgs/{org_id}/integrations/webhook-endpoints"): _json({"name": "p"}),
    ("PATCH", "/api/v1/orgs/{org_id}/integrations/webhook-endpoints/{endpoint_id}"): _json(
        {"enabled": True}
    ),
    ("POST", "/api/v1/orgs/{org_id}/integrations/rules"): lambda s, o: {
        "json": {"source": "webhook", "trigger": "p", "achievement_id": o.published_achievement_id}
    },
    ("POST", "/api/v1/orgs/{org_id}/integrations/xapi-clients"): _json({"name": "p"}),
    ("PATCH", "/api/v1/orgs/{org_id}/integrations/xapi-clients/{xapi_client_id}"): _json(
        {"enabled": True}
    ),
    ("POST", "/api/v1/orgs/{org_id}/integrations/lti-platforms"): lambda s, o: {
        "json": _lti_fields(o)
    },
    ("PATCH", "/api/v1/orgs/{org_id}/integrations/lti-platforms/{lti_platform_id}"): _json(
        {"name": "Renamed"}
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhooks"): _json({"url": "https://hooks.example.org/p"}),
    ("PATCH", "/api/v1/orgs/{org_id}/webhooks/{subscription_id}"): _json(
        {"description": "Edited."}
    ),
    ("POST", "/api/v1/orgs/{org_id}/endorsement-requests"): lambda s, o: {
        "json": {"endorser_org_id": _other(s, o).id, "achievement_id": _published(s, o)}
    },
    (
        "POST",
        "/api/v1/orgs/{org_id}/endorsement-requests/incoming/{incoming_id}/accept",
    ): _json({"comment": "Probe."}),
    (
        "POST",
        "/api/v1/orgs/{org_id}/endorsement-requests/incoming/{incoming_id}/decline",
    ): _json({"reason": "Probe."}),
    ("POST", "/api/v1/orgs/{org_id}/endorsements"): lambda s, o: {
        "json": {"subject_org_id": _other(s, o).id, "comment": "Probe."}
    },
    ("POST", "/api/v1/orgs/{org_id}/endorsements/{endorsement_id}/revoke"): _json({}),
    ("POST", "/api/v1/orgs/{org_id}/trust-registries"): lambda s, o: {
        "json": {"document": _registry_document(o)}
    },
    ("POST", "/api/v1/orgs/{org_id}/trust-registries/{registry_id}/refresh"): lambda s, o: {
        "json": {"document": _registry_document(o)}
    },
    ("POST", "/api/v1/orgs/{org_id}/verify"): _json({"credential": {"probe": True}}),
    ("PUT", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/assessment"): _json(
        {"sla_hours": 24}
    ),
    ("POST", "/api/v1/orgs/{org_id}/applications/{application_id}/assignments"): lambda s, o: {
        "json": {"assessor_user_id": o.owner_id}
    },
    ("POST", "/api/v1/orgs/{org_id}/applications/{application_id}/reviews"): _json(
        {"decision": "award"}
    ),
    ("POST", "/api/v1/orgs/{org_id}/claim-codes"): lambda s, o: {
        "json": {"achievement_id": o.published_achievement_id}
    },
    ("PATCH", "/api/v1/me/applications/{application_id}"): _json({"narrative": "Edited."}),
    ("POST", "/api/v1/me/applications/{application_id}/evidence"): _json(
        {"kind": "text", "name": "Reflection", "narrative": "Probe."}
    ),
    ("POST", "/api/v1/me/applications/{application_id}/evidence/file"): lambda s, o: {
        "content": EVIDENCE_PDF,
        "headers": {"Content-Type": "application/pdf"},
        "params": {"name": "probe.pdf"},
    },
    ("POST", "/api/v1/me/peer-reviews/{peer_application_id}"): _json({"decision": "award"}),
}


# --- classification (no database) -----------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    params: tuple[str, ...]
    takes_body: bool | None  # None: not in the OpenAPI document (include_in_schema=False)


def _params(path: str) -> tuple[str, ...]:
    return tuple(re.findall(r"{(\w+)(?::[^}]*)?}", path))


def operations(app: FastAPI) -> list[Operation]:
    """Every (method, path) of the app that has path parameters."""
    document = app.openapi().get("paths", {})
    out: list[Operation] = []
    for route in iter_route_contexts(app.routes):
        path = route.path
        if not path or not _params(path):
            continue
        for method in sorted(set(route.methods or ()) & set(METHODS)):
            operation = document.get(path, {}).get(method.lower())
            takes_body = None if operation is None else "requestBody" in operation
            out.append(Operation(method, path, _params(path), takes_body))
    return out


def scope_of(op: Operation) -> str:
    """``org`` (tenant-scoped), ``user`` (the caller's own), or ``other``."""
    if TENANT_PARAM in op.params:
        return "org"
    if op.path.startswith(USER_PREFIX):
        return "user"
    return "other"


def _factories(op: Operation) -> Mapping[str, Factory]:
    return RESOURCES if scope_of(op) == "org" else USER_RESOURCES


def classification_problems(app: FastAPI) -> list[str]:
    problems: list[str] = []
    seen_public: set[str] = set()
    for op in operations(app):
        scope = scope_of(op)
        if scope == "other":
            if op.path in PUBLIC_ROUTES:
                seen_public.add(op.path)
                continue
            problems.append(
                f"{op.method} {op.path}: a route with path parameters but no {{{TENANT_PARAM}}}: "
                f"add it to PUBLIC_ROUTES with the reason it is public, or put it under "
                f"/orgs/{{{TENANT_PARAM}}}/... (or {USER_PREFIX}... for a user's own things)"
            )
            continue
        table = "RESOURCES" if scope == "org" else "USER_RESOURCES"
        for param in op.params:
            if param != TENANT_PARAM and param not in _factories(op):
                problems.append(
                    f"{op.method} {op.path}: no factory for the path parameter {{{param}}}: add "
                    f"{table}[{param!r}] making a real one for a given organisation/owner"
                )
        needs_sample = op.takes_body or (
            op.takes_body is None and op.method not in ("GET", "DELETE")
        )
        if needs_sample and (op.method, op.path) not in REQUESTS:
            problems.append(
                f"{op.method} {op.path}: takes a request body (or is not in the OpenAPI "
                f"document): add a valid sample to REQUESTS[({op.method!r}, {op.path!r})]"
            )
    for path in sorted(set(PUBLIC_ROUTES) - seen_public):
        problems.append(f"PUBLIC_ROUTES lists {path}, which the app no longer has: remove it")
    return problems


def test_every_route_with_path_parameters_is_classified() -> None:
    problems = classification_problems(create_app(settings=Settings()))
    assert not problems, "\n".join(problems)


# --- the sweep -------------------------------------------------------------------------------


def _is_request_validation(response: Any) -> bool:
    if response.status_code != 422:
        return False
    try:
        return bool(response.json().get("type") == "urn:merito:problem:invalid-request")
    except ValueError:
        return False


def sweep_problems(
    sweep: Sweep, app: FastAPI, only: Callable[[Operation], bool] = lambda op: True
) -> list[str]:
    """Sends every tenant-scoped operation to B as A's callers, with A-side controls."""
    a, b = sweep.orgs["a"], sweep.orgs["b"]
    shared_b: dict[str, str] = {}  # B's resources are never changed, so made once
    problems: list[str] = []
    for op in operations(app):
        scope = scope_of(op)
        if scope == "other" or not only(op):
            continue
        factories = _factories(op)
        if any(p != TENANT_PARAM and p not in factories for p in op.params):
            problems.append(f"{op.method} {op.path}: cannot be exercised (see classification)")
            continue
        request = REQUESTS.get((op.method, op.path), _no_body)
        # a user's own things are reached with a session; API keys belong to no user
        callers = ("session", "api_key") if scope == "org" else ("session",)
        for caller_kind in callers:
            caller: Session | str = a.session if caller_kind == "session" else a.api_key
            b_params = {TENANT_PARAM: b.id}
            for param in op.params:
                if param != TENANT_PARAM:
                    if param not in shared_b:
                        shared_b[param] = factories[param](sweep, b)
                    b_params[param] = shared_b[param]
            url = op.path.format(**b_params)
            response = sweep.world.call(op.method, url, auth=caller, **request(sweep, b))
            if response.status_code != 404 or not response.headers.get(
                "content-type", ""
            ).startswith("application/problem+json"):
                problems.append(
                    f"{op.method} {op.path} as A's {caller_kind} on B's data: expected a 404 "
                    f"problem, got {response.status_code}: {response.text[:200]}"
                )
                continue
            a_params = {TENANT_PARAM: a.id}
            for param in op.params:
                if param != TENANT_PARAM:
                    a_params[param] = factories[param](sweep, a)
            control = sweep.world.call(
                op.method, op.path.format(**a_params), auth=caller, **request(sweep, a)
            )
            if control.status_code in (401, 404) or _is_request_validation(control):
                problems.append(
                    f"{op.method} {op.path} as A's {caller_kind} on A's own data (control): got "
                    f"{control.status_code}, so B's 404 proves nothing; fix the sample in "
                    f"REQUESTS or the factory in RESOURCES: {control.text[:200]}"
                )
    with sweep.world.platform.reading() as session:
        intruders = {
            f"user:{a.owner_id}",
            *(
                row
                for row in session.scalars(
                    select(AuditLogRow.actor).where(AuditLogRow.org_id == a.id)
                )
                if row.startswith("api_key:")
            ),
        }
        leaked = session.execute(
            select(AuditLogRow.action, AuditLogRow.actor).where(
                AuditLogRow.org_id == b.id, AuditLogRow.actor.in_(intruders)
            )
        ).all()
    problems.extend(f"B's audit log records {action} by A's {actor}" for action, actor in leaked)
    return problems


@pytest.fixture
def sweep(database_url: str, tmp_path: Path) -> Iterator[Sweep]:
    with accounts_world(database_url, tmp_path) as world:
        built = Sweep(world=world)
        built.add_org("a")
        built.add_org("b")
        yield built


def test_no_route_reaches_another_organisations_data(sweep: Sweep) -> None:
    app = sweep.world.client.app
    exercised = [op for op in operations(app) if scope_of(op) != "other"]
    assert len(exercised) >= 30  # the app's tenant-scoped operations, as of this writing
    problems = sweep_problems(sweep, app)
    assert not problems, "\n".join(problems)


# --- the harness itself fails on a leak ----------------------------------------------------


def _leaky_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/orgs/{org_id}/leaky")
    def leaky(org_id: str) -> dict[str, str]:
        return {"org_id": org_id}  # no authentication, no tenant check

    @router.get("/api/v1/widgets/{widget_id}")
    def widget(widget_id: str) -> dict[str, str]:
        return {"widget_id": widget_id}

    @router.get("/api/v1/orgs/{org_id}/gadgets/{gadget_id}")
    def gadget(org_id: str, gadget_id: str) -> dict[str, str]:
        return {"gadget_id": gadget_id}

    return router


def test_the_harness_reports_leaks_and_unknown_routes(sweep: Sweep) -> None:
    app = sweep.world.client.app
    app.include_router(_leaky_router())
    problems = classification_problems(app)
    assert any("/api/v1/widgets/{widget_id}" in p and "PUBLIC_ROUTES" in p for p in problems)
    assert any("{gadget_id}" in p and "RESOURCES" in p for p in problems)
    swept = sweep_problems(sweep, app, only=lambda op: "/leaky" in op.path or "/gadgets" in op.path)
    assert any(
        p.startswith("GET /api/v1/orgs/{org_id}/leaky as A's session") and "got 200" in p
        for p in swept
    ), swept
    assert any("gadgets" in p and "cannot be exercised" in p for p in swept)
